"""Training-seed replicates: an experiment trained once per seed, its metrics averaged over the seeds, and intervals
that cover both kinds of uncertainty with the nominal coverage for as few as 2 seeds.

An experiment's estimate is the mean over its seeds of each seed's metric on the shared test set. Any quantity the
study reports is a linear contrast of such estimates, L = sum_e c_e * estimate_e: an experiment's mean (one term),
a change between two experiments (+1, -1), a least-squares slope over gamma, a difference of slopes. Its interval
combines two independent parts by the method of variance estimates recovery (MOVER, Zou & Donner 2008, Stat Med
27:1693; docs/statistics.md):
  1. test papers: the paired percentile bootstrap of L with every experiment's seeds held fixed (paper indices
     metrics.bootstrap_indices, the same for every seed of every experiment, so comparisons stay paired);
  2. training seeds: the between-seed variance of L, s^2 / n per experiment (or of the per-seed contrast within a
     block of experiments that share a training set and seeds, when paired), with a Student t quantile at the
     Welch-Satterthwaite degrees of freedom of those terms: with 3 seeds and one experiment, t(2) = 4.30, not 1.96.
  lower = L - sqrt((L - test_lower)^2 + (t * se_seed)^2), upper likewise.
With one seed per experiment the seed part is not estimated and the interval is exactly the paired test-set
bootstrap. The seed part deliberately keeps the seed-by-paper noise that the test-set part also holds (subtracting
it undercovers with 3 seeds: docs/statistics.md), so the interval errs on the wide side.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from wlf.evaluation import metrics

# What each interval of a mean over seeds is made of, for the metrics files.
METHOD = (
    "MOVER: the paired percentile bootstrap of test papers (seeds held fixed) combined with a Student t interval of "
    "the between-seed variance (Welch-Satterthwaite degrees of freedom); one seed: the test-set bootstrap alone"
)


@dataclass(frozen=True)
class Estimate:
    """One experiment's value of one metric: the mean over its seeds, each seed's value and each seed's value on
    every test-paper resample; seeds and block (the training set) say which runs of other experiments share a
    seed's data order and initialisation."""

    point: float
    seed_points: tuple[float, ...]
    seed_resampled: np.ndarray  # (seeds, resamples)
    seeds: tuple = ()
    block: str | None = None

    @property
    def n_seeds(self) -> int:
        return len(self.seed_points)

    @property
    def resampled(self) -> np.ndarray:
        """Return the mean over the seeds on each test-paper resample: the test-set part of the uncertainty."""
        if not self.n_seeds:  # no seed has a value (a precision without an Accept): nothing to resample
            return np.full(self.seed_resampled.shape[1], np.nan)
        return self.seed_resampled.mean(axis=0)

    @property
    def seed_sd(self) -> float | None:
        return seed_sd(self.seed_points)

    @property
    def variance(self) -> dict:
        return variance_split(self.seed_points, self.seed_resampled)


def make_estimate(
    seed_points: Sequence[float | None], seed_resampled: np.ndarray, seeds: Sequence = (), block: str | None = None
) -> Estimate:
    """Return the Estimate over the seeds whose value is defined (a precision with no Accept has none)."""
    seed_resampled = np.asarray(seed_resampled, dtype=float).reshape(len(seed_points), -1)
    keep = [i for i, value in enumerate(seed_points) if value is not None and np.isfinite(value)]
    points = tuple(float(seed_points[i]) for i in keep)
    labels = tuple(seeds[i] for i in keep) if len(seeds) == len(seed_points) else ()
    return Estimate(
        point=float(np.mean(points)) if points else float("nan"),
        seed_points=points,
        seed_resampled=seed_resampled[keep] if keep else seed_resampled[:0],
        seeds=labels,
        block=block,
    )


Terms = Sequence[tuple[float, Estimate]]


def _seed_groups(terms: Terms, pair: bool) -> list[list[tuple[float, Estimate]]]:
    """Return the terms grouped so that each group's seed part is estimated on its own: with pair, the terms of one
    training set (block) with the same seeds form one group (seed s is one draw for all of them), else one each."""
    groups: dict[object, list[tuple[float, Estimate]]] = {}
    for position, (coefficient, estimate) in enumerate(terms):
        pairable = pair and estimate.block is not None and estimate.n_seeds >= 2 and estimate.seeds
        key = (estimate.block, estimate.seeds) if pairable else position
        groups.setdefault(key, []).append((coefficient, estimate))
    return list(groups.values())


def seed_unit_variances(terms: Terms, pair: bool = False) -> list[tuple[float, int]]:
    """Return (s^2, n) of each seed group of the contrast: the sample variance of its per-seed contrast
    sum_e c_e * value_e,s over its n seeds (groups with one seed have none and are left out)."""
    units = []
    for group in _seed_groups(terms, pair):
        n = min(estimate.n_seeds for _, estimate in group)
        if n >= 2:
            per_seed = sum(c * np.asarray(e.seed_points[:n]) for c, e in group)
            units.append((float(np.var(per_seed, ddof=1)), n))
    return units


def satterthwaite(variances: Sequence[float], dofs: Sequence[float]) -> float:
    """Return the Welch-Satterthwaite degrees of freedom of a sum of independent variance estimates."""
    total = float(sum(variances))
    denominator = float(sum(v * v / d for v, d in zip(variances, dofs, strict=True)))
    return total * total / denominator if denominator > 0 else float("inf")


def seed_part(terms: Terms, pair: bool = False) -> tuple[float | None, float]:
    """Return (the between-seed variance of the contrast, its Welch-Satterthwaite degrees of freedom).

    A group's per-seed contrast has sample variance s^2 with n - 1 degrees of freedom and contributes s^2 / n. The
    variance is None when no group has two seeds (not estimated).
    """
    units = seed_unit_variances(terms, pair)
    if not units:
        return None, float("inf")
    variances = [unit / n for unit, n in units]
    return float(sum(variances)), satterthwaite(variances, [n - 1 for _, n in units])


def contrast_bounds(terms: Terms, bounds: tuple[float, float] | None) -> tuple[float, float] | None:
    """Return the range of sum_e c_e * value_e when every value lies within bounds."""
    if bounds is None:
        return None
    lo = sum(min(c * bounds[0], c * bounds[1]) for c, _ in terms)
    hi = sum(max(c * bounds[0], c * bounds[1]) for c, _ in terms)
    return lo, hi


def contrast(
    terms: Terms, confidence: float, pair: bool = False, bounds: tuple[float, float] | None = None
) -> dict:
    """Return the contrast sum_e c_e * estimate_e with its MOVER interval (see the module docstring).

    bounds: the range of one estimate's values (the interval is clipped to the contrast's range).
    """
    point = float(sum(c * e.point for c, e in terms))
    test_ci = metrics.percentile_interval(sum(c * e.resampled for c, e in terms), confidence)
    variance, dof = seed_part(terms, pair)
    result = {"value": metrics.none_if_nan(point), "ci": None, "seed_variance": variance, "seed_df": None}
    if test_ci is None or not np.isfinite(point):
        return result
    if variance is None:
        result["ci"] = test_ci
        return result
    half = float(special.stdtrit(dof, 0.5 + confidence / 2.0)) * np.sqrt(variance) if variance > 0 else 0.0
    ci = [point - float(np.hypot(point - test_ci[0], half)), point + float(np.hypot(test_ci[1] - point, half))]
    limits = contrast_bounds(terms, bounds)
    if limits is not None:
        ci = [float(max(ci[0], limits[0])), float(min(ci[1], limits[1]))]
    result.update(ci=ci, seed_df=None if np.isinf(dof) else float(dof))
    return result


def difference(
    later: Estimate,
    earlier: Estimate,
    confidence: float,
    pair: bool = False,
    bounds: tuple[float, float] | None = None,
) -> dict:
    """Return later - earlier with its interval (a contrast of two estimates whose values lie within bounds)."""
    return contrast([(1.0, later), (-1.0, earlier)], confidence, pair, bounds)


def seed_sd(points: Sequence[float | None]) -> float | None:
    """Return the between-seed standard deviation (n - 1 in the denominator), None with fewer than 2 values."""
    values = [value for value in points if value is not None and np.isfinite(value)]
    return float(np.std(values, ddof=1)) if len(values) >= 2 else None


def mean_over_seeds(points: Sequence[float | None]) -> float | None:
    """Return the mean of the seeds' values, None when no seed has one."""
    values = [value for value in points if value is not None and np.isfinite(value)]
    return float(np.mean(values)) if values else None


def variance_split(points: Sequence[float], per_seed_resampled: np.ndarray) -> dict:
    """Return the variance of the seed-mean due to seeds and due to test papers, and which dominates.

    seed: between-seed variance / number of seeds; test_set: the variance of the seed-mean over test-paper
    resamples alone. With one seed the seed part is not estimated.
    """
    per_seed_resampled = np.asarray(per_seed_resampled, dtype=float)
    test_set = float(np.nanvar(per_seed_resampled.mean(axis=0), ddof=1))
    sd = seed_sd(points)
    if sd is None:
        return {"seed": None, "test_set": test_set, "dominant": "seed variance not estimated (one seed)"}
    seed = sd**2 / len(points)
    return {"seed": seed, "test_set": test_set, "dominant": "seed" if seed > test_set else "test set"}


def check_same_papers(predictions: Sequence[metrics.Predictions], names: Sequence[str]) -> None:
    """Raise InputError unless every seed's predictions list the same papers in the same order."""
    from wlf.errors import InputError

    first = predictions[0]
    for other, name in zip(predictions[1:], names[1:], strict=True):
        if other.ids != first.ids or not np.array_equal(other.labels, first.labels):
            raise InputError(f"{name} does not list the same test papers in the same order as {names[0]}")


def evaluate_seeds(
    predictions: Sequence[metrics.Predictions], seeds: Sequence, settings: dict, experiment: str
) -> dict:
    """Return one experiment's metrics over its seeds: per-seed metrics with their test-set intervals, the mean
    over seeds with its interval over seeds and test papers (contrast), the between-seed SD and the variance split
    of the two outcomes."""
    indices = metrics.bootstrap_indices(
        predictions[0].n, settings["bootstrap_resamples"], settings["bootstrap_seed"]
    )
    per_seed, resampled = [], []
    for seed, seed_predictions in zip(seeds, predictions, strict=True):
        values = metrics.resampled_metrics(seed_predictions, indices, settings["ece_bins"])
        resampled.append(values)
        per_seed.append(
            {
                "seed": seed,
                **metrics.point_metrics(seed_predictions, settings["ece_bins"]),
                "ci": {
                    name: metrics.percentile_interval(v, settings["confidence"]) for name, v in values.items()
                },
            }
        )
    points = {name: [entry[name] for entry in per_seed] for name in metrics.SCALAR_METRICS}
    stacked = {name: np.stack([values[name] for values in resampled]) for name in metrics.CI_METRICS}
    return {
        "seeds": list(seeds),
        "n_seeds": len(seeds),
        "n": predictions[0].n,
        "n_invalid": mean_over_seeds([entry["n_invalid"] for entry in per_seed]),
        "has_probabilities": per_seed[0]["has_probabilities"],
        "probability_metrics_absent": per_seed[0]["probability_metrics_absent"],
        **{name: mean_over_seeds(values) for name, values in points.items()},
        "confusion": {
            key: mean_over_seeds([entry["confusion"][key] for entry in per_seed])
            for key in per_seed[0]["confusion"]
        },
        "ci": {
            name: contrast(
                [(1.0, make_estimate(points[name], values, seeds))],
                settings["confidence"],
                bounds=metrics.metric_bounds(name),
            )["ci"]
            for name, values in stacked.items()
        },
        "seed_sd": {name: seed_sd(values) for name, values in points.items()},
        "variance": {
            name: variance_split(points[name], stacked[name])
            for name in ("predicted_acceptance_rate", "mean_p_accept")
            if all(value is not None for value in points[name])
        },
        "per_seed": per_seed,
        "invalid_policy": metrics.INVALID_POLICY,
        "bootstrap": {
            "method": METHOD,
            "resamples": settings["bootstrap_resamples"],
            "seed": settings["bootstrap_seed"],
            "confidence": settings["confidence"],
        },
    }


def metric_estimates(
    predictions: Sequence[metrics.Predictions],
    names: Sequence[str],
    resampled_of,
    seeds: Sequence = (),
    block: str | None = None,
) -> dict[str, Estimate]:
    """Return {metric: its Estimate over the seeds' predictions}.

    resampled_of(seed_predictions) returns {metric: its value on each test-paper resample} of one seed.
    """
    points = [metrics.scalar_metrics(seed_predictions, 1, names) for seed_predictions in predictions]
    per_seed = [resampled_of(seed_predictions) for seed_predictions in predictions]
    return {
        name: make_estimate(
            [point[name] for point in points], np.stack([values[name] for values in per_seed]), seeds, block
        )
        for name in names
    }


def seed_summary(runs: Iterable, outcomes: Iterable) -> dict:
    """Return the seeds behind each experiment's estimates: their number, each outcome's between-seed SD and
    whether the seed spread or the test-set spread dominates its uncertainty.

    runs: the hypothesis tests' runs (.name, .predictions per seed, .estimates by outcome key); outcomes: the
    outcomes estimated (.key).
    """
    runs, outcomes = list(runs), list(outcomes)
    counts = sorted({len(run.predictions) for run in runs})
    return {
        "counts": counts,
        "estimated": counts[-1] >= 2,
        "note": None
        if counts[0] >= 2
        else "seed variance not estimated: an experiment has one training seed",
        "experiments": [
            {
                "name": run.name,
                "n_seeds": len(run.predictions),
                **{
                    o.key: {
                        "seed_points": list(run.estimates[o.key].seed_points),
                        "seed_sd": run.estimates[o.key].seed_sd,
                        "variance": run.estimates[o.key].variance,
                    }
                    for o in outcomes
                },
            }
            for run in runs
        ],
    }

"""Training-seed replicates: an experiment trained once per seed, its metrics averaged over the seeds, and the
two-level (hierarchical) bootstrap that puts both kinds of uncertainty into one interval.

The test-set bootstrap alone says how much a metric would move on other test papers; it says nothing of how
much it moves when the same experiment is trained again with another seed (initial state of new parameters,
data order, dropout). A resample b draws both:
  1. test papers: the paper indices I_b (metrics.bootstrap_indices), shared by every seed of every experiment,
     so that differences between experiments stay paired;
  2. seeds: as many draws with replacement from the experiment's seeds as it has (seed_draws), independently
     per experiment, since separately trained runs share nothing.
Its value is the mean, over the drawn seeds, of each drawn seed's metric on I_b. With one seed the second level
always draws that seed, and the interval is exactly the paired test-set bootstrap.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

import numpy as np

from wlf.evaluation import metrics

# What each interval and its value is made of, for the metrics files.
METHOD = "two-level percentile bootstrap: training seeds resampled within the experiment, then test papers"


def seed_draws(n_seeds: int, resamples: int, bootstrap_seed: int, experiment: str) -> np.ndarray:
    """Return a (resamples, n_seeds) array of seed positions drawn with replacement, fixed per experiment.

    The generator is seeded by the evaluate seed and the experiment's name, so the metrics file and the
    hypothesis tests draw the same seeds for an experiment, and the paper indices are not disturbed.
    """
    rng = np.random.default_rng([bootstrap_seed, zlib.crc32(experiment.encode("utf-8"))])
    return rng.integers(0, n_seeds, size=(resamples, n_seeds))


def two_level(per_seed_resampled: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Return each resample's mean over its drawn seeds; per_seed_resampled is (seeds, resamples)."""
    per_seed_resampled = np.asarray(per_seed_resampled, dtype=float)
    columns = np.arange(per_seed_resampled.shape[1])
    return per_seed_resampled[draws.T, columns].mean(axis=0)


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
    over seeds with its two-level interval, the between-seed SD and the variance split of the two outcomes."""
    indices = metrics.bootstrap_indices(
        predictions[0].n, settings["bootstrap_resamples"], settings["bootstrap_seed"]
    )
    draws = seed_draws(
        len(predictions), settings["bootstrap_resamples"], settings["bootstrap_seed"], experiment
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
            name: metrics.percentile_interval(two_level(values, draws), settings["confidence"])
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


def mean_metrics(
    predictions: Sequence[metrics.Predictions], names: Sequence[str], draws: np.ndarray, resampled_of
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Return (the mean over seeds of each named metric, its two-level resampled values).

    resampled_of(seed_predictions) returns {metric: its value on each test-paper resample} of one seed.
    """
    points = [metrics.scalar_metrics(seed_predictions, 1, names) for seed_predictions in predictions]
    per_seed = [resampled_of(seed_predictions) for seed_predictions in predictions]
    return (
        {name: float(np.mean([point[name] for point in points])) for name in names},
        {name: two_level(np.stack([values[name] for values in per_seed]), draws) for name in names},
    )


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

"""Simulated studies with a known truth: how often the intervals over training seeds and test papers cover it, how
often a null difference is called non-zero, and the verdicts' family-wise error when nothing moves.

The model (the issue's): a test paper's latent quality x ~ N(0, 1), shared by every run; a training seed shifts its
run's decision threshold by b ~ N(0, seed_sd) (a share `shared` of b's variance is common to the runs of one
training set with the same seed: common random numbers); each run adds its own noise N(0, 0.3) per paper; an
experiment moves the threshold by delta. P(Accept) = sigmoid(2 (x + noise - 0.4 - b - delta)), predicted Accept
when >= 0.5; the label is Accept when x + N(0, 0.5) > 0.4. The truth of an outcome is its mean over all papers
and all seeds, computed by quadrature. Everything goes through the workflow's own code: outcomes.estimate,
seeds.contrast, and for the family-wise error hypothesis_tests on the 19-experiment grid of config/config.yaml.

    .venv/bin/python bench/interval_simulation.py            # the table in docs/statistics.md (a few minutes)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special, stats

from wlf.evaluation import metrics, outcomes, seeds
from wlf.evaluation.hypothesis_tests import build_runs, outcome_hypotheses, verdict_levels
from wlf.evaluation.priorshift import shift_probabilities
from wlf.experiments import accept_fraction, experiment_name

NOISE_SD, THRESHOLD, STEEPNESS = 0.3, 0.4, 2.0
N_PAPERS = 400
GAMMAS = (1.0, 2.0, 4.0)
# the experiments of one simulated study: a baseline, its null twin, two steps of a gamma series
DELTAS = {"base": 0.0, "twin": 0.0, "gamma2": -0.3, "gamma4": -0.6}
PRIORSHIFT_FACTOR = 2.0
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(120)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def truth(outcome_key: str, seed_sd: float, delta: float, odds_factor: float = 1.0) -> float:
    """Return the outcome's mean over papers and seeds of an experiment moving the threshold by delta, its odds
    then multiplied by odds_factor (a prior shift)."""
    spread = np.sqrt(1.0 + NOISE_SD**2 + seed_sd**2)  # x + noise - b ~ N(0, spread^2)
    cut = THRESHOLD + delta - np.log(odds_factor) / STEEPNESS
    if outcome_key == outcomes.RATE:  # P(x + noise - b >= cut): closed form (quadrature is poor at a step)
        return float(special.ndtr(-cut / spread))
    values = _sigmoid(STEEPNESS * (_NODES * spread - cut))
    return float((_WEIGHTS * values).sum() / _WEIGHTS.sum())


@dataclass
class Study:
    """One simulated test set and the runs of each experiment on it (rows: seeds, columns: papers)."""

    labels: np.ndarray
    p_accept: dict[str, np.ndarray]


def test_set(rng) -> tuple[np.ndarray, np.ndarray]:
    """Return (latent quality, label) of N_PAPERS test papers."""
    quality = rng.normal(size=N_PAPERS)
    return quality, np.where(quality + rng.normal(0.0, 0.5, N_PAPERS) > THRESHOLD, "Accept", "Reject")


def training_set_runs(
    rng, quality: np.ndarray, n_seeds: int, seed_sd: float, deltas: dict[str, float], shared: float
) -> dict[str, np.ndarray]:
    """Return {experiment: P(Accept) of its runs (rows: seeds)} of experiments that share one training set, so a
    share `shared` of a seed's threshold shift is common to their runs with that seed."""
    common = rng.normal(0.0, seed_sd, n_seeds)
    runs = {}
    for name, delta in deltas.items():
        own = rng.normal(0.0, seed_sd, n_seeds)
        shift = np.sqrt(shared) * common + np.sqrt(1.0 - shared) * own
        noise = rng.normal(0.0, NOISE_SD, (n_seeds, N_PAPERS))
        runs[name] = _sigmoid(STEEPNESS * (quality + noise - THRESHOLD - delta - shift[:, None]))
    return runs


def simulate(rng, n_seeds: int, seed_sd: float, deltas: dict[str, float], shared: float = 0.0) -> Study:
    """Return one study: every experiment's runs, one per seed, on one test set, all of one training set."""
    quality, labels = test_set(rng)
    return Study(labels, training_set_runs(rng, quality, n_seeds, seed_sd, deltas, shared))


def predictions(labels: np.ndarray, p_accept: np.ndarray) -> list[metrics.Predictions]:
    """Return one Predictions per seed (row of p_accept), thresholded at 0.5 like infer."""
    ids = tuple(f"p{i}" for i in range(len(labels)))
    return [
        metrics.Predictions(ids, labels, np.where(row >= 0.5, "Accept", "Reject"), row) for row in p_accept
    ]


def estimates_of(study: Study, outcome: outcomes.Outcome, indices: np.ndarray) -> dict[str, seeds.Estimate]:
    """Return each experiment's Estimate of the outcome, and the prior-shift counterpart of the baseline."""
    n_seeds = len(next(iter(study.p_accept.values())))
    labels = tuple(range(1, n_seeds + 1))
    runs = dict(study.p_accept, priorshift=shift_probabilities(study.p_accept["base"], PRIORSHIFT_FACTOR))
    return {
        name: outcomes.estimate(predictions(study.labels, p), outcome, indices, labels, "1_2")
        for name, p in runs.items()
    }


def slope_weights() -> np.ndarray:
    """Return the least-squares weights of a slope per doubling of gamma over GAMMAS."""
    u = np.log2(GAMMAS)
    return (u - u.mean()) / ((u - u.mean()) ** 2).sum()


def intervals(seed_sd: float, outcome_key: str) -> dict[str, tuple[list[tuple[float, str]], float]]:
    """Return {kind of interval: (its contrast as [(coefficient, experiment)], its true value)}."""
    t = {name: truth(outcome_key, seed_sd, delta) for name, delta in DELTAS.items()}
    t["priorshift"] = truth(outcome_key, seed_sd, DELTAS["base"], PRIORSHIFT_FACTOR)
    w = slope_weights()
    slope = list(zip(w, ("base", "gamma2", "gamma4"), strict=True))
    kinds = {
        "experiment mean": [(1.0, "base")],
        "change between experiments": [(1.0, "gamma4"), (-1.0, "base")],
        "slope per doubling of gamma": slope,
        "difference of changes (H4)": [(1.0, "gamma4"), (-1.0, "gamma2"), (-1.0, "twin"), (1.0, "base")],
        "fine-tuned - prior shift": [(1.0, "gamma2"), (-1.0, "priorshift")],
        "null difference": [(1.0, "twin"), (-1.0, "base")],
    }
    return {kind: (terms, sum(c * t[name] for c, name in terms)) for kind, terms in kinds.items()}


def coverage(
    n_seeds: int,
    seed_sd: float,
    studies: int,
    resamples: int = 200,
    shared: float = 0.5,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[tuple[str, str, bool], float]:
    """Return {(outcome, kind of interval, paired): the share of studies whose interval covers the truth}."""
    rng = np.random.default_rng([seed, n_seeds, int(seed_sd * 1000)])
    hits: dict[tuple[str, str, bool], int] = {}
    truths = {o.key: intervals(seed_sd, o.key) for o in outcomes.OUTCOMES}
    for _ in range(studies):
        study = simulate(rng, n_seeds, seed_sd, DELTAS, shared)
        indices = rng.integers(0, N_PAPERS, size=(resamples, N_PAPERS))
        for outcome in outcomes.OUTCOMES:
            estimates = estimates_of(study, outcome, indices)
            for kind, (terms, true_value) in truths[outcome.key].items():
                for pair in (False, True):
                    ci = seeds.contrast([(c, estimates[name]) for c, name in terms], confidence, pair)["ci"]
                    key = (outcome.key, kind, pair)
                    hits[key] = hits.get(key, 0) + int(ci is not None and ci[0] <= true_value <= ci[1])
    return {key: count / studies for key, count in hits.items()}


def grid_rows(config_experiments: list[dict]) -> list[dict]:
    """Return table rows (as aggregate writes them) of the fine-tuned experiments of a config."""
    return [
        {
            "name": experiment_name(e["variant"], e["gamma"], e["prop"]),
            "prop": e["prop"],
            "variant": e["variant"],
            "gamma": e["gamma"],
            "accept_fraction": accept_fraction(e["prop"]),
        }
        for e in config_experiments
    ]


def familywise_error(
    config_experiments: list[dict],
    n_seeds: int,
    seed_sd: float,
    studies: int,
    settings: dict,
    shared: float = 0.5,
    seed: int = 0,
) -> dict:
    """Return the share of null studies (no gamma, no proportion moves anything) in which any hypothesis on any
    outcome reads "supported", and the share per hypothesis and outcome."""
    rng = np.random.default_rng([seed, n_seeds, int(seed_sd * 1000), 7])
    rows = grid_rows(config_experiments)
    levels = verdict_levels(settings, len(outcomes.OUTCOMES))
    blocks: dict[str, dict[str, float]] = {}
    for row in rows:  # runs of one proportion share a training set; under the null nothing moves (delta 0)
        blocks.setdefault(row["prop"], {})[row["name"]] = 0.0
    any_supported, by_verdict = 0, {}
    for _ in range(studies):
        quality, labels = test_set(rng)
        study_runs = {
            name: predictions(labels, p)
            for deltas in blocks.values()
            for name, p in training_set_runs(rng, quality, n_seeds, seed_sd, deltas, shared).items()
        }
        indices = rng.integers(0, N_PAPERS, size=(settings["bootstrap_resamples"], N_PAPERS))
        runs = build_runs(rows, study_runs, indices, outcomes.OUTCOMES)
        baseline = next((run for run in runs.values() if run.variant == "baseline"), None)
        supported = False
        for outcome in outcomes.OUTCOMES:
            for key, tested in outcome_hypotheses(runs, baseline, outcome, levels).items():
                hit = tested["verdict"] == "supported"
                by_verdict[(key, outcome.key)] = by_verdict.get((key, outcome.key), 0) + int(hit)
                supported = supported or hit
        any_supported += int(supported)
    return {
        "any": any_supported / studies,
        "by_verdict": {key: count / studies for key, count in by_verdict.items()},
        "bound": 1.0 - settings["confidence"],
    }


def naive_two_level_coverage(n_seeds: int, seed_sd: float, studies: int, resamples: int = 200, seed: int = 0):
    """Return the coverage of the experiment mean's rate by the former interval (seeds resampled with replacement,
    then papers, percentile): the reference the new interval replaces."""
    rng = np.random.default_rng([seed, n_seeds, int(seed_sd * 1000), 3])
    true_value, hits = truth(outcomes.RATE, seed_sd, 0.0), 0
    for _ in range(studies):
        study = simulate(rng, n_seeds, seed_sd, {"base": 0.0})
        indices = rng.integers(0, N_PAPERS, size=(resamples, N_PAPERS))
        per_seed = (study.p_accept["base"] >= 0.5).astype(float)[:, indices].mean(axis=2)  # (seeds, resamples)
        draws = rng.integers(0, n_seeds, size=(resamples, n_seeds))
        two_level = per_seed[draws.T, np.arange(resamples)].mean(axis=0)
        lo, hi = np.percentile(two_level, [2.5, 97.5])
        hits += int(lo <= true_value <= hi)
    return hits / studies


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--fwer-studies", type=int, default=400)
    args = parser.parse_args(argv)
    import yaml

    from wlf.settings import defaults

    config = yaml.safe_load(Path("config/config.yaml").read_text())
    print(f"{args.studies} simulated studies per row, {N_PAPERS} test papers, 200 resamples, 95 % intervals.")
    print("Share of studies whose interval covers the truth, unpaired / paired (shared seed variance 0.5).")
    kinds = list(intervals(0.0, outcomes.RATE))
    rows = [(1, 0.0), (3, 0.0), (3, 0.1), (3, 0.3), (5, 0.3), (10, 0.3)]
    covered = {row: coverage(*row, args.studies) for row in rows}
    for o in outcomes.OUTCOMES:
        former = o.key == outcomes.RATE
        print(f"\n{o.label}\n")
        print("| seeds | seed SD | " + ("former two-level | " if former else "") + " | ".join(kinds) + " |")
        print("| --- | --- | " + ("--- | " if former else "") + " | ".join("---" for _ in kinds) + " |")
        for n_seeds, seed_sd in rows:
            cells = [
                f"{covered[(n_seeds, seed_sd)][(o.key, k, False)]:.3f} / {covered[(n_seeds, seed_sd)][(o.key, k, True)]:.3f}"
                for k in kinds
            ]
            if former:
                value = naive_two_level_coverage(n_seeds, seed_sd, args.studies) if n_seeds > 1 else None
                cells.insert(0, "—" if value is None else f"{value:.3f}")
            print(f"| {n_seeds} | {seed_sd} | " + " | ".join(cells) + " |")
    settings = {**defaults("evaluation"), "bootstrap_resamples": 200}
    for pair in (False, True):
        for seed_sd in (0.1, 0.3):
            result = familywise_error(
                config["experiments"], 3, seed_sd, args.fwer_studies, {**settings, "pair_seeds": pair}
            )
            worst = max(result["by_verdict"].items(), key=lambda item: item[1])
            print(
                f"global null, 3 seeds, seed SD {seed_sd}, pair_seeds {pair}: any 'supported' in "
                f"{result['any']:.3f} of {args.fwer_studies} studies (bound {result['bound']:.2f}); "
                f"most often {worst[0][0]} on {worst[0][1]} ({worst[1]:.3f})"
            )
    print(f"\nt(0.975, 2) = {stats.t.ppf(0.975, 2):.2f}")


if __name__ == "__main__":
    main()

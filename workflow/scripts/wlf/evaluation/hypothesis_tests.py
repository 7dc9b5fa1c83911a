"""The hypothesis tests, on each outcome of wlf.evaluation.outcomes, with the prior-shift comparisons of
wlf.evaluation.priorshift.

H1  accept-weighting: a larger gamma raises predicted acceptance (per proportion).
H2  reject-weighting: a larger gamma lowers it (per proportion).
H3  reject-heavy training data (smaller accept fraction 1/N) lowers it (per variant and gamma).
H4  the gamma effect differs between proportions (interaction).
Each is tested on the predicted acceptance rate and on the mean P(Accept) with the same machinery. Every comparison
is paired: all experiments are scored on the same test papers, and each bootstrap resample draws the same paper
indices for every experiment (metrics.bootstrap_indices with the evaluate seed). Arrays in, numbers out: the
resampled arrays come from wlf.evaluation.outcomes, the words from wlf.evaluation.verdicts; the files are read by
hypotheses.py, the report is written by hypotheses_report.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from wlf.errors import InputError
from wlf.evaluation import metrics, seeds
from wlf.evaluation.outcomes import OUTCOMES, Estimate, Outcome, estimate, missing_reason
from wlf.evaluation.priorshift import priorshift_comparisons
from wlf.evaluation.table import aggregated
from wlf.evaluation.verdicts import (
    VERDICT_RULES,
    combine,
    interaction_verdict,
    series_verdict,
    shared_bound,
)
from wlf.experiments import FINETUNED, VARIANTS, format_gamma, proportion_denominator

STATEMENTS = {
    "H1": "accept-weighting: a larger gamma raises predicted acceptance",
    "H2": "reject-weighting: a larger gamma lowers predicted acceptance",
    "H3": "reject-heavy training data (smaller accept fraction) lowers predicted acceptance",
    "H4": "the effect of gamma on predicted acceptance differs between proportions",
}
EXPECTED_SIGN = {"H1": +1, "H2": -1, "H3": -1}


@dataclass
class Run:
    """One fine-tuned experiment's predictions and its estimate of each outcome that can be computed."""

    name: str
    prop: str
    variant: str
    gamma: float
    accept_fraction: float
    predictions: list[metrics.Predictions]  # one per training seed
    draws: np.ndarray  # the run's seed draws (seeds.seed_draws)
    estimates: dict[str, Estimate]

    @property
    def denominator(self) -> int:
        return proportion_denominator(self.prop)


def build_runs(
    rows: list[dict],
    predictions: dict[str, list[metrics.Predictions]],
    indices: np.ndarray,
    outcomes: Iterable[Outcome],
    bootstrap_seed: int,
) -> dict[str, Run]:
    """Return {name: Run} of the fine-tuned table rows, each with its seeds' predictions and outcome estimates."""
    runs: dict[str, Run] = {}
    for row in rows:
        run_predictions = predictions[row["name"]]
        draws = seeds.seed_draws(len(run_predictions), len(indices), bootstrap_seed, row["name"])
        runs[row["name"]] = Run(
            name=row["name"],
            prop=row["prop"],
            variant=row["variant"],
            gamma=float(row["gamma"]),
            accept_fraction=float(row["accept_fraction"]),
            predictions=run_predictions,
            draws=draws,
            estimates={o.key: estimate(run_predictions, o, indices, draws) for o in outcomes},
        )
    return runs


def paired_difference(later: Estimate, earlier: Estimate, confidence: float) -> dict:
    """Return the difference later - earlier with its paired-bootstrap CI."""
    return {
        "difference": later.point - earlier.point,
        "ci": metrics.percentile_interval(later.resampled - earlier.resampled, confidence),
    }


def rank_trend(x: list[float], values: np.ndarray, values_resampled: np.ndarray, confidence: float) -> dict:
    """Return Spearman's rho (with a bootstrap CI) and Kendall's tau of the values against x."""
    with warnings.catch_warnings():
        # a resample whose values are all equal has no rank correlation (NaN, dropped from the CI)
        warnings.simplefilter("ignore")
        spearman = stats.spearmanr(x, values)
        kendall = stats.kendalltau(x, values)
        rho_resampled = np.array([stats.spearmanr(x, column).statistic for column in values_resampled.T])
    return {
        "spearman_rho": metrics.none_if_nan(spearman.statistic),
        "spearman_p": metrics.none_if_nan(spearman.pvalue),
        "spearman_ci": metrics.percentile_interval(rho_resampled, confidence),
        "kendall_tau": metrics.none_if_nan(kendall.statistic),
        "kendall_p": metrics.none_if_nan(kendall.pvalue),
    }


def series_test(
    names: list[str],
    x: list[float],
    estimates: list[Estimate],
    sign: int,
    bounds: tuple[float, float],
    confidence: float,
) -> dict:
    """Return the points, steps, end-to-end difference, rank trend and verdict of estimates ordered by x."""
    overall = {
        "from": names[0],
        "to": names[-1],
        **paired_difference(estimates[-1], estimates[0], confidence),
    }
    values = [e.point for e in estimates]
    trend = rank_trend(x, np.array(values), np.stack([e.resampled for e in estimates]), confidence)
    verdict, note = series_verdict(values, overall["ci"], trend["spearman_rho"], sign, bounds)
    return {
        "verdict": verdict,
        "note": note,
        "points": [
            {
                "name": name,
                "x": value,
                "value": e.point,
                "ci": metrics.percentile_interval(e.resampled, confidence),
            }
            for name, value, e in zip(names, x, estimates, strict=True)
        ],
        "steps": [
            {
                "from": names[i],
                "to": names[i + 1],
                **paired_difference(estimates[i + 1], estimates[i], confidence),
            }
            for i in range(len(names) - 1)
        ],
        "overall": overall,
        "trend": trend,
    }


def run_series_test(runs: list[Run], x: list[float], sign: int, outcome: Outcome, confidence: float) -> dict:
    """Return series_test of the runs' estimates of one outcome."""
    estimates = [run.estimates[outcome.key] for run in runs]
    return series_test([run.name for run in runs], x, estimates, sign, outcome.bounds, confidence)


def gamma_series(runs: dict[str, Run], variant: str, prop: str, baseline: Run | None) -> list[Run]:
    """Return the variant's runs at prop by increasing gamma, led by the baseline (gamma 1) when it shares prop."""
    series = sorted(
        (r for r in runs.values() if r.variant == variant and r.prop == prop), key=lambda r: r.gamma
    )
    if baseline is not None and baseline.prop == prop and series:
        series = [baseline, *series]
    return series


def gamma_hypothesis(
    runs: dict[str, Run], variant: str, sign: int, baseline: Run | None, outcome: Outcome, confidence: float
) -> dict:
    """Return H1 (variant accept, sign +1) or H2 (variant reject, sign -1) on one outcome: per proportion, vs gamma."""
    groups = []
    props = sorted({r.prop for r in runs.values() if r.variant == variant}, key=proportion_denominator)
    for prop in props:
        series = gamma_series(runs, variant, prop, baseline)
        if len(series) >= 2:
            tested = run_series_test(series, [r.gamma for r in series], sign, outcome, confidence)
            groups.append({"group": f"prop {prop}", "prop": prop, "x": "gamma", **tested})
    verdict, summary = combine(groups, "proportion")
    return {"verdict": verdict, "summary": summary, "groups": groups}


def mix_hypothesis(runs: dict[str, Run], outcome: Outcome, confidence: float) -> dict:
    """Return H3 on one outcome: per (variant, gamma), against N of the accept fraction 1/N (expected to fall)."""
    groups = []
    keys = sorted({(r.variant, r.gamma) for r in runs.values()}, key=lambda k: (VARIANTS.index(k[0]), k[1]))
    for variant, gamma in keys:
        series = sorted(
            (r for r in runs.values() if (r.variant, r.gamma) == (variant, gamma)),
            key=lambda r: r.denominator,
        )
        if len(series) >= 2:
            tested = run_series_test(series, [r.denominator for r in series], -1, outcome, confidence)
            group = f"{variant} gamma {format_gamma(gamma)}"
            groups.append(
                {
                    "group": group,
                    "variant": variant,
                    "gamma": gamma,
                    "x": "N of accept fraction 1/N",
                    **tested,
                }
            )
    verdict, summary = combine(groups, "variant and gamma")
    return {"verdict": verdict, "summary": summary, "groups": groups}


def slope_per_doubling(gammas: list[float], estimates: list[Estimate]) -> tuple[float, np.ndarray]:
    """Return the least-squares slope of the estimates on log2(gamma), as a point estimate and per resample."""
    x = np.log2(gammas)
    point = np.polyfit(x, [e.point for e in estimates], 1)[0]
    resampled = np.polyfit(x, np.stack([e.resampled for e in estimates]), 1)[0]
    return float(point), resampled


def slope_comparison(
    gammas: list[float],
    estimates: list[Estimate],
    reference: list[Estimate],
    bounds: tuple[float, float],
    confidence: float,
    adjusted: float,
) -> dict:
    """Return the slope of estimates minus the reference's over gammas, its adjusted CI and whether a bound holds."""
    slope, slope_resampled = slope_per_doubling(gammas, estimates)
    ref_slope, ref_resampled = slope_per_doubling(gammas, reference)
    ci = metrics.percentile_interval(slope_resampled - ref_resampled, adjusted)
    differs = ci is not None and (ci[0] > 0 or ci[1] < 0)
    at_bound = any(
        shared_bound([e.point for e in side], bounds) is not None for side in (estimates, reference)
    )
    return {
        "slope_per_doubling": slope,
        "slope_ci": metrics.percentile_interval(slope_resampled, confidence),
        "reference_slope_per_doubling": ref_slope,
        "reference_slope_ci": metrics.percentile_interval(ref_resampled, confidence),
        "difference": slope - ref_slope,
        "ci": ci,
        "differs": differs,
        "at_bound": at_bound,
        "saturated": at_bound and not differs,
    }


def interaction_plan(runs: dict[str, Run], baseline: Run | None) -> list[tuple[str, str, str, list, dict]]:
    """Return (variant, reference prop, prop, shared gammas, {prop: {gamma: Run}}) of each slope comparison."""
    planned = []
    for variant in ("accept", "reject"):
        levels = {}
        for prop in sorted(
            {r.prop for r in runs.values() if r.variant == variant}, key=proportion_denominator
        ):
            levels[prop] = {r.gamma: r for r in gamma_series(runs, variant, prop, baseline)}
        candidates = [prop for prop, by_gamma in levels.items() if len(by_gamma) >= 2]
        if len(candidates) < 2:
            continue
        reference = candidates[0]  # the largest accept fraction
        for prop in candidates[1:]:
            shared = sorted(set(levels[reference]) & set(levels[prop]))
            if len(shared) >= 2:
                planned.append((variant, reference, prop, shared, levels))
    return planned


def interaction_hypothesis(
    runs: dict[str, Run], baseline: Run | None, outcome: Outcome, confidence: float
) -> dict:
    """Return H4 on one outcome: per variant, each proportion's gamma slope minus the reference proportion's."""
    planned = interaction_plan(runs, baseline)
    # Bonferroni: "some slope differs" is claimed if any of the comparisons does
    adjusted = 1.0 - (1.0 - confidence) / max(len(planned), 1)
    comparisons = []
    for variant, reference, prop, shared, levels in planned:
        estimates = [levels[prop][g].estimates[outcome.key] for g in shared]
        reference_estimates = [levels[reference][g].estimates[outcome.key] for g in shared]
        compared = slope_comparison(
            shared, estimates, reference_estimates, outcome.bounds, confidence, adjusted
        )
        comparisons.append(
            {"variant": variant, "prop": prop, "reference_prop": reference, "gammas": shared, **compared}
        )
    verdict, summary = interaction_verdict(comparisons, adjusted)
    return {
        "verdict": verdict,
        "summary": summary,
        "adjusted_confidence": adjusted,
        "comparisons": comparisons,
    }


def outcome_hypotheses(
    runs: dict[str, Run], baseline: Run | None, outcome: Outcome, confidence: float
) -> dict:
    """Return {H1..H4: the test on one outcome} (verdict, summary, groups or comparisons)."""
    return {
        "H1": gamma_hypothesis(runs, "accept", +1, baseline, outcome, confidence),
        "H2": gamma_hypothesis(runs, "reject", -1, baseline, outcome, confidence),
        "H3": mix_hypothesis(runs, outcome, confidence),
        "H4": interaction_hypothesis(runs, baseline, outcome, confidence),
    }


def untested_hypotheses(reason: str) -> dict:
    """Return {H1..H4: no verdict, the reason as the summary} for an outcome that cannot be computed."""
    untested = {key: {"verdict": None, "summary": reason, "groups": []} for key in ("H1", "H2", "H3")}
    return {**untested, "H4": {"verdict": None, "summary": reason, "comparisons": []}}


def run_hypotheses(
    table: list[dict],
    predictions: dict[str, list[metrics.Predictions]],
    priorshift: dict[str, list[metrics.Predictions]],
    settings: dict,
    zeroshot: metrics.Predictions | None = None,
) -> dict:
    """Return every hypothesis test on every outcome, the prior-shift and the zero-shot comparisons as one
    JSON-ready dict.

    predictions: each fine-tuned experiment's predictions, one per training seed, by experiment name, all on the
    same test papers in the same order; priorshift: the prior-shift counterparts that were not skipped, alike;
    zeroshot: the base model's own predictions on those papers (the zero-shot reference), if any.
    """
    # imported here: wlf.evaluation.zeroshot makes its intervals with this module's paired_difference
    from wlf.evaluation.zeroshot import zeroshot_comparisons

    finetuned = [row for row in aggregated(table) if row["method"] == FINETUNED and not row.get("skipped")]
    if not finetuned:
        raise InputError("the metrics table has no fine-tuned experiment")
    n_papers = predictions[finetuned[0]["name"]][0].n
    indices = metrics.bootstrap_indices(n_papers, settings["bootstrap_resamples"], settings["bootstrap_seed"])
    all_predictions = [p for row in finetuned for p in predictions[row["name"]]]
    missing = {o.key: missing_reason(o, all_predictions) for o in OUTCOMES}
    available = [o for o in OUTCOMES if missing[o.key] is None]
    runs = build_runs(finetuned, predictions, indices, available, settings["bootstrap_seed"])
    confidence = settings["confidence"]
    baseline = next((run for run in runs.values() if run.variant == "baseline"), None)
    by_outcome = {
        o.key: untested_hypotheses(missing[o.key])
        if missing[o.key]
        else outcome_hypotheses(runs, baseline, o, confidence)
        for o in OUTCOMES
    }
    return {
        "settings": settings,
        "n_test_papers": int(n_papers),
        "seeds": seeds.seed_summary(runs.values(), available),
        "outcomes": {
            o.key: {"label": o.label, "available": missing[o.key] is None, "note": missing[o.key]}
            for o in OUTCOMES
        },
        "hypotheses": {
            key: {
                "statement": statement,
                **({"expected_sign": EXPECTED_SIGN[key]} if key in EXPECTED_SIGN else {}),
                "outcomes": {o.key: by_outcome[o.key][key] for o in OUTCOMES},
            }
            for key, statement in STATEMENTS.items()
        },
        "priorshift": priorshift_comparisons(
            runs.values(),
            aggregated(table),
            priorshift,
            indices,
            settings["bootstrap_seed"],
            confidence,
            baseline,
        ),
        "zeroshot": zeroshot_comparisons(runs.values(), zeroshot, indices, confidence),
        "verdict_rules": VERDICT_RULES,
    }

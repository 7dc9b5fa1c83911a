"""The hypothesis tests on the predicted acceptance rate, with the prior-shift comparisons of wlf.evaluation.priorshift.

H1  accept-weighting: a larger gamma raises the predicted acceptance rate (per proportion).
H2  reject-weighting: a larger gamma lowers it (per proportion).
H3  reject-heavy training data (smaller accept fraction 1/N) lowers it (per variant and gamma).
H4  the gamma effect differs between proportions (interaction).
Every comparison is paired: all experiments are scored on the same test papers, and each bootstrap resample
draws the same paper indices for every experiment (metrics.bootstrap_indices with the evaluate seed).
Arrays in, numbers out: the files are read by hypotheses.py, the report is written by hypotheses_report.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from wlf.errors import InputError
from wlf.evaluation import metrics
from wlf.evaluation.priorshift import priorshift_comparisons
from wlf.experiments import FINETUNED, VARIANTS, format_gamma, proportion_denominator

RATE = "predicted_acceptance_rate"
SUPPORTED, NOT_SUPPORTED, UNCLEAR = "supported", "not supported", "unclear"
VERDICT_RULES = {
    "direction (H1, H2, H3)": (
        "For each group (a proportion for H1/H2; a variant and gamma for H3) the levels are ordered along x "
        "(gamma, or N of the accept fraction 1/N). 'supported' when the paired-bootstrap CI of the difference "
        "last level - first level lies entirely on the expected side of 0 and the Spearman correlation of the "
        "rate with x has the expected sign; 'not supported' when that CI lies entirely on the other side of 0 or "
        "touches 0 from it (no change or the opposite change); 'unclear' otherwise. A hypothesis is "
        "'supported' / 'not supported' when every group is; otherwise 'unclear' (the groups are listed)."
    ),
    "interaction (H4)": (
        "Per variant and proportion, the slope of the predicted acceptance rate per doubling of gamma "
        "(least squares on log2 gamma) over the gamma levels it shares with the reference proportion (the "
        "largest accept fraction; gamma = 1 is the baseline where it was trained). 'supported' when at least "
        "one slope difference's CI excludes 0, with CIs Bonferroni-widened for the number of comparisons; "
        "'not supported' when every CI includes 0 (no detectable interaction, not proof of none); 'unclear' "
        "when no two proportions share two gamma levels."
    ),
    "prior shift": (
        "Per non-baseline experiment, fine-tuned - prior-shift differences in predicted acceptance rate, "
        "accuracy, F1 and ROC-AUC with paired-bootstrap CIs, Bonferroni-adjusted for the four metrics. "
        "'explained by a threshold move' when every CI "
        "includes 0; 'goes beyond a threshold move' when any CI excludes 0. The prior shift is a monotone map "
        "of the baseline's P(Accept), so its ROC-AUC is the baseline's: a ROC-AUC difference means the "
        "fine-tuned model ranks papers differently, which no threshold move can do."
    ),
}


@dataclass
class Run:
    """One fine-tuned experiment's predictions and its predicted acceptance rate, point and per resample."""

    name: str
    prop: str
    variant: str
    gamma: float
    accept_fraction: float
    predictions: metrics.Predictions
    rate: float
    rate_resampled: np.ndarray

    @property
    def denominator(self) -> int:
        return proportion_denominator(self.prop)


def build_runs(
    rows: list[dict], predictions: dict[str, metrics.Predictions], indices: np.ndarray
) -> dict[str, Run]:
    """Return {name: Run} of the fine-tuned table rows, each with its predictions (all on one test set)."""
    runs: dict[str, Run] = {}
    for row in rows:
        run_predictions = predictions[row["name"]]
        runs[row["name"]] = Run(
            name=row["name"],
            prop=row["prop"],
            variant=row["variant"],
            gamma=float(row["gamma"]),
            accept_fraction=float(row["accept_fraction"]),
            predictions=run_predictions,
            rate=metrics.scalar_metrics(run_predictions, 1, [RATE])[RATE],
            rate_resampled=metrics.resampled_metrics(run_predictions, indices, 1, [RATE])[RATE],
        )
    return runs


def paired_difference(later: Run, earlier: Run, confidence: float) -> dict:
    """Return the rate difference later - earlier with its paired-bootstrap CI."""
    return {
        "from": earlier.name,
        "to": later.name,
        "difference": later.rate - earlier.rate,
        "ci": metrics.percentile_interval(later.rate_resampled - earlier.rate_resampled, confidence),
    }


def direction_verdict(ci: list[float] | None, sign: int) -> str:
    """Return supported / not supported / unclear for a CI of a difference expected to have sign (+1 or -1)."""
    if ci is None:
        return UNCLEAR
    lo, hi = (value * sign for value in ci)
    lo, hi = min(lo, hi), max(lo, hi)
    if lo > 0:
        return SUPPORTED
    if hi <= 0:
        return NOT_SUPPORTED
    return UNCLEAR


def rank_trend(x: list[float], rates: np.ndarray, rates_resampled: np.ndarray, confidence: float) -> dict:
    """Return Spearman's rho (with a bootstrap CI) and Kendall's tau of the rate against x."""
    with warnings.catch_warnings():
        # a resample whose rates are all equal has no rank correlation (NaN, dropped from the CI)
        warnings.simplefilter("ignore")
        spearman = stats.spearmanr(x, rates)
        kendall = stats.kendalltau(x, rates)
        rho_resampled = np.array([stats.spearmanr(x, column).statistic for column in rates_resampled.T])
    return {
        "spearman_rho": metrics.none_if_nan(spearman.statistic),
        "spearman_p": metrics.none_if_nan(spearman.pvalue),
        "spearman_ci": metrics.percentile_interval(rho_resampled, confidence),
        "kendall_tau": metrics.none_if_nan(kendall.statistic),
        "kendall_p": metrics.none_if_nan(kendall.pvalue),
    }


def series_test(runs: list[Run], x: list[float], sign: int, confidence: float) -> dict:
    """Return the points, steps, end-to-end difference, rank trend and verdict of runs ordered by x."""
    overall = paired_difference(runs[-1], runs[0], confidence)
    trend = rank_trend(
        x, np.array([run.rate for run in runs]), np.stack([run.rate_resampled for run in runs]), confidence
    )
    verdict = direction_verdict(overall["ci"], sign)
    rho = trend["spearman_rho"]
    if verdict == SUPPORTED and not (rho is not None and rho * sign > 0):
        verdict = UNCLEAR  # the ends moved as expected but the levels between did not follow
    rates = {run.rate for run in runs}
    note = None
    if rates == {0.0} or rates == {1.0}:
        note = f"every level predicts {'no' if rates == {0.0} else 'every'} paper Accept: no room to move"
    return {
        "note": note,
        "points": [
            {
                "name": run.name,
                "x": value,
                "rate": run.rate,
                "ci": metrics.percentile_interval(run.rate_resampled, confidence),
            }
            for run, value in zip(runs, x, strict=True)
        ],
        "steps": [paired_difference(b, a, confidence) for a, b in zip(runs, runs[1:], strict=False)],
        "overall": overall,
        "trend": trend,
        "verdict": verdict,
    }


def combine(groups: list[dict], what: str) -> tuple[str, str]:
    """Return the hypothesis verdict over its groups and a one-line summary naming them."""
    if not groups:
        return UNCLEAR, f"no {what} has two levels to compare"
    by_verdict: dict[str, list[str]] = {}
    for group in groups:
        by_verdict.setdefault(group["verdict"], []).append(group["group"])
    parts = [
        f"{verdict} for {len(names)} of {len(groups)} ({', '.join(names)})"
        for verdict, names in by_verdict.items()
    ]
    verdict = next(iter(by_verdict)) if len(by_verdict) == 1 else UNCLEAR
    return verdict, "; ".join(parts)


def gamma_series(runs: dict[str, Run], variant: str, prop: str, baseline: Run | None) -> list[Run]:
    """Return the variant's runs at prop by increasing gamma, led by the baseline (gamma 1) when it shares prop."""
    series = sorted(
        (r for r in runs.values() if r.variant == variant and r.prop == prop), key=lambda r: r.gamma
    )
    if baseline is not None and baseline.prop == prop and series:
        series = [baseline, *series]
    return series


def gamma_hypothesis(
    runs: dict[str, Run], variant: str, sign: int, baseline: Run | None, confidence: float
) -> dict:
    """Return H1 (variant accept, sign +1) or H2 (variant reject, sign -1): per proportion, rate vs gamma."""
    groups = []
    props = sorted({r.prop for r in runs.values() if r.variant == variant}, key=proportion_denominator)
    for prop in props:
        series = gamma_series(runs, variant, prop, baseline)
        if len(series) >= 2:
            tested = series_test(series, [r.gamma for r in series], sign, confidence)
            groups.append({"group": f"prop {prop}", "prop": prop, "x": "gamma", **tested})
    verdict, summary = combine(groups, "proportion")
    direction = "raises" if sign > 0 else "lowers"
    return {
        "statement": f"{variant}-weighting: a larger gamma {direction} the predicted acceptance rate",
        "expected_sign": sign,
        "verdict": verdict,
        "summary": summary,
        "groups": groups,
    }


def mix_hypothesis(runs: dict[str, Run], confidence: float) -> dict:
    """Return H3: per (variant, gamma), the rate against N of the accept fraction 1/N (expected to fall)."""
    groups = []
    keys = sorted({(r.variant, r.gamma) for r in runs.values()}, key=lambda k: (VARIANTS.index(k[0]), k[1]))
    for variant, gamma in keys:
        series = sorted(
            (r for r in runs.values() if (r.variant, r.gamma) == (variant, gamma)),
            key=lambda r: r.denominator,
        )
        if len(series) >= 2:
            tested = series_test(series, [r.denominator for r in series], -1, confidence)
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
    return {
        "statement": "reject-heavy training data (smaller accept fraction) lowers the predicted acceptance rate",
        "expected_sign": -1,
        "verdict": verdict,
        "summary": summary,
        "groups": groups,
    }


def slope_per_doubling(runs: list[Run]) -> tuple[float, np.ndarray]:
    """Return the least-squares slope of rate on log2(gamma), as a point estimate and per resample."""
    x = np.log2([run.gamma for run in runs])
    point = np.polyfit(x, [run.rate for run in runs], 1)[0]
    resampled = np.polyfit(x, np.stack([run.rate_resampled for run in runs]), 1)[0]
    return float(point), resampled


def interaction_hypothesis(runs: dict[str, Run], baseline: Run | None, confidence: float) -> dict:
    """Return H4: per variant, each proportion's gamma slope minus the reference proportion's, on shared gammas."""
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
    # Bonferroni: "some slope differs" is claimed if any of the comparisons does
    adjusted = 1.0 - (1.0 - confidence) / max(len(planned), 1)
    comparisons = []
    for variant, reference, prop, shared, levels in planned:
        slope, slope_resampled = slope_per_doubling([levels[prop][g] for g in shared])
        ref_slope, ref_resampled = slope_per_doubling([levels[reference][g] for g in shared])
        ci = metrics.percentile_interval(slope_resampled - ref_resampled, adjusted)
        comparisons.append(
            {
                "variant": variant,
                "prop": prop,
                "reference_prop": reference,
                "gammas": shared,
                "slope_per_doubling": slope,
                "slope_ci": metrics.percentile_interval(slope_resampled, confidence),
                "reference_slope_per_doubling": ref_slope,
                "reference_slope_ci": metrics.percentile_interval(ref_resampled, confidence),
                "difference": slope - ref_slope,
                "ci": ci,
                "differs": ci is not None and (ci[0] > 0 or ci[1] < 0),
            }
        )
    if not comparisons:
        verdict, summary = UNCLEAR, "no two proportions share two gamma levels of a variant"
    else:
        differing = [
            f"{c['variant']} {c['prop']} vs {c['reference_prop']}" for c in comparisons if c["differs"]
        ]
        verdict = SUPPORTED if differing else NOT_SUPPORTED
        summary = (
            f"{len(differing)} of {len(comparisons)} slope differences exclude 0"
            + (f" ({', '.join(differing)})" if differing else "")
            + f" at a Bonferroni-adjusted {adjusted:.4g} confidence"
        )
    return {
        "statement": "the effect of gamma on the predicted acceptance rate differs between proportions",
        "verdict": verdict,
        "summary": summary,
        "adjusted_confidence": adjusted,
        "comparisons": comparisons,
    }


def run_hypotheses(
    table: list[dict],
    predictions: dict[str, metrics.Predictions],
    priorshift: dict[str, metrics.Predictions],
    settings: dict,
) -> dict:
    """Return every hypothesis test and the prior-shift comparisons as one JSON-ready dict.

    predictions: the fine-tuned predictions by experiment name, all on the same test papers in the same order;
    priorshift: the prior-shift counterparts that were not skipped, by experiment name.
    """
    finetuned = [row for row in table if row["method"] == FINETUNED and not row.get("skipped")]
    if not finetuned:
        raise InputError("the metrics table has no fine-tuned experiment")
    n_papers = predictions[finetuned[0]["name"]].n
    indices = metrics.bootstrap_indices(n_papers, settings["bootstrap_resamples"], settings["bootstrap_seed"])
    runs = build_runs(finetuned, predictions, indices)
    confidence = settings["confidence"]
    baseline = next((run for run in runs.values() if run.variant == "baseline"), None)
    return {
        "settings": settings,
        "n_test_papers": int(n_papers),
        "metric": RATE,
        "hypotheses": {
            "H1": gamma_hypothesis(runs, "accept", +1, baseline, confidence),
            "H2": gamma_hypothesis(runs, "reject", -1, baseline, confidence),
            "H3": mix_hypothesis(runs, confidence),
            "H4": interaction_hypothesis(runs, baseline, confidence),
        },
        "priorshift": priorshift_comparisons(runs.values(), table, priorshift, indices, confidence, baseline),
        "verdict_rules": VERDICT_RULES,
    }

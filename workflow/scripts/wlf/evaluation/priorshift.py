"""Prior-shift counterpart of an experiment: the baseline's P(Accept) moved by the odds its weighting and mix imply,
and the paired comparison of a fine-tuned model with its counterpart.

Weighting the loss of one class by gamma moves the optimal posterior odds by gamma (Accept) or 1/gamma (Reject);
training on an accept fraction pi instead of the baseline's pi0 moves them by [pi/(1-pi)] / [pi0/(1-pi0)].
So: odds' = odds_base * gamma^(+1 accept | -1 reject | 0 baseline) * [pi/(1-pi)] / [pi0/(1-pi0)].
What fine-tuning changes beyond this threshold move is what the experiment really learnt.
Baseline probabilities are clipped to [1e-6, 1 - 1e-6] first, so 0 and 1 have finite odds.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import stats

from wlf.evaluation import metrics, seeds
from wlf.evaluation.predictions import thresholded_rows
from wlf.experiments import PRIORSHIFT, WEIGHTED_LABEL
from wlf.labels import ACCEPT, REJECT

CLIP = 1e-6
# What a comparison with the counterpart looks at, and its two verdicts
PRIORSHIFT_METRICS = ("predicted_acceptance_rate", "accuracy", "f1", "roc_auc")
# Compared and shown, but not part of the verdict: the counterpart's mean P(Accept) is the theory's odds shift of
# the baseline's probabilities, so a gap is a change of probability scale that leaves decisions and ranks alone.
PRIORSHIFT_REPORTED = ("mean_p_accept",)
PRIORSHIFT_COMPARED = PRIORSHIFT_METRICS + PRIORSHIFT_REPORTED
THRESHOLD_MOVE, BEYOND = "explained by a threshold move", "goes beyond a threshold move"


def odds_factor(variant: str, gamma: float, accept_fraction: float, baseline_accept_fraction: float) -> float:
    """Return the factor by which the experiment's weighting and training mix multiply the baseline's odds."""
    class_factor = {None: 1.0, ACCEPT: gamma, REJECT: 1.0 / gamma}[WEIGHTED_LABEL[variant]]
    prior_factor = (accept_fraction / (1.0 - accept_fraction)) / (
        baseline_accept_fraction / (1.0 - baseline_accept_fraction)
    )
    return class_factor * prior_factor


def shift_probabilities(p_accept: np.ndarray, factor: float) -> np.ndarray:
    """Return the probabilities whose odds are factor times those of p_accept (clipped to [CLIP, 1 - CLIP])."""
    clipped = np.clip(np.asarray(p_accept, dtype=float), CLIP, 1.0 - CLIP)
    odds = clipped / (1.0 - clipped) * factor
    return odds / (1.0 + odds)


def shifted_rows(baseline_rows: list[dict], factor: float, threshold: float) -> list[dict]:
    """Return prediction rows of the counterpart: shifted p_accept, thresholded like the fine-tuned model."""
    shifted = shift_probabilities(np.array([row["p_accept"] for row in baseline_rows]), factor)
    return thresholded_rows(baseline_rows, shifted, threshold)


def resampled_with_auc_cache(predictions: metrics.Predictions, indices: np.ndarray, auc_cache: dict) -> dict:
    """Return PRIORSHIFT_COMPARED per resample, reusing the ROC-AUCs of earlier predictions with the same ranks."""
    # ROC-AUC depends on the labels and the ranks of p_accept only, and every prior shift is a monotone map of
    # the baseline's probabilities: their resampled AUCs are computed once (labels are checked to be equal)
    key = None if predictions.p_accept is None else stats.rankdata(predictions.p_accept).tobytes()
    names = [name for name in PRIORSHIFT_COMPARED if not (name == "roc_auc" and key in auc_cache)]
    values = metrics.resampled_metrics(predictions, indices, 1, names)
    if "roc_auc" not in values:
        values["roc_auc"] = auc_cache[key]
    elif key is not None:
        auc_cache[key] = values["roc_auc"]
    return {name: values[name] for name in PRIORSHIFT_COMPARED}


def compare_priorshift(
    name: str,
    finetuned: dict[str, seeds.Estimate],
    shifted: dict[str, seeds.Estimate],
    confidence: float,
    pair: bool,
) -> dict:
    """Return fine-tuned - prior-shift differences of PRIORSHIFT_COMPARED with intervals, and the verdict.

    finetuned, shifted: each side's Estimate of every compared metric (means over their seeds, on the same test paper
    resamples). The intervals are Bonferroni-adjusted for the number of verdict metrics: the verdict "beyond" is
    claimed if any of PRIORSHIFT_METRICS excludes 0 (PRIORSHIFT_REPORTED are shown at the same level, outside the
    verdict).
    """
    adjusted = 1.0 - (1.0 - confidence) / len(PRIORSHIFT_METRICS)
    differences = {}
    for metric in PRIORSHIFT_COMPARED:
        compared = seeds.difference(
            finetuned[metric], shifted[metric], adjusted, pair, metrics.metric_bounds(metric)
        )
        ci = compared["ci"]
        differences[metric] = {
            "finetuned": metrics.none_if_nan(finetuned[metric].point),
            "priorshift": metrics.none_if_nan(shifted[metric].point),
            "difference": compared["value"],
            "ci": ci,
            "excludes_zero": ci is not None and (ci[0] > 0 or ci[1] < 0),
            "in_verdict": metric in PRIORSHIFT_METRICS,
        }
    beyond = [metric for metric in PRIORSHIFT_METRICS if differences[metric]["excludes_zero"]]
    return {
        "name": name,
        "differences": differences,
        "verdict": BEYOND if beyond else THRESHOLD_MOVE,
        "beyond_in": beyond,
    }


def priorshift_comparisons(
    runs: Iterable,
    table: list[dict],
    priorshift: dict[str, list[metrics.Predictions]],
    indices: np.ndarray,
    levels,
    baseline=None,
) -> dict:
    """Return the prior-shift comparisons, or why they are absent (skipped counterparts, no baseline).

    runs: the fine-tuned runs (each with .name, .prop, .seeds and .predictions per seed); table: the aggregated
    rows; priorshift: the counterparts that were not skipped, one per seed of the baseline, by name, on the same
    test papers; levels: hypothesis_tests.Levels (confidence, pairing).
    """
    rows = {row["name"]: row for row in table if row["method"] == PRIORSHIFT}
    comparisons, absent, auc_cache = [], [], {}
    # the counterpart of seed s moves the baseline's seed s: it shares the baseline's training set and seeds
    # (seeds.make_estimate drops labels that do not match the prediction sets, so such a pair is never paired)
    shifted_seeds = baseline.seeds if baseline is not None else ()
    shifted_block = baseline.prop if baseline is not None else None
    for run in runs:
        if baseline is not None and run.name == baseline.name:
            continue
        row = rows.get(run.name)
        if row is None:
            absent.append({"name": run.name, "reason": "no prior-shift metrics in the table"})
        elif row.get("skipped"):
            absent.append({"name": run.name, "reason": row["skipped"]})
        else:
            shifted = priorshift[run.name]
            finetuned_estimates = seeds.metric_estimates(
                run.predictions,
                PRIORSHIFT_COMPARED,
                lambda p: metrics.resampled_metrics(p, indices, 1, PRIORSHIFT_COMPARED),
                run.seeds,
                run.prop,
            )
            shifted_estimates = seeds.metric_estimates(
                shifted,
                PRIORSHIFT_COMPARED,
                lambda p: resampled_with_auc_cache(p, indices, auc_cache),
                shifted_seeds,
                shifted_block,
            )
            comparisons.append(
                compare_priorshift(
                    run.name, finetuned_estimates, shifted_estimates, levels.confidence, levels.pair
                )
            )
    reasons = sorted({entry["reason"] for entry in absent})
    return {
        "available": bool(comparisons),
        "adjusted_confidence": 1.0 - (1.0 - levels.confidence) / len(PRIORSHIFT_METRICS),
        "absent": absent,
        "note": "; ".join(reasons) if reasons else None,
        "comparisons": comparisons,
    }

"""How far fine-tuning moved each experiment from the untrained model: fine-tuned minus zero-shot, per outcome.

The zero-shot reference is one deterministic inference of the base model on the test set: it has no seed
variance, only the test papers'. Its estimate is resampled on the same paper indices as every experiment's, so
each difference is paired on papers; the interval of a difference is made by difference_interval, the one call
to change when the interval method changes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from wlf.evaluation import metrics
from wlf.evaluation.hypothesis_tests import paired_difference
from wlf.evaluation.outcomes import OUTCOMES, Estimate, Outcome, estimate, missing_reason


def zeroshot_estimate(predictions: metrics.Predictions, outcome: Outcome, indices: np.ndarray) -> Estimate:
    """Return the zero-shot value of an outcome and its value on each resample of the papers (rows of indices): one
    prediction set, so it adds no seed variance to a difference (it has none: the base model is not trained)."""
    return estimate([predictions], outcome, indices)


def difference_interval(finetuned: Estimate, zeroshot: Estimate, confidence: float, bounds) -> dict:
    """Return {"difference", "ci"} of fine-tuned minus zero-shot: over the fine-tuned seeds and the paired papers."""
    return paired_difference(finetuned, zeroshot, confidence, bounds=bounds)


def zeroshot_comparisons(
    runs: Iterable, predictions: metrics.Predictions | None, indices: np.ndarray, confidence: float
) -> dict:
    """Return, per outcome, each fine-tuned experiment's value, the zero-shot value and their difference.

    runs: the fine-tuned experiments (hypothesis_tests.Run: name and estimates by outcome key); predictions: the
    zero-shot predictions on the same papers, or None when the study has none.
    """
    if predictions is None:
        return {"available": False, "note": "no zero-shot predictions", "outcomes": {}}
    runs = list(runs)
    outcomes = {}
    for outcome in OUTCOMES:
        reason = missing_reason(outcome, [predictions])
        if reason is None and any(outcome.key not in run.estimates for run in runs):
            reason = f"the fine-tuned models have none: {metrics.NO_PROBABILITIES}"
        if reason is not None:
            outcomes[outcome.key] = {
                "label": outcome.label,
                "note": reason,
                "zeroshot": None,
                "comparisons": [],
            }
            continue
        reference = zeroshot_estimate(predictions, outcome, indices)
        outcomes[outcome.key] = {
            "label": outcome.label,
            "note": None,
            "zeroshot": reference.point,
            "comparisons": [
                {
                    "name": run.name,
                    "finetuned": run.estimates[outcome.key].point,
                    **difference_interval(run.estimates[outcome.key], reference, confidence, outcome.bounds),
                }
                for run in runs
            ],
        }
    return {"available": True, "note": None, "confidence": confidence, "outcomes": outcomes}

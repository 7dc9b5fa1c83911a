"""The outcomes the hypotheses are tested on, and each experiment's estimate of one: a point value and its value
on every bootstrap resample.

- predicted acceptance rate: the mean over test papers of pred == Accept (thresholded; 0 or 1 when every paper
  gets the same answer);
- mean P(Accept): the mean over test papers of p_accept (threshold-free; absent in generate mode).

Both are means of a per-paper value (wlf.evaluation.metrics.PER_PAPER_INDICATORS), so one resample's value is the
mean over its paper indices. This module is the one place that turns predictions into resampled arrays; the
hypothesis tests and the verdicts only see the arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wlf.evaluation import metrics

RATE, MEAN_P = "predicted_acceptance_rate", "mean_p_accept"


@dataclass(frozen=True)
class Outcome:
    """One outcome: its metric key, its label in reports, and the interval its values lie in."""

    key: str
    label: str
    needs_probabilities: bool
    bounds: tuple[float, float] = (0.0, 1.0)


OUTCOMES = (
    Outcome(RATE, "predicted acceptance rate", needs_probabilities=False),
    Outcome(MEAN_P, "mean P(Accept)", needs_probabilities=True),
)
OUTCOME_BY_KEY = {outcome.key: outcome for outcome in OUTCOMES}


@dataclass(frozen=True)
class Estimate:
    """One experiment's value of one outcome: the point estimate and its value on each bootstrap resample."""

    point: float
    resampled: np.ndarray


def missing_reason(outcome: Outcome, predictions: list[metrics.Predictions]) -> str | None:
    """Return why the outcome cannot be computed for these predictions, or None when it can."""
    if outcome.needs_probabilities and any(p.p_accept is None for p in predictions):
        return metrics.NO_PROBABILITIES
    return None


def estimate(predictions: metrics.Predictions, outcome: Outcome, indices: np.ndarray) -> Estimate:
    """Return the outcome's point value and its value on each resample (rows of indices, shared by experiments)."""
    values = metrics.PER_PAPER_INDICATORS[outcome.key](predictions)
    return Estimate(point=float(values.mean()), resampled=values[indices].mean(axis=1))

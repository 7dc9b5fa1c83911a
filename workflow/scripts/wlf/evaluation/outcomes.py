"""The outcomes the hypotheses are tested on, and each experiment's estimate of one: a point value and its value
on every bootstrap resample.

- predicted acceptance rate: the mean over test papers of pred == Accept (thresholded; 0 or 1 when every paper
  gets the same answer);
- mean P(Accept): the mean over test papers of p_accept (threshold-free; absent in generate mode).

Both are means of a per-paper value (Outcome.per_paper), so one resample's value on one seed's predictions is
the mean over its paper indices: no metric but the outcome itself is computed on the resamples. An experiment's estimate is the mean over its training
seeds, kept with each seed's value on every test-paper resample (the resamples are shared by all experiments), so
that wlf.evaluation.seeds can put an interval over seeds and test papers on any contrast of estimates. This module is the one place that turns predictions into resampled arrays; the hypothesis tests
and the verdicts only see the arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from wlf.evaluation import metrics, seeds
from wlf.evaluation.seeds import Estimate
from wlf.labels import ACCEPT

RATE, MEAN_P = "predicted_acceptance_rate", "mean_p_accept"


@dataclass(frozen=True)
class Outcome:
    """One outcome: its metric key, its label in reports, the per-paper value it is the mean of, and the
    interval its values lie in."""

    key: str
    label: str
    needs_probabilities: bool
    per_paper: Callable[[metrics.Predictions], np.ndarray]

    @property
    def bounds(self) -> tuple[float, float]:
        """Return the interval the outcome's values lie in: its metric's (metrics.metric_bounds)."""
        return metrics.metric_bounds(self.key)


OUTCOMES = (
    Outcome(
        RATE,
        "predicted acceptance rate",
        needs_probabilities=False,
        per_paper=lambda p: (p.preds == ACCEPT).astype(float),
    ),
    Outcome(
        MEAN_P,
        "mean P(Accept)",
        needs_probabilities=True,
        per_paper=lambda p: np.asarray(p.p_accept, dtype=float),
    ),
)
OUTCOME_BY_KEY = {outcome.key: outcome for outcome in OUTCOMES}


def missing_reason(outcome: Outcome, predictions: list[metrics.Predictions]) -> str | None:
    """Return why the outcome cannot be computed for these predictions, or None when it can."""
    if outcome.needs_probabilities and any(p.p_accept is None for p in predictions):
        return metrics.NO_PROBABILITIES
    return None


def estimate(
    predictions: list[metrics.Predictions],
    outcome: Outcome,
    indices: np.ndarray,
    seed_labels: tuple = (),
    block: str | None = None,
) -> Estimate:
    """Return the outcome's estimate from each seed's predictions on the paper resamples (rows of indices, shared
    by every experiment); seed_labels and block (the training set) let contrasts pair runs that share a seed."""
    values = [outcome.per_paper(seed_predictions) for seed_predictions in predictions]
    return seeds.make_estimate(
        [float(v.mean()) for v in values], np.stack([v[indices].mean(axis=1) for v in values]), seed_labels, block
    )

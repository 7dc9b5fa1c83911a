"""Metrics of Accept/Reject predictions (scikit-learn) and paired percentile-bootstrap intervals.

Invalid answers (generate mode) count as wrong everywhere: they are never a correct prediction (accuracy,
recall, specificity, balanced accuracy) and never an Accept (precision, predicted acceptance rate); MCC
treats them as a third class. The confusion matrix counts valid predictions only, so
tp + fp + tn + fn = n - n_invalid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    matthews_corrcoef,
    precision_recall_fscore_support,
    roc_auc_score,
)

from wlf.evaluation import resampling
from wlf.labels import ACCEPT, INVALID, REJECT

LABEL_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "specificity",
    "balanced_accuracy",
    "mcc",
    "predicted_acceptance_rate",
    "true_acceptance_rate",
)
# mean_p_accept (the mean P(Accept) over test papers) is the threshold-free twin of the predicted acceptance rate:
# it moves with the probabilities even when no paper crosses the threshold.
PROBABILITY_METRICS = ("mean_p_accept", "roc_auc", "pr_auc", "brier", "ece")
# Why the probability metrics are None: only generate mode writes predictions without p_accept.
NO_PROBABILITIES = "no probabilities (infer.mode = generate)"
SCALAR_METRICS = LABEL_METRICS + PROBABILITY_METRICS
# The metrics that get a bootstrap interval under "ci": all but the true acceptance rate, a fact of the test set.
CI_METRICS = tuple(name for name in SCALAR_METRICS if name != "true_acceptance_rate")


@dataclass(frozen=True)
class Predictions:
    """One prediction file as arrays, aligned by test paper."""

    ids: tuple[str, ...]
    labels: np.ndarray  # str, "Accept" | "Reject"
    preds: np.ndarray  # str, "Accept" | "Reject" | "invalid"
    p_accept: np.ndarray | None  # float in [0, 1], or None when the file has no probabilities

    @property
    def n(self) -> int:
        return len(self.ids)


def predictions_from_rows(rows: Sequence[dict]) -> Predictions:
    """Return the arrays of validated prediction rows (see wlf.evaluation.predictions.read_predictions)."""
    has_p = bool(rows) and rows[0]["p_accept"] is not None
    return Predictions(
        ids=tuple(row["id"] for row in rows),
        labels=np.array([row["label"] for row in rows], dtype=object),
        preds=np.array([row["pred"] for row in rows], dtype=object),
        p_accept=np.array([row["p_accept"] for row in rows], dtype=float) if has_p else None,
    )


def take(predictions: Predictions, indices: np.ndarray) -> Predictions:
    """Return the predictions of the papers at indices (repeats allowed: one bootstrap resample)."""
    return Predictions(
        ids=tuple(predictions.ids[i] for i in indices),
        labels=predictions.labels[indices],
        preds=predictions.preds[indices],
        p_accept=None if predictions.p_accept is None else predictions.p_accept[indices],
    )


def expected_calibration_error(is_accept: np.ndarray, p_accept: np.ndarray, n_bins: int) -> float:
    """Return ECE = sum over equal-width bins of (bin share) * |accept frequency - mean p_accept|."""
    # scikit-learn has the reliability curve but no ECE; the bins match calibration_curve(strategy="uniform").
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bin_of = np.searchsorted(edges[1:-1], p_accept)
    counts = np.bincount(bin_of, minlength=n_bins)
    observed = np.bincount(bin_of, weights=is_accept.astype(float), minlength=n_bins)
    predicted = np.bincount(bin_of, weights=p_accept, minlength=n_bins)
    filled = counts > 0
    gaps = np.abs(observed[filled] - predicted[filled]) / counts[filled]
    return float(np.sum(counts[filled] / len(p_accept) * gaps))


def _recall_family(predictions: Predictions) -> dict[str, float]:
    """Return Accept's precision, recall, F1, Reject's recall (specificity) and their mean, from one sklearn call."""
    precision, recall, f1, _ = precision_recall_fscore_support(
        predictions.labels, predictions.preds, labels=[ACCEPT, REJECT], average=None, zero_division=np.nan
    )
    return {
        "precision": float(precision[0]),
        "recall": float(recall[0]),
        "f1": float(f1[0]),
        "specificity": float(recall[1]),
        # the mean of the two recalls; balanced_accuracy_score would also average over an "invalid"
        # class that no paper truly has
        "balanced_accuracy": float(np.mean(recall)),
    }


RECALL_FAMILY = ("precision", "recall", "f1", "specificity", "balanced_accuracy")


def _roc_auc(predictions: Predictions, ece_bins: int) -> float:
    """Return ROC-AUC of p_accept, NaN unless both classes occur."""
    is_accept = predictions.labels == ACCEPT
    both_classes = 0 < int(is_accept.sum()) < len(is_accept)
    return float(roc_auc_score(is_accept, predictions.p_accept)) if both_classes else math.nan


def _pr_auc(predictions: Predictions, ece_bins: int) -> float:
    """Return the average precision of p_accept for Accept, NaN without an accepted paper."""
    is_accept = predictions.labels == ACCEPT
    return float(average_precision_score(is_accept, predictions.p_accept)) if is_accept.any() else math.nan


# One function per metric outside the recall family; NaN where undefined.
SINGLE_METRICS: dict[str, Callable[[Predictions, int], float]] = {
    "accuracy": lambda p, bins: float(accuracy_score(p.labels, p.preds)),
    "mcc": lambda p, bins: float(matthews_corrcoef(p.labels, p.preds)),
    "predicted_acceptance_rate": lambda p, bins: float(np.mean(p.preds == ACCEPT)),
    "true_acceptance_rate": lambda p, bins: float(np.mean(p.labels == ACCEPT)),
    "mean_p_accept": lambda p, bins: float(np.mean(p.p_accept)),
    "roc_auc": _roc_auc,
    "pr_auc": _pr_auc,
    "brier": lambda p, bins: float(brier_score_loss(p.labels == ACCEPT, p.p_accept, pos_label=True)),
    "ece": lambda p, bins: expected_calibration_error(p.labels == ACCEPT, p.p_accept, bins),
}


def scalar_metrics(predictions: Predictions, ece_bins: int, names=None) -> dict[str, float]:
    """Return the named scalar metrics (all by default), NaN where undefined, computing only what they need."""
    names = SCALAR_METRICS if names is None else tuple(names)
    values: dict[str, float] = {}
    if set(names) & set(RECALL_FAMILY):
        values.update(_recall_family(predictions))
    for name in names:
        if name in values:
            continue
        if name in PROBABILITY_METRICS and predictions.p_accept is None:
            values[name] = math.nan
        else:
            values[name] = SINGLE_METRICS[name](predictions, ece_bins)
    return {name: values[name] for name in names}


def confusion_counts(predictions: Predictions) -> dict[str, int]:
    """Return {tp, fp, tn, fn} of the Accept class over valid predictions (invalid ones are left out)."""
    matrix = confusion_matrix(predictions.labels, predictions.preds, labels=[ACCEPT, REJECT])
    (tp, fn), (fp, tn) = matrix.tolist()
    return {"tp": tp, "fp": fp, "tn": tn, "fn": fn}


def metric_bounds(name: str) -> tuple[float, float]:
    """Return the range of a metric's values: MCC runs from -1 to 1, every other metric from 0 to 1."""
    return (-1.0, 1.0) if name == "mcc" else (0.0, 1.0)


def none_if_nan(value: float) -> float | None:
    """Return value, or None for NaN (JSON has no NaN)."""
    return None if value is None or math.isnan(value) else float(value)


def point_metrics(predictions: Predictions, ece_bins: int) -> dict:
    """Return every metric of one prediction set; undefined ones are None."""
    values = {name: none_if_nan(value) for name, value in scalar_metrics(predictions, ece_bins).items()}
    return {
        "n": predictions.n,
        "n_invalid": int(np.sum(predictions.preds == INVALID)),
        "has_probabilities": predictions.p_accept is not None,
        "probability_metrics_absent": None if predictions.p_accept is not None else NO_PROBABILITIES,
        **values,
        "confusion": confusion_counts(predictions),
    }


def bootstrap_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """Return a (resamples, n) array of paper indices drawn with replacement; equal seeds give equal draws."""
    if n < 1:
        raise ValueError("cannot bootstrap an empty prediction set")
    if resamples < 1:
        raise ValueError(f"bootstrap_resamples = {resamples} must be at least 1")
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def resampled_metrics(
    predictions: Predictions, indices: np.ndarray, ece_bins: int, names=CI_METRICS
) -> dict[str, np.ndarray]:
    """Return metric -> its value on each bootstrap resample (rows of indices); NaN where undefined.

    All resamples at once (wlf.evaluation.resampling); equal, resample by resample, to scalar_metrics of take().
    """
    values: dict[str, np.ndarray] = {}
    if set(names) & set(LABEL_METRICS):
        values.update(resampling.label_metrics(predictions.labels, predictions.preds, indices))
    if set(names) & set(PROBABILITY_METRICS):
        if predictions.p_accept is None:
            values.update({name: np.full(len(indices), np.nan) for name in PROBABILITY_METRICS})
        else:
            is_accept = predictions.labels == ACCEPT
            values.update(resampling.probability_metrics(is_accept, predictions.p_accept, indices, ece_bins))
    return {name: np.asarray(values[name], dtype=float) for name in names}


def percentile_interval(values: np.ndarray, confidence: float) -> list[float] | None:
    """Return the [lo, hi] percentile interval of the finite values, or None when there are none."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence = {confidence} must be in (0, 1)")
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    tail_percent = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(finite, [tail_percent, 100.0 - tail_percent])
    return [float(lo), float(hi)]


def bootstrap_cis(
    predictions: Predictions, indices: np.ndarray, confidence: float, ece_bins: int, names=CI_METRICS
) -> dict[str, list[float] | None]:
    """Return metric -> [lo, hi] paired-percentile-bootstrap interval over the resamples in indices."""
    resampled = resampled_metrics(predictions, indices, ece_bins, names)
    return {name: percentile_interval(resampled[name], confidence) for name in names}


INVALID_POLICY = (
    "invalid answers count as wrong (accuracy, recall, specificity, balanced accuracy), never as an Accept "
    "(precision, predicted acceptance rate), as a third class in MCC, and are left out of the confusion matrix"
)


def evaluate_predictions(predictions: Predictions, settings: dict) -> dict:
    """Return the point metrics and the bootstrap intervals of one prediction set (settings: config evaluate)."""
    indices = bootstrap_indices(predictions.n, settings["bootstrap_resamples"], settings["bootstrap_seed"])
    return {
        **point_metrics(predictions, settings["ece_bins"]),
        "invalid_policy": INVALID_POLICY,
        "ci": bootstrap_cis(predictions, indices, settings["confidence"], settings["ece_bins"]),
        "bootstrap": {
            "method": "percentile, resampling test papers with replacement",
            "resamples": settings["bootstrap_resamples"],
            "seed": settings["bootstrap_seed"],
            "confidence": settings["confidence"],
        },
    }

"""Every metric on every bootstrap resample at once: numpy over a (resamples, papers) index array.

A resample's metric equals metrics.scalar_metrics on that resample's papers (scikit-learn's definitions,
including their ties and undefined cases; tests compare the two on random predictions), but one array operation
replaces a scikit-learn call per resample: the difference between seconds and minutes once every experiment has
several training seeds and 1,000 resamples.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from wlf.labels import ACCEPT, INVALID, REJECT


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Return numerator / denominator, NaN where the denominator is 0 (scikit-learn's zero_division=nan)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def label_metrics(labels: np.ndarray, preds: np.ndarray, indices: np.ndarray) -> dict[str, np.ndarray]:
    """Return the thresholded metrics of each resample (rows of indices) from its confusion counts."""
    is_accept, is_reject = (labels == ACCEPT)[indices], (labels == REJECT)[indices]
    said_accept, said_reject = (preds == ACCEPT)[indices], (preds == REJECT)[indices]
    said_invalid = (preds == INVALID)[indices]
    n = indices.shape[1]
    tp = (is_accept & said_accept).sum(axis=1)
    tn = (is_reject & said_reject).sum(axis=1)
    n_accept, n_reject = is_accept.sum(axis=1), is_reject.sum(axis=1)
    n_said_accept = said_accept.sum(axis=1)
    recall, specificity = _ratio(tp, n_accept), _ratio(tn, n_reject)
    fp, fn = n_said_accept - tp, n_accept - tp
    # MCC over the classes of labels and predictions (an invalid answer is a third class), as scikit-learn has it
    true_counts = np.stack([n_accept, n_reject])
    pred_counts = np.stack([n_said_accept, said_reject.sum(axis=1), said_invalid.sum(axis=1)])
    covariance = (tp + tn) * n - (true_counts * pred_counts[:2]).sum(axis=0)
    spread = (n**2 - (pred_counts**2).sum(axis=0)) * (n**2 - (true_counts**2).sum(axis=0))
    with np.errstate(invalid="ignore"):
        mcc = np.where(spread > 0, covariance / np.sqrt(np.where(spread > 0, spread, 1)), 0.0)
    return {
        "accuracy": (tp + tn) / n,
        "precision": _ratio(tp, n_said_accept),
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "specificity": specificity,
        "balanced_accuracy": (recall + specificity) / 2,
        "mcc": mcc,
        "predicted_acceptance_rate": said_accept.mean(axis=1),
        "true_acceptance_rate": is_accept.mean(axis=1),
    }


def roc_auc(is_accept: np.ndarray, p_accept: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Return each resample's ROC-AUC (Mann-Whitney U with average ranks for ties), NaN without both classes."""
    positive, scores = is_accept[indices], p_accept[indices]
    ranks = rankdata(scores, method="average", axis=1)
    n_pos = positive.sum(axis=1)
    n_neg = positive.shape[1] - n_pos
    u = (ranks * positive).sum(axis=1) - n_pos * (n_pos + 1) / 2
    return _ratio(u, n_pos * n_neg)


def average_precision(is_accept: np.ndarray, p_accept: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Return each resample's average precision: sum over distinct thresholds of recall gain x precision."""
    scores, positive = p_accept[indices], is_accept[indices].astype(float)
    order = np.argsort(-scores, axis=1, kind="stable")
    scores, positive = np.take_along_axis(scores, order, 1), np.take_along_axis(positive, order, 1)
    true_positives = np.cumsum(positive, axis=1)
    precision = true_positives / np.arange(1, scores.shape[1] + 1)
    # a tie group counts once, at its last paper: every position takes the precision there
    last_of_group = np.ones_like(scores, dtype=bool)
    last_of_group[:, :-1] = scores[:, :-1] != scores[:, 1:]
    position = np.where(last_of_group, np.arange(scores.shape[1]), scores.shape[1])
    group_end = np.minimum.accumulate(position[:, ::-1], axis=1)[:, ::-1]
    group_precision = np.take_along_axis(precision, group_end, 1)
    return _ratio((positive * group_precision).sum(axis=1), positive.sum(axis=1))


def calibration_metrics(
    is_accept: np.ndarray, p_accept: np.ndarray, indices: np.ndarray, n_bins: int
) -> dict[str, np.ndarray]:
    """Return each resample's Brier score and expected calibration error (metrics.expected_calibration_error)."""
    truth, scores = is_accept[indices].astype(float), p_accept[indices]
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], scores) + n_bins * np.arange(len(indices))[:, None]
    size = n_bins * len(indices)
    observed = np.bincount(bins.ravel(), weights=truth.ravel(), minlength=size).reshape(len(indices), n_bins)
    predicted = np.bincount(bins.ravel(), weights=scores.ravel(), minlength=size).reshape(
        len(indices), n_bins
    )
    return {
        "brier": ((scores - truth) ** 2).mean(axis=1),
        # sum over bins of (share of papers) x |accept frequency - mean p| = sum |observed - predicted| / n
        "ece": np.abs(observed - predicted).sum(axis=1) / indices.shape[1],
    }


def probability_metrics(
    is_accept: np.ndarray, p_accept: np.ndarray, indices: np.ndarray, n_bins: int
) -> dict[str, np.ndarray]:
    """Return the threshold-free metrics of each resample."""
    return {
        "mean_p_accept": p_accept[indices].mean(axis=1),
        "roc_auc": roc_auc(is_accept, p_accept, indices),
        "pr_auc": average_precision(is_accept, p_accept, indices),
        **calibration_metrics(is_accept, p_accept, indices, n_bins),
    }

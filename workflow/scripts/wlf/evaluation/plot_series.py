"""The series each figure draws, as pure functions of the metrics table (tested without drawing anything).

Curves carry their colour (Okabe-Ito, colour-blind-safe), line style, marker and panel; wlf.evaluation.plot_drawing
draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from sklearn.calibration import calibration_curve

from wlf.evaluation import metrics
from wlf.evaluation.table import MEAN, aggregated
from wlf.experiments import (
    FINETUNED,
    PRIORSHIFT,
    TFIDF,
    VARIANTS,
    ZEROSHOT,
    format_gamma,
    proportion_denominator,
)
from wlf.labels import ACCEPT

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000"]
HEATMAP_METRICS = ("predicted_acceptance_rate", "accuracy", "f1")
METRIC_LABELS = {
    "predicted_acceptance_rate": "predicted acceptance rate",
    "mean_p_accept": "mean P(Accept)",
    "accuracy": "accuracy",
    "f1": "F1 (Accept)",
    "precision": "precision (Accept)",
    "recall": "recall (Accept)",
}
VARIANT_STYLES = {"baseline": "-", "accept": "-", "reject": "--"}
VARIANT_MARKERS = {"baseline": "*", "accept": "o", "reject": "s"}
METHOD_LABELS = {FINETUNED: "fine-tuned", PRIORSHIFT: "prior shift", TFIDF: "TF-IDF + LR"}


@dataclass
class Curve:
    """One plotted line: values (with optional CI band) of one variant and proportion against gamma or step."""

    label: str
    x: list[float]
    y: list[float]
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)
    color: str = "#000000"
    linestyle: str = "-"
    marker: str | None = None
    panel: str = ""
    notes: list[str] = field(default_factory=list)  # per-point annotations


def prop_label(prop: str) -> str:
    """Return "accept fraction 1/N" for a proportion string 1_N."""
    return f"accept fraction 1/{proportion_denominator(prop)}"


def prop_colors(props) -> dict[str, str]:
    """Return a fixed colour per proportion, accept-rich first."""
    ordered = sorted(set(props), key=proportion_denominator)
    return {prop: OKABE_ITO[i % len(OKABE_ITO)] for i, prop in enumerate(ordered)}


def gamma_colors(gammas) -> dict[float, str]:
    """Return a fixed colour per gamma (gamma 1, the baseline, is black)."""
    ordered = sorted(set(gammas) - {1.0})
    colors = {gamma: OKABE_ITO[i % (len(OKABE_ITO) - 1)] for i, gamma in enumerate(ordered)}
    return {1.0: "#000000", **colors}


def experiment_rows_and_zeroshot(rows: list[dict]) -> tuple[list[dict], dict | None]:
    """Return (the rows of the experiments' methods, the zero-shot reference's aggregated row or None)."""
    zeroshot = next((row for row in usable(rows, ZEROSHOT)), None)
    return [row for row in rows if row["method"] != ZEROSHOT], zeroshot


def zeroshot_value(zeroshot: dict | None, metric: str) -> float | None:
    """Return the zero-shot reference's value of metric, or None without a reference or a value."""
    value = None if zeroshot is None else zeroshot.get(metric)
    return None if value is None else float(value)


def usable(rows: list[dict], method: str) -> list[dict]:
    """Return one method's aggregated rows (the mean over seeds) that were not skipped."""
    return [row for row in aggregated(rows) if row["method"] == method and not row.get("skipped")]


def seed_points(rows: list[dict], metric: str) -> list[Curve]:
    """Return each training seed's value of metric against gamma (markers only), per variant and proportion."""
    colors = prop_colors(row["prop"] for row in rows)
    per_seed = [
        row for row in rows if row["method"] == FINETUNED and row["seed"] != MEAN and not row.get("skipped")
    ]
    baseline = [row for row in per_seed if row["variant"] == "baseline"]
    curves = []
    for variant in ("accept", "reject"):
        for prop in sorted(
            {r["prop"] for r in per_seed if r["variant"] == variant}, key=proportion_denominator
        ):
            points = [r for r in per_seed if r["variant"] == variant and r["prop"] == prop]
            points += [r for r in baseline if r["prop"] == prop]
            curves.append(
                Curve(
                    label="",
                    x=[float(r["gamma"]) for r in points],
                    y=[_value(r, metric) for r in points],
                    color=colors[prop],
                    linestyle="none",
                    marker=".",
                    panel=variant,
                )
            )
    return curves


def _value(row: dict, key: str) -> float:
    """Return a table cell as a float, NaN when it is empty."""
    value = row.get(key)
    return math.nan if value is None else float(value)


def gamma_curves(rows: list[dict], metric: str) -> list[Curve]:
    """Return metric-vs-gamma curves: one per variant x proportion for the fine-tuned models (with CI) and,
    dashed, for their prior-shift counterparts; the baseline (gamma 1) starts the curves of its proportion."""
    finetuned = usable(rows, FINETUNED)
    baseline = next((row for row in finetuned if row["variant"] == "baseline"), None)
    colors = prop_colors(row["prop"] for row in rows)
    curves = []
    for method in (FINETUNED, PRIORSHIFT):
        method_rows = usable(rows, method)
        for variant in ("accept", "reject"):
            props = sorted(
                {row["prop"] for row in method_rows if row["variant"] == variant},
                key=proportion_denominator,
            )
            for prop in props:
                points = sorted(
                    (row for row in method_rows if row["variant"] == variant and row["prop"] == prop),
                    key=lambda row: row["gamma"],
                )
                # the prior shift of the baseline onto its own proportion is the baseline itself
                if baseline is not None and baseline["prop"] == prop:
                    points = [baseline, *points]
                with_ci = method == FINETUNED
                curves.append(
                    Curve(
                        label=f"{prop_label(prop)}, {METHOD_LABELS[method]}",
                        x=[float(row["gamma"]) for row in points],
                        y=[_value(row, metric) for row in points],
                        lo=[_value(row, f"{metric}_ci_lo") for row in points] if with_ci else [],
                        hi=[_value(row, f"{metric}_ci_hi") for row in points] if with_ci else [],
                        color=colors[prop],
                        linestyle="-" if method == FINETUNED else "--",
                        marker="o" if method == FINETUNED else None,
                        panel=variant,
                    )
                )
    return curves


def true_acceptance_rate(rows: list[dict]) -> float | None:
    """Return the test set's true acceptance rate (the same in every row), or None without rows."""
    rates = {round(float(row["true_acceptance_rate"]), 12) for row in usable(rows, FINETUNED)}
    return rates.pop() if len(rates) == 1 else None


def missing_note(rows: list[dict], metric: str) -> str | None:
    """Return why no fine-tuned row has the metric (a probability metric in generate mode), or None."""
    finetuned = usable(rows, FINETUNED)
    if (
        metric in metrics.PROBABILITY_METRICS
        and finetuned
        and all(row.get(metric) is None for row in finetuned)
    ):
        return metrics.NO_PROBABILITIES
    return None


def skipped_note(rows: list[dict], method: str) -> str | None:
    """Return why a method's rows were skipped, or None when none was."""
    reasons = sorted({row["skipped"] for row in rows if row["method"] == method and row.get("skipped")})
    return "; ".join(reasons) if reasons else None


def heatmap_matrix(rows: list[dict], metric: str) -> tuple[list[str], list[tuple[str, float]], np.ndarray]:
    """Return (proportions, (variant, gamma) columns, values) of the fine-tuned metric; NaN where not run."""
    finetuned = usable(rows, FINETUNED)
    props = sorted({row["prop"] for row in finetuned}, key=proportion_denominator)
    columns = sorted(
        {(row["variant"], float(row["gamma"])) for row in finetuned},
        key=lambda c: (VARIANTS.index(c[0]), c[1]),
    )
    values = np.full((len(props), len(columns)), np.nan)
    for row in finetuned:
        values[props.index(row["prop"]), columns.index((row["variant"], float(row["gamma"])))] = _value(
            row, metric
        )
    return props, columns, values


def precision_recall_points(rows: list[dict]) -> list[Curve]:
    """Return precision-vs-recall lines: per method, variant and proportion through increasing gamma."""
    colors = prop_colors(row["prop"] for row in rows)
    curves = []
    for method in (FINETUNED, TFIDF):
        method_rows = usable(rows, method)
        for variant in VARIANTS:
            for prop in sorted(
                {r["prop"] for r in method_rows if r["variant"] == variant}, key=proportion_denominator
            ):
                points = sorted(
                    (r for r in method_rows if r["variant"] == variant and r["prop"] == prop),
                    key=lambda r: r["gamma"],
                )
                curves.append(
                    Curve(
                        label=f"{METHOD_LABELS[method]}, {variant}, {prop_label(prop)}",
                        x=[_value(r, "recall") for r in points],
                        y=[_value(r, "precision") for r in points],
                        notes=[f"γ{format_gamma(r['gamma'])}" for r in points],
                        color=colors[prop] if method == FINETUNED else "#999999",
                        linestyle=VARIANT_STYLES[variant] if method == FINETUNED else ":",
                        marker=VARIANT_MARKERS[variant],
                        panel=method,
                    )
                )
    return curves


def panel_props(rows: list[dict]) -> list[str]:
    """Return the proportions of the fine-tuned runs, accept-rich first: one panel each."""
    return sorted({row["prop"] for row in usable(rows, FINETUNED)}, key=proportion_denominator)


def loss_curves(rows: list[dict], summaries: dict[tuple[str, int], dict]) -> list[Curve]:
    """Return training-loss curves (one per run with a summary; the label on a run's first seed only), paneled
    by proportion. summaries: {(experiment name, seed): train_summary.json}."""
    colors = gamma_colors(float(row["gamma"]) for row in usable(rows, FINETUNED))
    curves = []
    for row in usable(rows, FINETUNED):
        runs = sorted((seed, summary) for (name, seed), summary in summaries.items() if name == row["name"])
        for index, (_seed, summary) in enumerate(runs):
            if not summary.get("loss_curve"):
                continue
            curves.append(loss_curve_of(row, summary, colors, labelled=index == 0))
    return curves


def loss_curve_of(row: dict, summary: dict, colors: dict, labelled: bool) -> Curve:
    """Return one run's loss curve, coloured by gamma, dashed when reject-weighted."""
    points = sorted(summary["loss_curve"], key=lambda point: point["step"])
    return Curve(
        label=f"{row['variant']} gamma {format_gamma(row['gamma'])}" if labelled else "",
        x=[float(point["step"]) for point in points],
        y=[float(point["loss"]) for point in points],
        color=colors[float(row["gamma"])],
        linestyle=VARIANT_STYLES[row["variant"]],
        panel=row["prop"],
    )


def calibration_curves(rows: list[dict], predictions: dict[str, list[dict]], n_bins: int) -> list[Curve]:
    """Return reliability curves (fraction truly Accept against mean P(Accept) per bin), paneled by proportion.

    predictions: each experiment's prediction rows, its seeds' pooled (every seed answers every paper).
    """
    colors = gamma_colors(float(row["gamma"]) for row in usable(rows, FINETUNED))
    curves = []
    for row in usable(rows, FINETUNED):
        prediction_rows = predictions.get(row["name"])
        if not prediction_rows or prediction_rows[0]["p_accept"] is None:
            continue
        arrays = metrics.predictions_from_rows(prediction_rows)
        observed, predicted = calibration_curve(arrays.labels == ACCEPT, arrays.p_accept, n_bins=n_bins)
        curves.append(
            Curve(
                label=f"{row['variant']} gamma {format_gamma(row['gamma'])}",
                x=[float(v) for v in predicted],
                y=[float(v) for v in observed],
                color=colors[float(row["gamma"])],
                linestyle=VARIANT_STYLES[row["variant"]],
                marker=VARIANT_MARKERS[row["variant"]],
                panel=row["prop"],
            )
        )
    return curves

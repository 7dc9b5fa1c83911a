"""Figures of the results: rate and accuracy against gamma, precision-recall, heatmaps, loss curves, calibration.

Each figure has a pure builder that returns the series it draws (tested) and a function that draws them into a
matplotlib Figure of a fixed pixel size, Okabe-Ito colour-blind-safe palette. Figures are built with the
object-oriented API (no pyplot): PNGs are rendered by Agg and nothing needs a display.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve

import experiments as grid
import metrics
from prediction_files import read_predictions

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000"]
DPI = 100
WIDE = (12.0, 5.0)  # inches; at DPI 100 a 1200 x 500 pixel image
SQUARE = (8.0, 7.0)
GRID = (12.0, 9.0)
HEATMAP_METRICS = ("predicted_acceptance_rate", "accuracy", "f1")
METRIC_LABELS = {
    "predicted_acceptance_rate": "predicted acceptance rate",
    "accuracy": "accuracy",
    "f1": "F1 (Accept)",
    "precision": "precision (Accept)",
    "recall": "recall (Accept)",
}
VARIANT_STYLES = {"baseline": "-", "accept": "-", "reject": "--"}
VARIANT_MARKERS = {"baseline": "*", "accept": "o", "reject": "s"}
METHOD_LABELS = {"finetuned": "fine-tuned", "priorshift": "prior shift", "tfidf_logreg": "TF-IDF + LR"}
PLOT_FILES = (
    "acceptance_rate_vs_gamma.png",
    "accuracy_vs_gamma.png",
    "precision_recall.png",
    *(f"heatmap_{name}.png" for name in HEATMAP_METRICS),
    "training_loss.png",
    "calibration.png",
)


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
    return f"accept fraction 1/{grid.proportion_denominator(prop)}"


def prop_colors(props) -> dict[str, str]:
    """Return a fixed colour per proportion, accept-rich first."""
    ordered = sorted(set(props), key=grid.proportion_denominator)
    return {prop: OKABE_ITO[i % len(OKABE_ITO)] for i, prop in enumerate(ordered)}


def gamma_colors(gammas) -> dict[float, str]:
    """Return a fixed colour per gamma (gamma 1, the baseline, is black)."""
    ordered = sorted(set(gammas) - {1.0})
    colors = {gamma: OKABE_ITO[i % (len(OKABE_ITO) - 1)] for i, gamma in enumerate(ordered)}
    return {1.0: "#000000", **colors}


def usable(rows: list[dict], method: str) -> list[dict]:
    """Return the rows of one method that were not skipped."""
    return [row for row in rows if row["method"] == method and not row.get("skipped")]


def _value(row: dict, key: str) -> float:
    """Return a table cell as a float, NaN when it is empty."""
    value = row.get(key)
    return math.nan if value is None else float(value)


def gamma_curves(rows: list[dict], metric: str) -> list[Curve]:
    """Return metric-vs-gamma curves: one per variant x proportion for the fine-tuned models (with CI) and,
    dashed, for their prior-shift counterparts; the baseline (gamma 1) starts the curves of its proportion."""
    finetuned = usable(rows, "finetuned")
    baseline = next((row for row in finetuned if row["variant"] == "baseline"), None)
    colors = prop_colors(row["prop"] for row in rows)
    curves = []
    for method in ("finetuned", "priorshift"):
        method_rows = usable(rows, method)
        for variant in ("accept", "reject"):
            props = sorted(
                {row["prop"] for row in method_rows if row["variant"] == variant},
                key=grid.proportion_denominator,
            )
            for prop in props:
                points = sorted(
                    (row for row in method_rows if row["variant"] == variant and row["prop"] == prop),
                    key=lambda row: row["gamma"],
                )
                # the prior shift of the baseline onto its own proportion is the baseline itself
                if baseline is not None and baseline["prop"] == prop:
                    points = [baseline, *points]
                with_ci = method == "finetuned"
                curves.append(
                    Curve(
                        label=f"{prop_label(prop)}, {METHOD_LABELS[method]}",
                        x=[float(row["gamma"]) for row in points],
                        y=[_value(row, metric) for row in points],
                        lo=[_value(row, f"{metric}_ci_lo") for row in points] if with_ci else [],
                        hi=[_value(row, f"{metric}_ci_hi") for row in points] if with_ci else [],
                        color=colors[prop],
                        linestyle="-" if method == "finetuned" else "--",
                        marker="o" if method == "finetuned" else None,
                        panel=variant,
                    )
                )
    return curves


def true_acceptance_rate(rows: list[dict]) -> float | None:
    """Return the test set's true acceptance rate (the same in every row), or None without rows."""
    rates = {round(float(row["true_acceptance_rate"]), 12) for row in usable(rows, "finetuned")}
    return rates.pop() if len(rates) == 1 else None


def skipped_note(rows: list[dict], method: str) -> str | None:
    """Return why a method's rows were skipped, or None when none was."""
    reasons = sorted({row["skipped"] for row in rows if row["method"] == method and row.get("skipped")})
    return "; ".join(reasons) if reasons else None


def plot_curve(axis, curve: Curve, **style) -> None:
    """Draw curve on axis in its own color, line style, marker and label; style adds matplotlib keywords."""
    axis.plot(
        curve.x,
        curve.y,
        color=curve.color,
        linestyle=curve.linestyle,
        marker=curve.marker,
        label=curve.label,
        **style,
    )


def draw_gamma_figure(
    rows: list[dict], metric: str, reference: float | None, reference_label: str, confidence: float = 0.95
):
    """Return a two-panel figure (accept-weighted | reject-weighted) of metric against gamma."""
    curves = gamma_curves(rows, metric)
    figure = Figure(figsize=WIDE, dpi=DPI, layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    gammas = sorted({x for curve in curves for x in curve.x})
    for axis, variant in zip(axes, ("accept", "reject"), strict=True):
        for curve in (c for c in curves if c.panel == variant):
            plot_curve(axis, curve)
            if curve.lo:
                axis.fill_between(curve.x, curve.lo, curve.hi, color=curve.color, alpha=0.15, linewidth=0)
        if reference is not None:
            axis.axhline(reference, color="#555555", linestyle=":", linewidth=1.5, label=reference_label)
        axis.set_xscale("log", base=2)
        if gammas:
            axis.set_xticks(gammas, [grid.format_gamma(g) for g in gammas])
        axis.set_xlabel(f"gamma (loss weight of {variant.capitalize()}-labelled examples)")
        axis.set_title(f"{variant}-weighted loss")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel(METRIC_LABELS[metric])
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[1].legend(handles, labels, fontsize=8, loc="best")
    title = (
        f"{METRIC_LABELS[metric].capitalize()} against gamma "
        f"(bands: {confidence:.0%} bootstrap CI; dashed: prior shift)"
    )
    note = skipped_note(rows, "priorshift")
    if note:
        title += "\n" + textwrap.fill(f"prior-shift curves absent: {note}", width=150)
    figure.suptitle(title, fontsize=11)
    return figure


def heatmap_matrix(rows: list[dict], metric: str) -> tuple[list[str], list[tuple[str, float]], np.ndarray]:
    """Return (proportions, (variant, gamma) columns, values) of the fine-tuned metric; NaN where not run."""
    finetuned = usable(rows, "finetuned")
    props = sorted({row["prop"] for row in finetuned}, key=grid.proportion_denominator)
    columns = sorted(
        {(row["variant"], float(row["gamma"])) for row in finetuned},
        key=lambda c: (grid.VARIANTS.index(c[0]), c[1]),
    )
    values = np.full((len(props), len(columns)), np.nan)
    for row in finetuned:
        values[props.index(row["prop"]), columns.index((row["variant"], float(row["gamma"])))] = _value(
            row, metric
        )
    return props, columns, values


def draw_heatmap(rows: list[dict], metric: str):
    """Return a proportion x (variant, gamma) heatmap of the fine-tuned metric, each cell labelled."""
    props, columns, values = heatmap_matrix(rows, metric)
    figure = Figure(figsize=WIDE, dpi=DPI, layout="constrained")
    axis = figure.subplots()
    image = axis.imshow(np.ma.masked_invalid(values), cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    axis.set_facecolor("#DDDDDD")  # experiments that were not run
    axis.set_xticks(
        range(len(columns)), [f"{v}\ngamma {grid.format_gamma(g)}" for v, g in columns], fontsize=8
    )
    axis.set_yticks(range(len(props)), [prop_label(p) for p in props])
    axis.set_xlabel("variant and gamma")
    axis.set_ylabel("training mix")
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            # dark text on the bright end of viridis, white on the dark end
            axis.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=9,
                color="black" if value > 0.6 else "white",
            )
    figure.colorbar(image, ax=axis, label=METRIC_LABELS[metric])
    axis.set_title(f"Fine-tuned {METRIC_LABELS[metric]} by training mix, variant and gamma (grey: not run)")
    return figure


def precision_recall_points(rows: list[dict]) -> list[Curve]:
    """Return precision-vs-recall lines: per method, variant and proportion through increasing gamma."""
    colors = prop_colors(row["prop"] for row in rows)
    curves = []
    for method in ("finetuned", "tfidf_logreg"):
        method_rows = usable(rows, method)
        for variant in grid.VARIANTS:
            for prop in sorted(
                {r["prop"] for r in method_rows if r["variant"] == variant}, key=grid.proportion_denominator
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
                        notes=[f"γ{grid.format_gamma(r['gamma'])}" for r in points],
                        color=colors[prop] if method == "finetuned" else "#999999",
                        linestyle=VARIANT_STYLES[variant] if method == "finetuned" else ":",
                        marker=VARIANT_MARKERS[variant],
                        panel=method,
                    )
                )
    return curves


def draw_precision_recall(rows: list[dict]):
    """Return the precision-recall figure of every experiment (grey: the TF-IDF baseline)."""
    figure = Figure(figsize=SQUARE, dpi=DPI, layout="constrained")
    axis = figure.subplots()
    for curve in precision_recall_points(rows):
        plot_curve(axis, curve, alpha=1.0 if curve.panel == "finetuned" else 0.7)
        if curve.panel == "finetuned":
            for x, y, note in zip(curve.x, curve.y, curve.notes, strict=True):
                if np.isfinite(x) and np.isfinite(y):
                    axis.annotate(note, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axis.set_xlim(-0.02, 1.02)
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlabel("recall of Accept")
    axis.set_ylabel("precision of Accept")
    axis.set_title("Precision against recall (lines join increasing gamma; o accept, s reject, * baseline)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=6, ncol=2, loc="lower left")
    return figure


def panel_props(rows: list[dict]) -> list[str]:
    """Return the proportions of the fine-tuned runs, accept-rich first: one panel each."""
    return sorted({row["prop"] for row in usable(rows, "finetuned")}, key=grid.proportion_denominator)


def loss_curves(rows: list[dict], summaries: dict[str, dict]) -> list[Curve]:
    """Return training-loss curves (one per experiment with a summary), paneled by proportion."""
    colors = gamma_colors(float(row["gamma"]) for row in usable(rows, "finetuned"))
    curves = []
    for row in usable(rows, "finetuned"):
        summary = summaries.get(row["name"])
        if not summary or not summary.get("loss_curve"):
            continue
        points = sorted(summary["loss_curve"], key=lambda point: point["step"])
        curves.append(
            Curve(
                label=f"{row['variant']} gamma {grid.format_gamma(row['gamma'])}",
                x=[float(point["step"]) for point in points],
                y=[float(point["loss"]) for point in points],
                color=colors[float(row["gamma"])],
                linestyle=VARIANT_STYLES[row["variant"]],
                panel=row["prop"],
            )
        )
    return curves


def calibration_curves(rows: list[dict], predictions: dict[str, list[dict]], n_bins: int) -> list[Curve]:
    """Return reliability curves (fraction truly Accept against mean P(Accept) per bin), paneled by proportion."""
    colors = gamma_colors(float(row["gamma"]) for row in usable(rows, "finetuned"))
    curves = []
    for row in usable(rows, "finetuned"):
        prediction_rows = predictions.get(row["name"])
        if not prediction_rows or prediction_rows[0]["p_accept"] is None:
            continue
        arrays = metrics.predictions_from_rows(prediction_rows)
        observed, predicted = calibration_curve(arrays.labels == "Accept", arrays.p_accept, n_bins=n_bins)
        curves.append(
            Curve(
                label=f"{row['variant']} gamma {grid.format_gamma(row['gamma'])}",
                x=[float(v) for v in predicted],
                y=[float(v) for v in observed],
                color=colors[float(row["gamma"])],
                linestyle=VARIANT_STYLES[row["variant"]],
                marker=VARIANT_MARKERS[row["variant"]],
                panel=row["prop"],
            )
        )
    return curves


def draw_panels(
    rows: list[dict],
    curves: list[Curve],
    title: str,
    xlabel: str,
    ylabel: str,
    empty_note: str,
    diagonal: bool = False,
):
    """Return a grid of one panel per proportion with its curves (a note in each empty panel)."""
    props = panel_props(rows) or [""]
    n_columns = 2 if len(props) > 1 else 1
    n_rows = math.ceil(len(props) / n_columns)
    figure = Figure(figsize=GRID, dpi=DPI, layout="constrained")
    axes = figure.subplots(n_rows, n_columns, squeeze=False)
    for index, axis in enumerate(axes.flat):
        if index >= len(props):
            axis.set_visible(False)
            continue
        prop = props[index]
        panel = [curve for curve in curves if curve.panel == prop]
        for curve in panel:
            plot_curve(axis, curve, markersize=4)
        if diagonal:
            axis.plot(
                [0, 1], [0, 1], color="#999999", linestyle=":", linewidth=1, label="perfect calibration"
            )
            axis.set_xlim(0, 1)
            axis.set_ylim(0, 1)
        if not panel:
            axis.text(
                0.5,
                0.5,
                empty_note,
                ha="center",
                va="center",
                transform=axis.transAxes,
                fontsize=9,
                wrap=True,
            )
        axis.set_title(prop_label(prop) if prop else "")
        axis.set_xlabel(xlabel)
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
        if panel:
            axis.legend(fontsize=7)
    figure.suptitle(title, fontsize=11)
    return figure


def draw_training_loss(rows: list[dict], summaries: dict[str, dict]):
    """Return the training-loss figure, one panel per proportion."""
    return draw_panels(
        rows,
        loss_curves(rows, summaries),
        "Training loss (class-weighted, so levels differ with gamma by construction; dashed: reject-weighted)",
        "optimiser step",
        "weighted training loss",
        "no train_summary.json loss curve",
    )


def draw_calibration(rows: list[dict], predictions: dict[str, list[dict]], n_bins: int):
    """Return the reliability diagram of the fine-tuned models, one panel per proportion."""
    return draw_panels(
        rows,
        calibration_curves(rows, predictions, n_bins),
        f"Calibration of P(Accept) on the test set ({n_bins} equal-width bins; dashed: reject-weighted)",
        "mean predicted P(Accept) in bin",
        "fraction of papers truly accepted",
        "no probabilities (infer.mode = generate)",
        diagonal=True,
    )


def build_figures(
    rows: list[dict],
    summaries: dict[str, dict],
    predictions: dict[str, list[dict]],
    n_bins: int,
    confidence: float = 0.95,
) -> dict[str, Figure]:
    """Return {file name: Figure} of every plot."""
    reference = true_acceptance_rate(rows)
    figures = {
        "acceptance_rate_vs_gamma.png": draw_gamma_figure(
            rows, "predicted_acceptance_rate", reference, "true test acceptance rate", confidence
        ),
        "accuracy_vs_gamma.png": draw_gamma_figure(
            rows,
            "accuracy",
            None if reference is None else max(reference, 1 - reference),
            "majority-class accuracy",
            confidence,
        ),
        "precision_recall.png": draw_precision_recall(rows),
        **{f"heatmap_{metric}.png": draw_heatmap(rows, metric) for metric in HEATMAP_METRICS},
        "training_loss.png": draw_training_loss(rows, summaries),
        "calibration.png": draw_calibration(rows, predictions, n_bins),
    }
    return figures


def save_figures(figures: dict[str, Figure], outdir: str | Path) -> list[Path]:
    """Write each figure as PNG into outdir (temporary name, then rename); return the paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        path = outdir / name
        temp = outdir / f".{name}.tmp.png"
        figure.savefig(temp, dpi=DPI, format="png")
        temp.replace(path)
        paths.append(path)
    return paths


def read_summaries(model_dirs: list[str]) -> dict[str, dict]:
    """Return {experiment name: train_summary.json} of the model folders that have one."""
    summaries = {}
    for folder in model_dirs:
        path = Path(folder) / "train_summary.json"
        if path.exists():
            summaries[Path(folder).name] = json.loads(path.read_text())
        else:
            print(f"plots: {path} is missing; its loss curve is left out", file=sys.stderr)
    return summaries


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--all-metrics", required=True, help="results/metrics/all_metrics.json")
    parser.add_argument("--predictions-dir", required=True, help="folder of the fine-tuned {name}.jsonl")
    parser.add_argument(
        "--model-dirs", nargs="*", default=[], help="results/models/{name} folders (train_summary.json)"
    )
    parser.add_argument("--ece-bins", type=int, default=10, help="calibration bins (evaluate.ece_bins)")
    parser.add_argument(
        "--confidence", type=float, default=0.95, help="level of the CI bands (evaluate.confidence)"
    )
    parser.add_argument("--outdir", required=True)
    args = parser.parse_args(argv)
    rows = json.loads(Path(args.all_metrics).read_text())
    predictions = {
        row["name"]: read_predictions(Path(args.predictions_dir) / f"{row['name']}.jsonl")
        for row in usable(rows, "finetuned")
    }
    figures = build_figures(
        rows, read_summaries(args.model_dirs), predictions, args.ece_bins, args.confidence
    )
    paths = save_figures(figures, args.outdir)
    print(f"plots: wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

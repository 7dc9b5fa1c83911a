"""Drawing: each figure into a matplotlib Figure of a fixed pixel size, from the series of plot_series.

Figures are built with the object-oriented API (no pyplot): PNGs are rendered by Agg and nothing needs a display.
"""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from wlf.evaluation.figures import FIGURES
from wlf.evaluation.plot_series import (
    HEATMAP_METRICS,
    METRIC_LABELS,
    Curve,
    calibration_curves,
    experiment_rows_and_zeroshot,
    gamma_curves,
    heatmap_matrix,
    loss_curves,
    missing_note,
    panel_props,
    precision_recall_points,
    prop_label,
    seed_points,
    skipped_note,
    true_acceptance_rate,
    usable,
    zeroshot_value,
)
from wlf.experiments import FINETUNED, PRIORSHIFT, format_gamma
from wlf.files import write_together

DPI = 100
WIDE = (12.0, 5.0)  # inches; at DPI 100 a 1200 x 500 pixel image
SQUARE = (8.0, 7.0)
GRID = (12.0, 9.0)
# The outcomes whose between-seed spread gets a figure
SPREAD_METRICS = ("predicted_acceptance_rate", "mean_p_accept")
ZEROSHOT_COLOR, ZEROSHOT_LABEL = "#AA3377", "zero-shot (base model, not fine-tuned)"


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
    rows: list[dict],
    metric: str,
    reference: float | None,
    reference_label: str,
    confidence: float = 0.95,
    zeroshot: float | None = None,
):
    """Return a two-panel figure (accept-weighted | reject-weighted) of metric against gamma: the mean over seeds
    with its two-level band, each seed as a small point, the prior shift dashed, and the untrained model's
    value (zero-shot) as a horizontal line."""
    curves = gamma_curves(rows, metric)
    points = seed_points(rows, metric)
    missing = missing_note(rows, metric)
    figure = Figure(figsize=WIDE, dpi=DPI, layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    gammas = sorted({x for curve in curves for x in curve.x})
    for axis, variant in zip(axes, ("accept", "reject"), strict=True):
        for curve in (c for c in curves if c.panel == variant):
            plot_curve(axis, curve)
            if curve.lo:
                axis.fill_between(curve.x, curve.lo, curve.hi, color=curve.color, alpha=0.15, linewidth=0)
        for curve in (c for c in points if c.panel == variant):
            axis.plot(
                curve.x, curve.y, color=curve.color, linestyle="none", marker=".", markersize=4, alpha=0.7,
                label="_seed",  # a leading underscore keeps the dots out of the legend
            )  # fmt: skip
        if missing:
            axis.text(0.5, 0.5, missing, ha="center", va="center", transform=axis.transAxes, fontsize=9)
            axis.set_ylim(0.0, 1.0)  # no finite point to scale the axes from
            if gammas:
                axis.set_xlim(min(gammas) / 1.5, max(gammas) * 1.5)
        if reference is not None:
            axis.axhline(reference, color="#555555", linestyle=":", linewidth=1.5, label=reference_label)
        if zeroshot is not None:
            axis.axhline(zeroshot, color=ZEROSHOT_COLOR, linestyle="-.", linewidth=1.5, label=ZEROSHOT_LABEL)
        axis.set_xscale("log", base=2)
        if gammas:
            axis.set_xticks(gammas, [format_gamma(g) for g in gammas])
        axis.set_xlabel(f"gamma (loss weight of {variant.capitalize()}-labelled examples)")
        axis.set_title(f"{variant}-weighted loss")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel(METRIC_LABELS[metric])
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[1].legend(handles, labels, fontsize=8, loc="best")
    title = textwrap.fill(  # one line of it would run past the figure's width
        f"{METRIC_LABELS[metric][:1].upper()}{METRIC_LABELS[metric][1:]} against gamma "
        f"(lines: mean over training seeds, dots: each seed; bands: {confidence:.0%} two-level bootstrap CI over "
        "seeds and test papers; dashed: prior shift; dash-dot: zero-shot, the base model before fine-tuning)",
        width=150,
    )
    note = skipped_note(rows, PRIORSHIFT)
    if note:
        title += "\n" + textwrap.fill(f"prior-shift curves absent: {note}", width=150)
    if missing:
        title += f"\nno {METRIC_LABELS[metric]}: {missing}"
    figure.suptitle(title, fontsize=11)
    return figure


def draw_heatmap(rows: list[dict], metric: str, axis=None, vmax: float = 1.0, title: str | None = None):
    """Return a proportion x (variant, gamma) heatmap of the fine-tuned metric, each cell labelled (drawn into
    axis when given, else into a figure of its own)."""
    props, columns, values = heatmap_matrix(rows, metric)
    figure = axis.figure if axis is not None else Figure(figsize=WIDE, dpi=DPI, layout="constrained")
    axis = axis if axis is not None else figure.subplots()
    image = axis.imshow(np.ma.masked_invalid(values), cmap="viridis", aspect="auto", vmin=0.0, vmax=vmax)
    axis.set_facecolor("#DDDDDD")  # experiments that were not run
    axis.set_xticks(range(len(columns)), [f"{v}\ngamma {format_gamma(g)}" for v, g in columns], fontsize=8)
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
                color="black" if value > 0.6 * vmax else "white",
            )
    label = METRIC_LABELS.get(metric, metric)
    if metric.endswith("_seed_sd"):
        label = f"between-seed SD of the {METRIC_LABELS.get(metric.removesuffix('_seed_sd'), metric)}"
    figure.colorbar(image, ax=axis, label=label)
    axis.set_title(title or f"Fine-tuned {label} by training mix, variant and gamma (grey: not run)")
    return figure


def draw_seed_spread(rows: list[dict]):
    """Return heatmaps of the between-seed SD of both outcomes: where training is unstable."""
    figure = Figure(figsize=(12.0, 9.0), dpi=DPI, layout="constrained")
    axes = figure.subplots(2, 1)
    sds = [_sd_values(rows, f"{m}_seed_sd") for m in SPREAD_METRICS]
    vmax = max([0.05, *(value for values in sds for value in values)])
    for axis, metric in zip(axes, SPREAD_METRICS, strict=True):
        draw_heatmap(rows, f"{metric}_seed_sd", axis, vmax, f"Between-seed SD of the {METRIC_LABELS[metric]}")
    n_seeds = sorted({int(row["n_seeds"]) for row in usable(rows, FINETUNED) if row.get("n_seeds")})
    note = "" if n_seeds and n_seeds[0] >= 2 else " (one seed: no spread to estimate, cells empty)"
    figure.suptitle(f"Training-seed spread of each experiment, {'/'.join(map(str, n_seeds))} seeds{note}")
    return figure


def _sd_values(rows: list[dict], column: str) -> list[float]:
    """Return the finite values of a column over the fine-tuned aggregated rows."""
    return [float(row[column]) for row in usable(rows, FINETUNED) if row.get(column) is not None]


def draw_precision_recall(rows: list[dict]):
    """Return the precision-recall figure of every experiment (grey: the TF-IDF baseline)."""
    figure = Figure(figsize=SQUARE, dpi=DPI, layout="constrained")
    axis = figure.subplots()
    for curve in precision_recall_points(rows):
        plot_curve(axis, curve, alpha=1.0 if curve.panel == FINETUNED else 0.7)
        if curve.panel == FINETUNED:
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
    # the zero-shot reference belongs to no experiment: a line on the gamma figures, not a point of any series
    rows, zeroshot = experiment_rows_and_zeroshot(rows)
    reference = true_acceptance_rate(rows)
    figures = {
        "acceptance_rate_vs_gamma.png": draw_gamma_figure(
            rows,
            "predicted_acceptance_rate",
            reference,
            "true test acceptance rate",
            confidence,
            zeroshot_value(zeroshot, "predicted_acceptance_rate"),
        ),
        "mean_p_accept_vs_gamma.png": draw_gamma_figure(
            rows,
            "mean_p_accept",
            reference,
            "true test acceptance rate",
            confidence,
            zeroshot_value(zeroshot, "mean_p_accept"),
        ),
        "accuracy_vs_gamma.png": draw_gamma_figure(
            rows,
            "accuracy",
            None if reference is None else max(reference, 1 - reference),
            "majority-class accuracy",
            confidence,
            zeroshot_value(zeroshot, "accuracy"),
        ),
        "precision_recall.png": draw_precision_recall(rows),
        **{f"heatmap_{metric}.png": draw_heatmap(rows, metric) for metric in HEATMAP_METRICS},
        "seed_spread.png": draw_seed_spread(rows),
        "training_loss.png": draw_training_loss(rows, summaries),
        "calibration.png": draw_calibration(rows, predictions, n_bins),
    }
    if set(figures) != set(FIGURES):
        raise RuntimeError(f"drawn figures {sorted(figures)} differ from the declared {sorted(FIGURES)}")
    return figures


def save_figures(figures: dict[str, Figure], outdir: str | Path) -> list[Path]:
    """Write every figure as PNG into outdir, all of them or none (write_together); return the paths."""
    outdir = Path(outdir)
    rendered = {}
    for name, figure in figures.items():
        buffer = io.BytesIO()
        figure.savefig(buffer, dpi=DPI, format="png")
        rendered[outdir / name] = buffer.getvalue()
    write_together(rendered)
    return list(rendered)

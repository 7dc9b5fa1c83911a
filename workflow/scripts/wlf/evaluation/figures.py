"""The figures the plot stage writes: file name -> (report category, caption file in report/).

The plot rule declares exactly these outputs and flags them for the HTML report; plot_drawing draws exactly
these (its build_figures checks).
"""

from __future__ import annotations

FIGURES = {
    "acceptance_rate_vs_gamma.png": ("1 Main result", "acceptance_rate_vs_gamma.rst"),
    "mean_p_accept_vs_gamma.png": ("1 Main result", "mean_p_accept_vs_gamma.rst"),
    "accuracy_vs_gamma.png": ("2 Accuracy and precision", "accuracy_vs_gamma.rst"),
    "precision_recall.png": ("2 Accuracy and precision", "precision_recall.rst"),
    "heatmap_predicted_acceptance_rate.png": ("3 Heatmaps", "heatmaps.rst"),
    "heatmap_accuracy.png": ("3 Heatmaps", "heatmaps.rst"),
    "heatmap_f1.png": ("3 Heatmaps", "heatmaps.rst"),
    "seed_spread.png": ("4 Diagnostics", "seed_spread.rst"),
    "training_loss.png": ("4 Diagnostics", "training_loss.rst"),
    "calibration.png": ("4 Diagnostics", "calibration.rst"),
}

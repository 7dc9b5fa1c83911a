"""Figures of the results: rate and accuracy against gamma, precision-recall, heatmaps, loss curves, calibration.

Each figure has a pure builder that returns the series it draws (wlf.evaluation.plot_series) and a function that
draws them (wlf.evaluation.plot_drawing); this script reads the files and writes the PNGs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wlf.errors import one_line_errors
from wlf.evaluation.plot_drawing import build_figures, save_figures
from wlf.evaluation.predictions import read_predictions
from wlf.files import check_output_paths
from wlf.training import SUMMARY_FILE


def read_summaries(model_dirs: list[str]) -> dict[str, dict]:
    """Return {experiment name: train_summary.json} of the model folders that have one."""
    summaries = {}
    for folder in model_dirs:
        path = Path(folder) / SUMMARY_FILE
        if path.exists():
            summaries[Path(folder).name] = json.loads(path.read_text())
        else:
            print(f"plots: {path} is missing; its loss curve is left out", file=sys.stderr)
    return summaries


@one_line_errors("plots")
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--all-metrics", required=True, help="results/metrics/all_metrics.json")
    parser.add_argument("--predictions", nargs="+", required=True, help="the fine-tuned {name}.jsonl files")
    parser.add_argument(
        "--model-dirs", nargs="*", default=[], help="results/models/{name} folders (train_summary.json)"
    )
    parser.add_argument("--ece-bins", type=int, default=10, help="calibration bins (evaluate.ece_bins)")
    parser.add_argument(
        "--confidence", type=float, default=0.95, help="level of the CI bands (evaluate.confidence)"
    )
    parser.add_argument("--outdir", required=True)
    args = parser.parse_args(argv)
    check_output_paths(folders=[args.outdir])
    rows = json.loads(Path(args.all_metrics).read_text())
    predictions = {Path(path).stem: read_predictions(path) for path in args.predictions}
    figures = build_figures(
        rows, read_summaries(args.model_dirs), predictions, args.ece_bins, args.confidence
    )
    paths = save_figures(figures, args.outdir)
    print(f"plots: wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Figures of the results: rate and accuracy against gamma, precision-recall, heatmaps, loss curves, calibration.

Each figure has a pure builder that returns the series it draws (wlf.evaluation.plot_series) and a function that
draws them (wlf.evaluation.plot_drawing); this script reads the files and writes the PNGs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wlf.errors import InputError, one_line_errors
from wlf.evaluation.plot_drawing import build_figures, save_figures
from wlf.evaluation.predictions import read_predictions
from wlf.files import check_output_paths
from wlf.settings import resolve_object
from wlf.training import SUMMARY_FILE


def read_summaries(model_dirs: list[str], runs: list) -> dict[tuple[str, int], dict]:
    """Return {(experiment name, seed): train_summary.json} of the model folders that have one."""
    summaries = {}
    for folder, (name, seed) in zip(model_dirs, runs, strict=True):
        path = Path(folder) / SUMMARY_FILE
        if path.exists():
            summaries[(name, seed)] = json.loads(path.read_text())
        else:
            print(f"plots: {path} is missing; its loss curve is left out", file=sys.stderr)
    return summaries


def pooled_predictions(paths: list[str], runs: list) -> dict[str, list[dict]]:
    """Return {experiment name: the prediction rows of all its seeds, one after the other}."""
    pooled: dict[str, list[dict]] = {}
    for path, (name, _seed) in zip(paths, runs, strict=True):
        pooled.setdefault(name, []).extend(read_predictions(path))
    return pooled


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--all-metrics", required=True, help="results/metrics/all_metrics.json")
    parser.add_argument(
        "--predictions", nargs="+", required=True, help="the fine-tuned runs' prediction files"
    )
    parser.add_argument(
        "--model-dirs",
        nargs="+",
        required=True,
        help="the fine-tuned runs' model folders (train_summary.json)",
    )
    parser.add_argument(
        "--runs",
        required=True,
        help="JSON list: [experiment name, seed] of each prediction file and model folder",
    )
    parser.add_argument("--ece-bins", type=int, default=10, help="calibration bins (evaluate.ece_bins)")
    parser.add_argument(
        "--confidence", type=float, default=0.95, help="level of the CI bands (evaluate.confidence)"
    )
    parser.add_argument("--outdir", required=True)
    return parser.parse_args(argv)


@one_line_errors("plots")
def main(argv=None) -> int:
    args = parse_args(argv)
    check_output_paths(folders=[args.outdir])
    runs = resolve_object(args.runs, "--runs", list, "list")
    if not len(runs) == len(args.predictions) == len(args.model_dirs):
        raise InputError("--runs, --predictions and --model-dirs must list the same runs, in the same order")
    rows = json.loads(Path(args.all_metrics).read_text())
    figures = build_figures(
        rows,
        read_summaries(args.model_dirs, runs),
        pooled_predictions(args.predictions, runs),
        args.ece_bins,
        args.confidence,
    )
    paths = save_figures(figures, args.outdir)
    print(f"plots: wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

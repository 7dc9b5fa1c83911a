"""Test the hypotheses on the predicted acceptance rate and on the mean P(Accept), and compare each experiment with
its prior-shift counterpart: hypotheses.json and hypotheses.md (see wlf.evaluation.hypothesis_tests for the
statistics).

H1  accept-weighting: a larger gamma raises predicted acceptance (per proportion).
H2  reject-weighting: a larger gamma lowers it (per proportion).
H3  reject-heavy training data (smaller accept fraction 1/N) lowers it (per variant and gamma).
H4  the gamma effect differs between proportions (interaction).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wlf.errors import one_line_errors
from wlf.evaluation.hypotheses_report import markdown
from wlf.evaluation.hypothesis_tests import run_hypotheses
from wlf.evaluation.metrics import Predictions, predictions_from_rows
from wlf.evaluation.predictions import check_same_papers, read_predictions
from wlf.files import check_output_paths, json_text, write_together
from wlf.settings import resolve_json


def read_prediction_sets(
    paths: list[str], reference: tuple[str, list[dict]] | None
) -> dict[str, Predictions]:
    """Return {experiment name (the file's stem): predictions} of the non-empty files, all on one test set.

    reference: (path, rows) that every file must match paper for paper; the first file when None.
    """
    sets = {}
    for path in paths:
        rows = read_predictions(path, allow_empty=True)
        if not rows:  # a skipped counterpart: its reason is in the metrics table
            continue
        if reference is None:
            reference = (path, rows)
        check_same_papers(reference[1], rows, reference[0], path)
        sets[Path(path).stem] = predictions_from_rows(rows)
    return sets


def hypotheses_of_files(
    table: list[dict], prediction_paths: list[str], priorshift_paths: list[str], settings: dict
) -> dict:
    """Return the hypothesis tests of the table's experiments, read from their prediction files."""
    predictions = read_prediction_sets(prediction_paths, None)
    first = prediction_paths[0]
    priorshift = read_prediction_sets(priorshift_paths, (first, read_predictions(first)))
    return run_hypotheses(table, predictions, priorshift, settings)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--all-metrics", required=True, help="results/metrics/all_metrics.json")
    parser.add_argument("--predictions", nargs="+", required=True, help="the fine-tuned {name}.jsonl files")
    parser.add_argument("--priorshift", nargs="*", default=[], help="the prior-shift {name}.jsonl files")
    parser.add_argument("--settings", default="{}", help="JSON of config `evaluate` (bootstrap settings)")
    parser.add_argument("--output-json", required=True)
    parser.add_argument("--output-md", required=True)
    return parser.parse_args(argv)


@one_line_errors("hypotheses")
def main(argv=None) -> int:
    args = parse_args(argv)
    check_output_paths(files=[args.output_json, args.output_md])
    settings = resolve_json("evaluation", args.settings, "evaluate")
    table = json.loads(Path(args.all_metrics).read_text())
    result = hypotheses_of_files(table, args.predictions, args.priorshift, settings)
    write_together({args.output_json: json_text(result), args.output_md: markdown(result)})
    for key, hypothesis in result["hypotheses"].items():
        for outcome, tested in hypothesis["outcomes"].items():
            verdict = tested["verdict"] or "no verdict"
            print(f"{key} on {outcome}: {verdict} ({tested['summary']})", file=sys.stderr)
    if result["priorshift"]["note"]:
        print(f"prior shift: {result['priorshift']['note']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Test the hypotheses on the predicted acceptance rate and on the mean P(Accept), and compare each experiment with
its prior-shift counterpart: hypotheses.json and hypotheses.md (see wlf.evaluation.hypothesis_tests for the
statistics).

H1  accept-weighting: a larger gamma raises predicted acceptance (per proportion).
H2  reject-weighting: a larger gamma lowers it (per proportion).
H3  reject-heavy training data (smaller accept fraction 1/N) lowers it (per variant and gamma).
H4  the gamma effect differs between proportions (interaction).
And how far each fine-tuned experiment moved the outcomes from the untrained model (fine-tuned minus zero-shot).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wlf.errors import InputError, one_line_errors
from wlf.evaluation.hypotheses_report import markdown
from wlf.evaluation.hypothesis_tests import run_hypotheses
from wlf.evaluation.metrics import Predictions, predictions_from_rows
from wlf.evaluation.predictions import check_same_papers, read_predictions
from wlf.files import check_output_paths, json_text, write_together
from wlf.settings import resolve_json, resolve_object


def read_runs(
    paths: list[str], runs: list, reference: tuple[str, list[dict]] | None
) -> tuple[dict[str, list[Predictions]], dict[str, list]]:
    """Return ({experiment name: predictions of each seed}, {name: the seed of each}) of the non-empty files, all
    on one test set.

    runs: [name, seed] of each file, in order; reference: (path, rows) that every file must match paper for
    paper (the first file when None).
    """
    if len(runs) != len(paths) or not all(isinstance(run, list) and len(run) == 2 for run in runs):
        raise InputError(f"--runs must give one [name, seed] pair per prediction file ({len(paths)} files)")
    sets: dict[str, list[Predictions]] = {}
    seeds: dict[str, list] = {}
    for path, (name, seed) in zip(paths, runs, strict=True):
        rows = read_predictions(path, allow_empty=True)
        if not rows:  # a skipped counterpart: its reason is in the metrics table
            continue
        if reference is None:
            reference = (path, rows)
        check_same_papers(reference[1], rows, reference[0], path)
        sets.setdefault(name, []).append(predictions_from_rows(rows))
        seeds.setdefault(name, []).append(seed)
    return sets, seeds


def hypotheses_of_files(
    table: list[dict],
    predictions: tuple[list[str], list],
    priorshift: tuple[list[str], list],
    settings: dict,
    zeroshot: str | None = None,
) -> dict:
    """Return the hypothesis tests of the table's experiments, read from their prediction files.

    predictions, priorshift: (files, [name, seed] of each file) of the fine-tuned runs and their counterparts;
    zeroshot: the base model's prediction file (the zero-shot reference), if any.
    """
    finetuned, seed_labels = read_runs(*predictions, None)
    first = predictions[0][0]
    reference = (first, read_predictions(first))
    shifted, _ = read_runs(*priorshift, reference)
    untrained = None
    if zeroshot is not None:
        rows = read_predictions(zeroshot)
        check_same_papers(reference[1], rows, first, zeroshot)
        untrained = predictions_from_rows(rows)
    return run_hypotheses(table, finetuned, shifted, settings, seed_labels, untrained)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--all-metrics", required=True, help="results/metrics/all_metrics.json")
    parser.add_argument(
        "--predictions", nargs="+", required=True, help="the fine-tuned runs' prediction files"
    )
    parser.add_argument(
        "--runs", required=True, help="JSON list: [experiment name, seed] of each --predictions file"
    )
    parser.add_argument(
        "--priorshift", nargs="*", default=[], help="the prior-shift counterparts' prediction files"
    )
    parser.add_argument(
        "--priorshift-runs", default="[]", help="JSON list: [name, seed] of each --priorshift file"
    )
    parser.add_argument("--zeroshot", help="the base model's prediction file (the zero-shot reference)")
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
    result = hypotheses_of_files(
        table,
        (args.predictions, resolve_object(args.runs, "--runs", list, "list")),
        (args.priorshift, resolve_object(args.priorshift_runs, "--priorshift-runs", list, "list")),
        settings,
        args.zeroshot,
    )
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

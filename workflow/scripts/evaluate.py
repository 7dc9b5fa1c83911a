"""Evaluate one prediction file: every metric with paired-bootstrap intervals, as results/metrics/{exp}.json."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from wlf.errors import one_line_errors
from wlf.evaluation import metrics
from wlf.evaluation.predictions import read_predictions
from wlf.experiments import METHODS, parse_experiment_json
from wlf.files import check_output_paths, write_json
from wlf.settings import resolve_json


def skip_reason(status_path: str | Path | None) -> str | None:
    """Return why the predictions were not made (a status sidecar's "skipped"), or None when they were."""
    if status_path is None:
        return None
    return json.loads(Path(status_path).read_text()).get("skipped")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--predictions", required=True, help="prediction JSONL of one experiment and method")
    parser.add_argument("--experiment", required=True, help='JSON {"name", "prop", "variant", "gamma"}')
    parser.add_argument("--settings", default="{}", help="JSON of config `evaluate`")
    parser.add_argument("--output", required=True, help="metrics JSON to write")
    parser.add_argument("--method", default=METHODS[0], choices=METHODS)
    parser.add_argument(
        "--status", default=None, help='sidecar JSON {"skipped": reason|null} of the predictions'
    )
    return parser.parse_args(argv)


@one_line_errors("evaluate")
def main(argv=None) -> int:
    args = parse_args(argv)
    check_output_paths(files=[args.output])
    settings = resolve_json("evaluation", args.settings, "evaluate")
    experiment = parse_experiment_json(args.experiment).record()
    header = {"experiment": experiment, "method": args.method, "predictions": str(args.predictions)}
    reason = skip_reason(args.status)
    if reason is not None:
        write_json(args.output, {**header, "skipped": reason})
        print(f"{experiment['name']} ({args.method}): skipped: {reason}", file=sys.stderr)
        return 0
    predictions = metrics.predictions_from_rows(read_predictions(args.predictions))
    started = time.perf_counter()
    result = {**header, **metrics.evaluate_predictions(predictions, settings)}
    write_json(args.output, result)
    print(
        f"{experiment['name']} ({args.method}): n={result['n']} accuracy={result['accuracy']:.3f} "
        f"predicted acceptance rate={result['predicted_acceptance_rate']:.3f} "
        f"mean P(Accept)={'none' if result['mean_p_accept'] is None else format(result['mean_p_accept'], '.3f')} "
        f"({settings['bootstrap_resamples']} resamples in {time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Evaluate one experiment and method: every metric of each training seed's predictions with its test-set
interval, and their mean over the seeds with a two-level (seeds, then test papers) bootstrap interval."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from wlf.errors import InputError, one_line_errors
from wlf.evaluation import metrics, seeds
from wlf.evaluation.predictions import read_predictions
from wlf.experiments import METHODS, ZEROSHOT, ZEROSHOT_EXPERIMENT, parse_experiment_json
from wlf.files import check_output_paths, write_json
from wlf.settings import resolve_json


def skip_reason(status_paths: list[str]) -> str | None:
    """Return why the predictions were not made (a status sidecar's "skipped"), or None when they were."""
    reasons = {json.loads(Path(path).read_text()).get("skipped") for path in status_paths} - {None}
    return "; ".join(sorted(reasons)) if reasons else None


def experiment_record(method: str, experiment_json: str | None) -> dict:
    """Return the experiment the metrics file states: --experiment checked, or the zero-shot's empty grid."""
    if method == ZEROSHOT:
        if experiment_json is not None:
            raise InputError("--experiment: the zero-shot reference belongs to no experiment; leave it out")
        return dict(ZEROSHOT_EXPERIMENT)
    if experiment_json is None:
        raise InputError(f"--experiment is required for --method {method}")
    return parse_experiment_json(experiment_json).record()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--predictions", nargs="+", required=True, help="prediction JSONL of each training seed (one if none)"
    )
    parser.add_argument(
        "--seeds",
        nargs="*",
        type=int,
        default=None,
        help="the training seed of each prediction file, in order",
    )
    parser.add_argument(
        "--experiment", help='JSON {"name", "prop", "variant", "gamma"} (none for --method zeroshot)'
    )
    parser.add_argument("--settings", default="{}", help="JSON of config `evaluate`")
    parser.add_argument("--output", required=True, help="metrics JSON to write")
    parser.add_argument("--method", default=METHODS[0], choices=METHODS)
    parser.add_argument(
        "--status", nargs="*", default=[], help='sidecar JSON {"skipped": reason|null} of the predictions'
    )
    return parser.parse_args(argv)


@one_line_errors("evaluate")
def main(argv=None) -> int:
    args = parse_args(argv)
    check_output_paths(files=[args.output])
    settings = resolve_json("evaluation", args.settings, "evaluate")
    experiment = experiment_record(args.method, args.experiment)
    seed_list = args.seeds if args.seeds else [None] * len(args.predictions)
    if len(seed_list) != len(args.predictions):
        raise InputError(f"--seeds gives {len(seed_list)} seeds for {len(args.predictions)} prediction files")
    header = {"experiment": experiment, "method": args.method, "predictions": args.predictions}
    reason = skip_reason(args.status)
    if reason is not None:
        write_json(args.output, {**header, "seeds": seed_list, "skipped": reason})
        print(f"{experiment['name']} ({args.method}): skipped: {reason}", file=sys.stderr)
        return 0
    predictions = [metrics.predictions_from_rows(read_predictions(path)) for path in args.predictions]
    seeds.check_same_papers(predictions, args.predictions)
    started = time.perf_counter()
    result = {**header, **seeds.evaluate_seeds(predictions, seed_list, settings, experiment["name"])}
    write_json(args.output, result)
    rate, sd = result["predicted_acceptance_rate"], result["seed_sd"]["predicted_acceptance_rate"]
    print(
        f"{experiment['name']} ({args.method}, {len(seed_list)} seed(s)): accuracy={result['accuracy']:.3f} "
        f"predicted acceptance rate={rate:.3f} (between-seed SD {'-' if sd is None else format(sd, '.3f')}) "
        f"({settings['bootstrap_resamples']} resamples in {time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Evaluate one prediction file: every metric with paired-bootstrap intervals, as results/metrics/{exp}.json."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import experiments as grid
import metrics
from config_sections import parse_section
from json_files import write_json
from prediction_files import read_predictions

DEFAULT_SETTINGS = {"bootstrap_resamples": 1000, "bootstrap_seed": 0, "confidence": 0.95, "ece_bins": 10}
METHODS = ("finetuned", "priorshift", "tfidf_logreg")
INVALID_POLICY = (
    "invalid answers count as wrong (accuracy, recall, specificity, balanced accuracy), never as an Accept "
    "(precision, predicted acceptance rate), as a third class in MCC, and are left out of the confusion matrix"
)


def parse_settings(text: str) -> dict:
    """Return the evaluate settings (defaults filled in), raising ValueError naming a bad key."""
    settings = parse_section(text, DEFAULT_SETTINGS, "evaluate")
    for key in ("bootstrap_resamples", "bootstrap_seed", "ece_bins"):
        if isinstance(settings[key], bool) or not isinstance(settings[key], int):
            raise ValueError(f"evaluate.{key} = {settings[key]!r} must be an integer")
    if settings["bootstrap_resamples"] < 1:
        raise ValueError(f"evaluate.bootstrap_resamples = {settings['bootstrap_resamples']} must be >= 1")
    if settings["ece_bins"] < 1:
        raise ValueError(f"evaluate.ece_bins = {settings['ece_bins']} must be >= 1")
    if not 0.0 < float(settings["confidence"]) < 1.0:
        raise ValueError(f"evaluate.confidence = {settings['confidence']} must be in (0, 1)")
    return settings


def experiment_record(text: str) -> dict:
    """Return {name, prop, variant, gamma, accept_fraction} of an experiment JSON (checked like the config)."""
    experiment = grid.parse_experiment_json(text)
    return {
        "name": experiment.name,
        "prop": experiment.prop,
        "variant": experiment.variant,
        "gamma": experiment.gamma,
        "accept_fraction": experiment.accept_fraction,
    }


def skip_reason(status_path: str | Path | None) -> str | None:
    """Return why the predictions were not made (a status sidecar's "skipped"), or None when they were."""
    if status_path is None:
        return None
    status = json.loads(Path(status_path).read_text())
    return status.get("skipped")


def evaluate_rows(rows: list[dict], settings: dict) -> dict:
    """Return the point metrics and the bootstrap intervals of validated prediction rows."""
    predictions = metrics.predictions_from_rows(rows)
    indices = metrics.bootstrap_indices(
        predictions.n, settings["bootstrap_resamples"], settings["bootstrap_seed"]
    )
    return {
        **metrics.point_metrics(predictions, settings["ece_bins"]),
        "invalid_policy": INVALID_POLICY,
        "ci": metrics.bootstrap_cis(predictions, indices, settings["confidence"], settings["ece_bins"]),
        "bootstrap": {
            "method": "percentile, resampling test papers with replacement",
            "resamples": settings["bootstrap_resamples"],
            "seed": settings["bootstrap_seed"],
            "confidence": settings["confidence"],
        },
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--predictions", required=True, help="prediction JSONL of one experiment and method")
    parser.add_argument("--experiment", required=True, help='JSON {"name", "prop", "variant", "gamma"}')
    parser.add_argument("--settings", default="{}", help="JSON of config `evaluate`")
    parser.add_argument("--output", required=True, help="metrics JSON to write")
    parser.add_argument("--method", default="finetuned", choices=METHODS)
    parser.add_argument(
        "--status", default=None, help='sidecar JSON {"skipped": reason|null} of the predictions'
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = parse_settings(args.settings)
    experiment = experiment_record(args.experiment)
    header = {"experiment": experiment, "method": args.method, "predictions": str(args.predictions)}
    reason = skip_reason(args.status)
    if reason is not None:
        write_json(args.output, {**header, "skipped": reason})
        print(f"{experiment['name']} ({args.method}): skipped: {reason}", file=sys.stderr)
        return 0
    rows = read_predictions(args.predictions)
    started = time.perf_counter()
    result = {**header, **evaluate_rows(rows, settings)}
    write_json(args.output, result)
    print(
        f"{experiment['name']} ({args.method}): n={result['n']} accuracy={result['accuracy']:.3f} "
        f"predicted acceptance rate={result['predicted_acceptance_rate']:.3f} "
        f"({settings['bootstrap_resamples']} resamples in {time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

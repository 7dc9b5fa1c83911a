"""Fit the classical baseline of one experiment (TF-IDF + class-weighted logistic regression) on its training
set and predict the test set, thresholded like the fine-tuned model (see wlf.evaluation.tfidf)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from wlf.data.chat_sets import read_chat_set
from wlf.errors import one_line_errors
from wlf.evaluation.tfidf import fit_and_predict, parse_settings
from wlf.experiments import class_weights, parse_experiment_json
from wlf.files import check_output_paths, write_jsonl
from wlf.labels import ACCEPT


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--train-file", required=True, help="chat training set of the experiment's proportion"
    )
    parser.add_argument("--test-file", required=True, help="chat test set")
    parser.add_argument("--experiment", required=True, help="JSON {name, prop, variant, gamma}")
    parser.add_argument(
        "--settings", default="{}", help="JSON of config baselines.tfidf_logreg (+ threshold)"
    )
    parser.add_argument("--output", required=True, help="prediction JSONL to write")
    return parser.parse_args(argv)


@one_line_errors("tfidf_logreg")
def main(argv=None) -> int:
    args = parse_args(argv)
    check_output_paths(files=[args.output])
    settings = parse_settings(args.settings)
    experiment = parse_experiment_json(args.experiment)
    train, test = read_chat_set(args.train_file), read_chat_set(args.test_file)
    weights = class_weights(experiment.variant, experiment.gamma)
    rows = fit_and_predict(train, test, weights, settings)
    write_jsonl(args.output, rows)
    accuracy = np.mean([row["pred"] == row["label"] for row in rows])
    rate = np.mean([row["pred"] == ACCEPT for row in rows])
    print(
        f"{experiment.name} (tfidf_logreg): {len(train)} training papers, class weights {weights}; "
        f"test accuracy {accuracy:.3f}, predicted acceptance rate {rate:.3f}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Classical baseline of one experiment: TF-IDF word 1-2-grams + class-weighted logistic regression.

It sees the same training set (the user message: the truncated paper in the prompt template) and the same
class weights (experiments.example_weight) as the fine-tuned model, and thresholds P(Accept) the same way.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import experiments as grid
from chat_files import read_chat_set, user_text
from config_sections import parse_section
from json_files import write_jsonl
from prediction_files import thresholded_rows

DEFAULT_SETTINGS = {
    "threshold": 0.5,
    "ngram_max": 2,  # word n-grams from 1 to ngram_max
    "min_df": 1,
    "max_features": None,
    "C": 1.0,
    "max_iter": 1000,
}


def parse_settings(text: str) -> dict:
    """Return the baseline settings (defaults filled in), raising ValueError naming a bad key."""
    settings = parse_section(text, DEFAULT_SETTINGS, "tfidf_logreg")
    if not 0.0 <= float(settings["threshold"]) <= 1.0:
        raise ValueError(f"tfidf_logreg.threshold = {settings['threshold']} must be in [0, 1]")
    if not float(settings["C"]) > 0:
        raise ValueError(f"tfidf_logreg.C = {settings['C']} must be > 0")
    return settings


def class_weights(variant: str, gamma: float) -> dict[str, float]:
    """Return {label: loss weight} of an experiment, the same weights the fine-tuning loss uses."""
    return {label: grid.example_weight(label, variant, gamma) for label in grid.LABELS}


def build_classifier(weights: dict[str, float], settings: dict) -> Pipeline:
    """Return the unfitted TF-IDF + logistic-regression pipeline."""
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    ngram_range=(1, int(settings["ngram_max"])),
                    min_df=settings["min_df"],
                    max_features=settings["max_features"],
                ),
            ),
            (
                "logreg",
                LogisticRegression(
                    C=float(settings["C"]), max_iter=int(settings["max_iter"]), class_weight=weights
                ),
            ),
        ]
    )


def fit_and_predict(
    train: list[dict], test: list[dict], weights: dict[str, float], settings: dict
) -> list[dict]:
    """Return prediction rows for the test papers of a classifier fitted on the training papers."""
    labels = [paper["label"] for paper in train]
    if len(set(labels)) < 2:
        raise ValueError(
            f"the training set has only {sorted(set(labels))} papers: a classifier needs both labels"
        )
    classifier = build_classifier(weights, settings).fit(
        [user_text(paper["prompt"]) for paper in train], labels
    )
    accept_column = list(classifier.classes_).index("Accept")
    p_accept = classifier.predict_proba([user_text(paper["prompt"]) for paper in test])[:, accept_column]
    return thresholded_rows(test, p_accept, settings["threshold"])


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--train-file", required=True, help="chat training set of the experiment's proportion"
    )
    parser.add_argument("--test-file", required=True, help="chat test set")
    parser.add_argument("--experiment", required=True, help="JSON {name, prop, variant, gamma}")
    parser.add_argument("--settings", default="{}", help=f"JSON, keys {sorted(DEFAULT_SETTINGS)}")
    parser.add_argument("--output", required=True, help="prediction JSONL to write")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = parse_settings(args.settings)
    experiment = grid.parse_experiment_json(args.experiment)
    train, test = read_chat_set(args.train_file), read_chat_set(args.test_file)
    weights = class_weights(experiment.variant, experiment.gamma)
    rows = fit_and_predict(train, test, weights, settings)
    write_jsonl(args.output, rows)
    accuracy = np.mean([row["pred"] == row["label"] for row in rows])
    rate = np.mean([row["pred"] == "Accept" for row in rows])
    print(
        f"{experiment.name} (tfidf_logreg): {len(train)} training papers, class weights {weights}; "
        f"test accuracy {accuracy:.3f}, predicted acceptance rate {rate:.3f}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

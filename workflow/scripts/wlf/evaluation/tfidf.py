"""Classical baseline of one experiment: TF-IDF word 1-2-grams + class-weighted logistic regression.

It sees the same training set (the user message: the truncated paper in the prompt template) and the same
class weights (wlf.experiments.class_weights) as the fine-tuned model, and thresholds P(Accept) the same way.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from wlf.data.chat_sets import user_text
from wlf.errors import InputError
from wlf.evaluation.predictions import thresholded_rows
from wlf.labels import ACCEPT
from wlf.settings import key_spec, resolve_json


def parse_settings(text: str) -> dict:
    """Return the baseline settings (the schema's defaults filled in), raising SettingsError naming a bad key.

    Besides its own section the classifier reads infer.threshold, so it thresholds like the fine-tuned model.
    """
    return resolve_json(
        "tfidf_logreg", text, "baselines.tfidf_logreg", {"threshold": key_spec("inference", "threshold")}
    )


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
        raise InputError(
            f"the training set has only {sorted(set(labels))} papers: a classifier needs both labels"
        )
    classifier = build_classifier(weights, settings).fit(
        [user_text(paper["prompt"]) for paper in train], labels
    )
    accept_column = list(classifier.classes_).index(ACCEPT)
    p_accept = classifier.predict_proba([user_text(paper["prompt"]) for paper in test])[:, accept_column]
    return thresholded_rows(test, p_accept, settings["threshold"])

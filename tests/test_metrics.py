"""Metrics against independent scikit-learn computations, bootstrap intervals, evaluate.py and aggregate_metrics.py."""

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

import aggregate_metrics
import evaluate
from wlf.evaluation import metrics, seeds, table
from wlf.evaluation.predictions import PredictionFileError, read_predictions
from wlf.settings import defaults, resolve_json

# 10 papers, 4 truly accepted; p_accept thresholded at 0.5 gives the predictions.
LABELS = ["Accept", "Accept", "Accept", "Accept", "Reject", "Reject", "Reject", "Reject", "Reject", "Reject"]
P_ACCEPT = [0.9, 0.7, 0.4, 0.2, 0.8, 0.6, 0.3, 0.1, 0.05, 0.45]
EXPERIMENT = {"name": "accept_gamma2.0_prop1_3", "prop": "1_3", "variant": "accept", "gamma": 2.0}


def rows_of(labels, p_accept=None, preds=None):
    preds = preds or ["Accept" if p >= 0.5 else "Reject" for p in p_accept]
    return [
        {
            "id": f"p{i}",
            "label": label,
            "pred": pred,
            "p_accept": None if p_accept is None else p_accept[i],
            "raw_answer": None,
        }
        for i, (label, pred) in enumerate(zip(labels, preds, strict=True))
    ]


def write_rows(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_point_metrics_equal_independent_sklearn_binary_metrics():
    result = metrics.point_metrics(metrics.predictions_from_rows(rows_of(LABELS, P_ACCEPT)), ece_bins=10)
    y_true = np.array(LABELS) == "Accept"
    y_pred = np.array(P_ACCEPT) >= 0.5
    assert result["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred)) == 0.6
    assert result["precision"] == pytest.approx(precision_score(y_true, y_pred)) == 0.5
    assert result["recall"] == pytest.approx(recall_score(y_true, y_pred)) == 0.5
    assert result["f1"] == pytest.approx(f1_score(y_true, y_pred))
    assert result["specificity"] == pytest.approx(recall_score(~y_true, ~y_pred)) == pytest.approx(4 / 6)
    assert result["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert result["mcc"] == pytest.approx(matthews_corrcoef(y_true, y_pred))
    assert result["roc_auc"] == pytest.approx(roc_auc_score(y_true, P_ACCEPT))
    assert result["pr_auc"] == pytest.approx(average_precision_score(y_true, P_ACCEPT))
    assert result["brier"] == pytest.approx(brier_score_loss(y_true, P_ACCEPT))
    assert result["predicted_acceptance_rate"] == 0.4
    assert result["true_acceptance_rate"] == 0.4
    assert result["confusion"] == {"tp": 2, "fp": 2, "tn": 4, "fn": 2}
    assert (result["n"], result["n_invalid"], result["has_probabilities"]) == (10, 0, True)


def test_expected_calibration_error_by_hand():
    # bins of width 0.5: [0, 0.5) holds p 0.2, 0.4 (1 accept of 2), [0.5, 1] holds 0.6, 0.8, 1.0 (3 of 3)
    is_accept = np.array([False, True, True, True, True])
    p_accept = np.array([0.2, 0.4, 0.6, 0.8, 1.0])
    expected = 2 / 5 * abs(0.5 - 0.3) + 3 / 5 * abs(1.0 - 0.8)
    assert metrics.expected_calibration_error(is_accept, p_accept, n_bins=2) == pytest.approx(expected)


def test_invalid_answers_count_as_wrong_and_never_as_accept():
    labels = ["Accept", "Accept", "Reject", "Reject", "Reject"]
    preds = ["Accept", "invalid", "Reject", "invalid", "Accept"]
    result = metrics.point_metrics(metrics.predictions_from_rows(rows_of(labels, preds=preds)), ece_bins=10)
    assert result["n_invalid"] == 2
    assert result["accuracy"] == pytest.approx(2 / 5)
    assert result["recall"] == pytest.approx(1 / 2)  # the invalid answer to an Accept paper is a miss
    assert result["precision"] == pytest.approx(1 / 2)  # invalid answers are never Accept predictions
    assert result["specificity"] == pytest.approx(1 / 3)  # ... nor correct rejections
    assert result["balanced_accuracy"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert result["predicted_acceptance_rate"] == pytest.approx(2 / 5)
    assert result["mcc"] == pytest.approx(matthews_corrcoef(labels, preds))
    assert result["confusion"] == {"tp": 1, "fp": 1, "tn": 1, "fn": 0}
    assert sum(result["confusion"].values()) == result["n"] - result["n_invalid"]
    assert result["roc_auc"] is None and result["has_probabilities"] is False


def test_undefined_metrics_are_none_not_nan():
    no_accept_predicted = metrics.point_metrics(
        metrics.predictions_from_rows(rows_of(["Accept", "Reject"], [0.1, 0.2])), ece_bins=10
    )
    assert no_accept_predicted["precision"] is None
    assert no_accept_predicted["f1"] == 0.0
    one_class = metrics.point_metrics(
        metrics.predictions_from_rows(rows_of(["Reject", "Reject"], [0.1, 0.7])), 10
    )
    assert one_class["roc_auc"] is None and one_class["pr_auc"] is None and one_class["recall"] is None
    assert one_class["brier"] == pytest.approx((0.1**2 + 0.7**2) / 2)


def synthetic_predictions(n, seed):
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(n) < 0.3, "Accept", "Reject")
    p_accept = np.clip(0.3 + 0.35 * (labels == "Accept") + rng.normal(0, 0.2, n), 0, 1)
    return metrics.predictions_from_rows(rows_of(list(labels), list(p_accept)))


def test_bootstrap_intervals_contain_the_estimate_and_shrink_with_more_papers():
    widths = {}
    for n in (60, 960):
        predictions = synthetic_predictions(n, seed=1)
        point = metrics.point_metrics(predictions, 10)
        indices = metrics.bootstrap_indices(n, 200, seed=0)
        names = ("accuracy", "f1", "roc_auc", "predicted_acceptance_rate", "brier")
        cis = metrics.bootstrap_cis(predictions, indices, 0.95, 10, names)
        for name in names:
            lo, hi = cis[name]
            assert lo <= point[name] <= hi, (n, name)
        widths[n] = {name: cis[name][1] - cis[name][0] for name in ("accuracy", "f1", "roc_auc")}
    for name in ("accuracy", "f1", "roc_auc"):
        # 16x the papers: about 4x narrower
        assert widths[960][name] < widths[60][name] / 2.5


def test_bootstrap_indices_are_seeded_and_paired():
    first, again = metrics.bootstrap_indices(50, 20, seed=3), metrics.bootstrap_indices(50, 20, seed=3)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, metrics.bootstrap_indices(50, 20, seed=4))
    assert first.shape == (20, 50) and first.min() >= 0 and first.max() < 50


def test_vectorised_resampled_means_equal_the_sklearn_loop():
    predictions = synthetic_predictions(80, seed=2)
    indices = metrics.bootstrap_indices(80, 25, seed=0)
    fast = metrics.resampled_metrics(predictions, indices, 10, ["accuracy", "predicted_acceptance_rate"])
    for name in ("accuracy", "predicted_acceptance_rate"):
        slow = [metrics.SINGLE_METRICS[name](metrics.take(predictions, row), 10) for row in indices]
        np.testing.assert_allclose(fast[name], slow)


def test_percentile_interval_ignores_undefined_resamples():
    assert metrics.percentile_interval(np.array([np.nan, 1.0, 2.0, 3.0, np.nan]), 0.5) == [1.5, 2.5]
    assert metrics.percentile_interval(np.array([np.nan, np.nan]), 0.95) is None


def run_evaluate(tmp_path, rows, *extra, settings=None):
    predictions = write_rows(tmp_path / "predictions.jsonl", rows)
    output = tmp_path / "metrics" / "out.json"
    evaluate.main(
        [
            "--predictions",
            str(predictions),
            "--experiment",
            json.dumps(EXPERIMENT),
            "--output",
            str(output),
            "--settings",
            json.dumps(settings or {"bootstrap_resamples": 50}),
            *extra,
        ]
    )
    return json.loads(output.read_text())


def test_evaluate_writes_the_contract_json(tmp_path):
    result = run_evaluate(tmp_path, rows_of(LABELS, P_ACCEPT))
    assert result["experiment"] == {**EXPERIMENT, "accept_fraction": pytest.approx(1 / 3)}
    assert result["method"] == "finetuned"
    assert result["accuracy"] == 0.6 and result["n"] == 10
    assert set(result["ci"]) == set(metrics.CI_METRICS)
    lo, hi = result["ci"]["accuracy"]
    assert lo <= 0.6 <= hi
    assert result["bootstrap"]["resamples"] == 50


def test_evaluate_of_generate_mode_predictions_has_no_probability_metrics(tmp_path):
    result = run_evaluate(
        tmp_path,
        rows_of(LABELS[:4], preds=["Accept", "invalid", "Reject", "Reject"]),
        "--method",
        "finetuned",
    )
    assert result["roc_auc"] is None and result["ece"] is None and result["ci"]["roc_auc"] is None
    assert result["n_invalid"] == 1 and result["ci"]["accuracy"] is not None


def test_evaluate_of_the_zero_shot_reference_states_no_experiment_and_the_table_sorts_it_last(tmp_path):
    from wlf.evaluation.table import aggregate

    predictions = write_rows(tmp_path / "zeroshot.jsonl", rows_of(LABELS, P_ACCEPT))
    output = tmp_path / "zeroshot.json"
    argv = ["--predictions", str(predictions), "--method", "zeroshot", "--output", str(output)]
    assert evaluate.main([*argv, "--settings", json.dumps({"bootstrap_resamples": 50})]) == 0
    result = json.loads(output.read_text())
    assert result["experiment"] == {
        "name": "zeroshot", "prop": None, "variant": None, "gamma": None, "accept_fraction": None,
    }  # fmt: skip
    assert result["method"] == "zeroshot" and result["seeds"] == [None] and result["accuracy"] == 0.6
    (tmp_path / "finetuned").mkdir()
    finetuned = run_evaluate(tmp_path / "finetuned", rows_of(LABELS, P_ACCEPT))
    (tmp_path / "finetuned.json").write_text(json.dumps(finetuned))
    rows = aggregate([output, tmp_path / "finetuned.json"])
    assert [(row["name"], row["method"]) for row in rows] == [
        (EXPERIMENT["name"], "finetuned"),
        ("zeroshot", "zeroshot"),
    ]


@pytest.mark.parametrize(
    ("method", "experiment", "message"),
    [
        ("zeroshot", "{}", "--experiment: the zero-shot reference belongs to no experiment; leave it out"),
        ("finetuned", None, "--experiment is required for --method finetuned"),
    ],
)
def test_evaluate_refuses_an_experiment_for_zero_shot_and_requires_one_otherwise(
    tmp_path, capsys, method, experiment, message
):
    predictions = write_rows(tmp_path / "p.jsonl", rows_of(LABELS, P_ACCEPT))
    argv = ["--predictions", str(predictions), "--method", method, "--output", str(tmp_path / "out.json")]
    argv += [] if experiment is None else ["--experiment", experiment]
    assert evaluate.main(argv) == 2
    assert capsys.readouterr().err == f"evaluate: error: {message}\n"
    assert not (tmp_path / "out.json").exists()


def test_evaluate_of_a_skipped_method_writes_the_reason(tmp_path):
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"skipped": "no probabilities"}))
    (tmp_path / "empty.jsonl").write_text("")
    output = tmp_path / "out.json"
    evaluate.main(
        [
            "--predictions",
            str(tmp_path / "empty.jsonl"),
            "--status",
            str(status),
            "--method",
            "priorshift",
            "--experiment",
            json.dumps(EXPERIMENT),
            "--output",
            str(output),
        ]
    )
    result = json.loads(output.read_text())
    assert (
        result["skipped"] == "no probabilities"
        and result["method"] == "priorshift"
        and "accuracy" not in result
    )


GOOD = {"id": "a", "label": "Accept", "pred": "Accept", "p_accept": 0.9, "raw_answer": None}


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ("{oops", r":2: not valid JSON"),
        (
            json.dumps({k: v for k, v in {**GOOD, "id": "b"}.items() if k != "p_accept"}),
            r":2: missing key 'p_accept'",
        ),
        (
            json.dumps({**GOOD, "id": "b", "label": "Maybe"}),
            r":2: label 'Maybe' is not one of Accept, Reject",
        ),
        (json.dumps({**GOOD, "id": "b", "pred": "yes"}), r":2: pred 'yes' is not one of"),
        (json.dumps({**GOOD, "id": "b", "p_accept": 1.5}), r":2: p_accept 1.5 is outside \[0, 1\]"),
        (json.dumps({**GOOD, "id": "b", "p_accept": "high"}), r":2: p_accept 'high' is not a number"),
        (json.dumps({**GOOD, "id": "b", "p_accept": None}), r"p_accept is null in 1 of 2 rows"),
        (json.dumps(GOOD), r":2: id 'a' repeats line 1"),
        ("[1, 2]", r":2: expected a JSON object"),
    ],
)
def test_malformed_prediction_file_fails_naming_file_and_line_and_writes_nothing(
    tmp_path, capsys, second_line, message
):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + second_line + "\n")
    output = tmp_path / "out.json"
    code = evaluate.main(
        ["--predictions", str(path), "--experiment", json.dumps(EXPERIMENT), "--output", str(output)]
    )
    error = capsys.readouterr().err
    assert code == 2 and error.startswith("evaluate: error: ") and error.count("\n") == 1
    assert re.search(message, error) and str(path) in error
    with pytest.raises(PredictionFileError, match=message):
        read_predictions(path)
    assert not output.exists() and list(tmp_path.iterdir()) == [path]


def test_an_empty_prediction_file_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(PredictionFileError, match="holds no predictions"):
        read_predictions(path)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"bootstrap_resamples": 0}, "bootstrap_resamples = 0"),
        ({"confidence": 1.0}, "confidence = 1.0"),
        ({"seed": 1}, r"evaluate\.seed: unknown key"),
    ],
)
def test_bad_evaluate_settings_fail_naming_the_key(settings, message):
    with pytest.raises(ValueError, match=message):
        resolve_json("evaluation", json.dumps(settings), "evaluate")


def metrics_file(tmp_path, name, method, run_seeds=(1, 2), **changes):
    variant, rest = name.split("_gamma")
    gamma, prop = rest.split("_prop")
    experiment = {"name": name, "prop": prop, "variant": variant, "gamma": float(gamma)}
    predictions = metrics.predictions_from_rows(rows_of(LABELS, P_ACCEPT))
    result = {
        "experiment": {**experiment, "accept_fraction": 1 / int(prop.split("_")[1])},
        "method": method,
        **seeds.evaluate_seeds(
            [predictions] * len(run_seeds),
            list(run_seeds),
            {**defaults("evaluation"), "bootstrap_resamples": 20},
            name,
        ),
        **changes,
    }
    path = tmp_path / method / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result))
    return path


def test_aggregate_writes_one_sorted_row_per_experiment_and_method(tmp_path):
    paths = [
        metrics_file(tmp_path, "reject_gamma2.0_prop1_3", "finetuned"),
        metrics_file(tmp_path, "accept_gamma2.0_prop1_3", "tfidf_logreg", run_seeds=(None,)),
        metrics_file(tmp_path, "accept_gamma2.0_prop1_3", "finetuned"),
        metrics_file(tmp_path, "baseline_gamma1.0_prop1_2", "finetuned"),
        metrics_file(tmp_path, "accept_gamma2.0_prop1_3", "priorshift", skipped="no probabilities"),
    ]
    out_json, out_csv = tmp_path / "all.json", tmp_path / "all.csv"
    aggregate_metrics.main([*map(str, paths), "--output-json", str(out_json), "--output-csv", str(out_csv)])
    all_rows = json.loads(out_json.read_text())
    # each seeded run has a row per seed, then its mean; TF-IDF (no seeds) and a skipped method the mean only
    assert [(row["name"], row["method"], row["seed"]) for row in all_rows[:3]] == [
        ("baseline_gamma1.0_prop1_2", "finetuned", 1),
        ("baseline_gamma1.0_prop1_2", "finetuned", 2),
        ("baseline_gamma1.0_prop1_2", "finetuned", "mean"),
    ]
    rows = table.aggregated(all_rows)
    assert [(row["name"], row["method"]) for row in rows] == [
        ("baseline_gamma1.0_prop1_2", "finetuned"),
        ("accept_gamma2.0_prop1_3", "finetuned"),
        ("reject_gamma2.0_prop1_3", "finetuned"),
        ("accept_gamma2.0_prop1_3", "priorshift"),
        ("accept_gamma2.0_prop1_3", "tfidf_logreg"),
    ]
    first = rows[0]
    assert first["accuracy"] == 0.6 and first["tp"] == 2 and first["accept_fraction"] == 0.5
    assert first["accuracy_ci_lo"] <= 0.6 <= first["accuracy_ci_hi"]
    assert rows[3]["skipped"] == "no probabilities" and rows[3]["accuracy"] is None
    csv = pd.read_csv(out_csv)
    assert list(csv.columns) == table.COLUMNS
    assert csv["method"].value_counts().to_dict() == {"finetuned": 9, "priorshift": 1, "tfidf_logreg": 1}
    assert csv.loc[0, "accuracy"] == pytest.approx(0.6) and csv.loc[0, "seed"] == "1"
    assert first["n_seeds"] == 2 and first["accuracy_seed_sd"] == 0.0 and rows[4]["n_seeds"] == 1


def test_aggregate_refuses_the_same_experiment_and_method_twice(tmp_path):
    first = metrics_file(tmp_path, "accept_gamma2.0_prop1_3", "finetuned")
    copy = tmp_path / "copy.json"
    copy.write_text(first.read_text())
    with pytest.raises(table.MetricsFileError, match=r"accept_gamma2.0_prop1_3 \(finetuned\) is also in"):
        table.aggregate([first, copy])


def test_aggregate_names_the_file_with_a_missing_key(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"method": "finetuned"}))
    with pytest.raises(table.MetricsFileError, match=r"broken.json: missing key 'experiment'"):
        table.aggregate([path])


def test_mean_p_accept_is_the_mean_probability_with_a_bootstrap_interval(tmp_path):
    result = run_evaluate(tmp_path, rows_of(LABELS, P_ACCEPT))
    assert result["mean_p_accept"] == pytest.approx(np.mean(P_ACCEPT)) == pytest.approx(0.45)
    lo, hi = result["ci"]["mean_p_accept"]
    assert lo < 0.45 < hi
    assert result["probability_metrics_absent"] is None
    assert "mean_p_accept" in metrics.PROBABILITY_METRICS and "mean_p_accept" in metrics.CI_METRICS


def test_generate_mode_has_no_mean_p_accept_and_says_why(tmp_path):
    result = run_evaluate(tmp_path, rows_of(LABELS[:4], preds=["Accept", "invalid", "Reject", "Reject"]))
    assert result["mean_p_accept"] is None and result["ci"]["mean_p_accept"] is None
    assert result["probability_metrics_absent"] == "no probabilities (infer.mode = generate)"
    assert (
        result["predicted_acceptance_rate"] == 0.25 and result["ci"]["predicted_acceptance_rate"] is not None
    )


def test_vectorised_resampled_mean_p_accept_equals_the_loop():
    predictions = synthetic_predictions(80, seed=2)
    indices = metrics.bootstrap_indices(80, 25, seed=0)
    fast = metrics.resampled_metrics(predictions, indices, 10, ["mean_p_accept"])["mean_p_accept"]
    slow = [metrics.SINGLE_METRICS["mean_p_accept"](metrics.take(predictions, row), 10) for row in indices]
    np.testing.assert_allclose(fast, slow)


def test_the_table_carries_mean_p_accept_and_its_interval(tmp_path):
    paths = [
        metrics_file(tmp_path, "baseline_gamma1.0_prop1_2", "finetuned"),
        metrics_file(tmp_path, "accept_gamma2.0_prop1_3", "priorshift", skipped="no probabilities"),
    ]
    out_json, out_csv = tmp_path / "all.json", tmp_path / "all.csv"
    aggregate_metrics.main([*map(str, paths), "--output-json", str(out_json), "--output-csv", str(out_csv)])
    csv = pd.read_csv(out_csv)
    for column in ("mean_p_accept", "mean_p_accept_ci_lo", "mean_p_accept_ci_hi"):
        assert column in table.COLUMNS and column in csv.columns
    means = csv[csv["seed"] == table.MEAN].reset_index()
    finetuned, skipped = means.iloc[0], means.iloc[1]
    assert finetuned["mean_p_accept"] == pytest.approx(0.45)
    assert finetuned["mean_p_accept_ci_lo"] <= 0.45 <= finetuned["mean_p_accept_ci_hi"]
    assert pd.isna(skipped["mean_p_accept"])


@pytest.mark.parametrize("trial", range(12))
def test_every_resampled_metric_equals_scikit_learn_on_that_resample(trial):
    rng = np.random.default_rng(trial)
    n = int(rng.integers(2, 50))
    labels = np.where(rng.random(n) < rng.random(), "Accept", "Reject").astype(object)
    p_accept = np.round(rng.random(n), int(rng.integers(1, 3)))  # ties, and single-class resamples
    preds = np.where(p_accept >= 0.5, "Accept", "Reject").astype(object)
    preds[rng.random(n) < 0.1] = "invalid"
    predictions = metrics.Predictions(tuple(f"p{i}" for i in range(n)), labels, preds, p_accept)
    indices = metrics.bootstrap_indices(n, 15, seed=trial)
    fast = metrics.resampled_metrics(predictions, indices, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns on single-class resamples
        slow = [
            metrics.scalar_metrics(metrics.take(predictions, row), 7, metrics.CI_METRICS) for row in indices
        ]
    for name in metrics.CI_METRICS:
        np.testing.assert_allclose(
            fast[name], [row[name] for row in slow], rtol=1e-9, atol=1e-12, err_msg=name
        )

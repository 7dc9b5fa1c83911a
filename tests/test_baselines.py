"""Reference baselines: prior-shift counterparts (odds arithmetic, skipping without probabilities) and TF-IDF + LR."""

import json
import math

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

import priorshift as priorshift_cli
import tfidf_baseline as tfidf_cli
from wlf.evaluation import priorshift, tfidf
from wlf.evaluation.predictions import read_predictions
from wlf.experiments import class_weights

BASELINE = {"name": "baseline_gamma1.0_prop1_2", "prop": "1_2", "variant": "baseline", "gamma": 1.0}


def experiment(variant, gamma, prop):
    return {
        "name": f"{variant}_gamma{gamma:.1f}_prop{prop}",
        "prop": prop,
        "variant": variant,
        "gamma": gamma,
    }


def test_gamma_one_at_the_baseline_mix_returns_the_baseline_probabilities():
    p_accept = np.array([0.02, 0.3, 0.5, 0.77, 0.999])
    factor = priorshift.odds_factor("baseline", 1.0, 0.5, 0.5)
    assert factor == 1.0
    np.testing.assert_allclose(priorshift.shift_probabilities(p_accept, factor), p_accept, rtol=0, atol=1e-12)


def test_shift_by_hand_for_accept_and_reject_weighting_and_a_reject_heavy_mix():
    # accept gamma 4 on accept fraction 1/3 vs the baseline's 1/2: odds x 4 x (1/2) / 1 = x 2
    assert priorshift.odds_factor("accept", 4.0, 1 / 3, 1 / 2) == pytest.approx(2.0)
    # reject gamma 2 on 1/8: odds / 2 x (1/7) = x 1/14
    assert priorshift.odds_factor("reject", 2.0, 1 / 8, 1 / 2) == pytest.approx(1 / 14)
    # p = 0.2 has odds 1/4; x 2 gives 1/2, i.e. p = 1/3
    assert priorshift.shift_probabilities(np.array([0.2]), 2.0)[0] == pytest.approx(1 / 3)
    # p = 0.5 has odds 1; x 1/14 gives p = 1/15
    assert priorshift.shift_probabilities(np.array([0.5]), 1 / 14)[0] == pytest.approx(1 / 15)


def test_certain_baseline_probabilities_stay_inside_the_open_interval():
    shifted = priorshift.shift_probabilities(np.array([0.0, 1.0]), 8.0)
    assert 0.0 < shifted[0] < 1e-4 and 1.0 - 1e-6 <= shifted[1] < 1.0
    assert shifted[0] == pytest.approx(8e-6 / (1 - 1e-6 + 8e-6))
    shifted_down = priorshift.shift_probabilities(np.array([0.0, 1.0]), 1 / 8)
    assert shifted_down[0] > 0.0 and shifted_down[1] < 1.0


def write_baseline(path, p_accept, labels=None):
    labels = labels or ["Accept" if i % 2 else "Reject" for i in range(len(p_accept))]
    rows = [
        {
            "id": f"p{i}",
            "label": label,
            "pred": "invalid" if p is None else ("Accept" if p >= 0.5 else "Reject"),
            "p_accept": p,
            "raw_answer": None if p is not None else "Maybe",
        }
        for i, (label, p) in enumerate(zip(labels, p_accept, strict=True))
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run_priorshift(tmp_path, baseline_path, target):
    output, status = tmp_path / "ps" / "out.jsonl", tmp_path / "ps" / "out.status.json"
    priorshift_cli.main(
        [
            "--baseline-predictions",
            str(baseline_path),
            "--baseline-experiment",
            json.dumps(BASELINE),
            "--experiment",
            json.dumps(target),
            "--threshold",
            "0.5",
            "--output",
            str(output),
            "--status",
            str(status),
        ]
    )
    return output, json.loads(status.read_text())


def test_priorshift_cli_writes_shifted_rows_in_baseline_order(tmp_path):
    baseline = write_baseline(tmp_path / "baseline.jsonl", [0.2, 0.4, 0.6, 0.9])
    output, status = run_priorshift(tmp_path, baseline, experiment("accept", 4.0, "1_3"))
    rows = read_predictions(output)
    assert [row["id"] for row in rows] == ["p0", "p1", "p2", "p3"]
    odds = [p / (1 - p) * 2.0 for p in (0.2, 0.4, 0.6, 0.9)]
    np.testing.assert_allclose([row["p_accept"] for row in rows], [o / (1 + o) for o in odds])
    assert [row["pred"] for row in rows] == ["Reject", "Accept", "Accept", "Accept"]  # p 1/3, 4/7, 3/4, 18/19
    assert status["skipped"] is None and status["odds_factor"] == pytest.approx(2.0) and status["n"] == 4


def test_priorshift_without_probabilities_is_skipped_with_the_reason_not_faked(tmp_path):
    baseline = write_baseline(tmp_path / "baseline.jsonl", [None, None])
    output, status = run_priorshift(tmp_path, baseline, experiment("reject", 2.0, "1_2"))
    assert output.read_text() == ""
    assert "have no p_accept (infer.mode = generate)" in status["skipped"] and status["n"] == 0


def chat_row(paper_id, label, text):
    return {
        "id": paper_id,
        "label": label,
        "messages": [
            {"role": "system", "content": "You are an area chair."},
            {"role": "user", "content": f"Decide.\n\n{text}"},
            {"role": "assistant", "content": label},
        ],
    }


GOOD_WORDS = ["novel theory", "strong results", "clear proofs", "state of the art"]
BAD_WORDS = ["unclear writing", "weak baselines", "small experiments", "incremental idea"]


def corpus(n, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "Accept" if rng.random() < 0.35 else "Reject"
        words = GOOD_WORDS if label == "Accept" else BAD_WORDS
        # mostly the label's words, some of the other's: the classes overlap
        picked = [
            words[j] if rng.random() < 0.7 else (BAD_WORDS + GOOD_WORDS)[j] for j in rng.integers(0, 4, 3)
        ]
        rows.append(chat_row(f"s{seed}-{i}", label, " and ".join(picked)))
    return rows


def write_chat(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_tfidf_baseline_agrees_with_a_direct_sklearn_fit(tmp_path):
    train, test = corpus(120, seed=0), corpus(40, seed=1)
    settings = tfidf.parse_settings("{}")
    weights = class_weights("accept", 4.0)
    assert weights == {"Accept": 4.0, "Reject": 1.0}
    rows = tfidf.fit_and_predict(
        [{"id": r["id"], "label": r["label"], "prompt": r["messages"][:2]} for r in train],
        [{"id": r["id"], "label": r["label"], "prompt": r["messages"][:2]} for r in test],
        weights,
        settings,
    )
    vectorizer = TfidfVectorizer(ngram_range=(1, 2))
    features = vectorizer.fit_transform([r["messages"][1]["content"] for r in train])
    direct = LogisticRegression(class_weight={"Accept": 4.0, "Reject": 1.0}, max_iter=1000)
    direct.fit(features, [r["label"] for r in train])
    expected = direct.predict_proba(vectorizer.transform([r["messages"][1]["content"] for r in test]))
    expected_accept = expected[:, list(direct.classes_).index("Accept")]
    np.testing.assert_allclose([row["p_accept"] for row in rows], expected_accept, atol=1e-9)
    assert [row["pred"] for row in rows] == ["Accept" if p >= 0.5 else "Reject" for p in expected_accept]
    assert np.mean([row["pred"] == row["label"] for row in rows]) > 0.7  # the words carry the label


def test_tfidf_class_weight_moves_the_predicted_acceptance_rate(tmp_path):
    train, test = (
        write_chat(tmp_path / "train.jsonl", corpus(150, 0)),
        write_chat(tmp_path / "test.jsonl", corpus(60, 1)),
    )
    rates, mean_p = {}, {}
    for variant, gamma in (("reject", 8.0), ("baseline", 1.0), ("accept", 8.0)):
        output = tmp_path / f"{variant}.jsonl"
        tfidf_cli.main(
            [
                "--train-file",
                str(train),
                "--test-file",
                str(test),
                "--output",
                str(output),
                "--experiment",
                json.dumps(experiment(variant, gamma, "1_2")),
            ]
        )
        rows = read_predictions(output)
        assert [row["id"] for row in rows] == [f"s1-{i}" for i in range(60)]
        rates[variant] = np.mean([row["pred"] == "Accept" for row in rows])
        mean_p[variant] = np.mean([row["p_accept"] for row in rows])
    assert mean_p["reject"] < mean_p["baseline"] < mean_p["accept"]
    assert rates["reject"] <= rates["baseline"] <= rates["accept"] and rates["reject"] < rates["accept"]


def test_tfidf_needs_both_labels_in_training(tmp_path):
    train = [{"id": "a", "label": "Reject", "prompt": [{"role": "user", "content": "x"}]}]
    with pytest.raises(ValueError, match=r"only \['Reject'\] papers"):
        tfidf.fit_and_predict(train, train, {"Accept": 1.0, "Reject": 1.0}, tfidf.parse_settings("{}"))


def test_tfidf_settings_reject_unknown_keys():
    with pytest.raises(ValueError, match=r"baselines\.tfidf_logreg\.ngrams: unknown key"):
        tfidf.parse_settings(json.dumps({"ngrams": 3}))


def test_odds_factor_is_the_product_of_class_and_prior_factors():
    for variant, gamma, sign in (("accept", 3.0, 1), ("reject", 3.0, -1)):
        factor = priorshift.odds_factor(variant, gamma, 0.25, 0.5)
        assert math.log(factor) == pytest.approx(sign * math.log(gamma) + math.log(1 / 3))

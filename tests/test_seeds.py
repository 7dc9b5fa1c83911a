"""Training-seed replicates: the two-level bootstrap, the between-seed SD, the variance split, and the files."""

import json

import numpy as np
import pytest

import evaluate
from wlf.evaluation import metrics, outcomes, seeds
from wlf.settings import defaults

SETTINGS = {**defaults("evaluation"), "bootstrap_resamples": 400}
EXPERIMENT = {"name": "accept_gamma2.0_prop1_2", "prop": "1_2", "variant": "accept", "gamma": 2.0}


def predictions(labels, p_accept, threshold=0.5):
    """Return Predictions of papers p0, p1, ... with these labels and probabilities."""
    return metrics.predictions_from_rows(
        [
            {
                "id": f"p{i}",
                "label": label,
                "pred": "Accept" if p >= threshold else "Reject",
                "p_accept": float(p),
            }
            for i, (label, p) in enumerate(zip(labels, p_accept, strict=True))
        ]
    )


def noisy_run(seed, n=120, shift=0.0):
    """Return a run's predictions on a fixed test set: the same labels, probabilities noisy by training seed."""
    labels = np.where(np.random.default_rng(0).random(n) < 0.35, "Accept", "Reject")
    logits = np.random.default_rng(100 + seed).normal(size=n) + shift + 1.2 * (labels == "Accept")
    return predictions(labels, 1 / (1 + np.exp(-logits)))


def test_with_one_seed_the_two_level_interval_is_the_paired_test_set_bootstrap():
    run = noisy_run(1)
    result = seeds.evaluate_seeds([run], [1], SETTINGS, EXPERIMENT["name"])
    indices = metrics.bootstrap_indices(run.n, SETTINGS["bootstrap_resamples"], SETTINGS["bootstrap_seed"])
    assert result["ci"] == metrics.bootstrap_cis(run, indices, SETTINGS["confidence"], SETTINGS["ece_bins"])
    assert result["per_seed"][0]["ci"] == result["ci"]
    assert result["seed_sd"]["predicted_acceptance_rate"] is None
    assert (
        result["variance"]["predicted_acceptance_rate"]["dominant"]
        == "seed variance not estimated (one seed)"
    )
    draws = seeds.seed_draws(1, len(indices), 0, "x")
    estimate = outcomes.estimate([run], outcomes.OUTCOME_BY_KEY["predicted_acceptance_rate"], indices, draws)
    np.testing.assert_array_equal(estimate.resampled, (run.preds == "Accept")[indices].mean(axis=1))


@pytest.mark.parametrize("outcome", outcomes.OUTCOMES, ids=lambda o: o.key)
def test_each_outcome_is_resampled_as_the_metrics_file_resamples_its_metric(outcome):
    runs = [noisy_run(seed) for seed in (1, 2)]
    indices = metrics.bootstrap_indices(runs[0].n, 50, 0)
    draws = seeds.seed_draws(2, len(indices), 0, "x")
    estimate = outcomes.estimate(runs, outcome, indices, draws)
    per_seed = [metrics.resampled_metrics(run, indices, 10, [outcome.key])[outcome.key] for run in runs]
    np.testing.assert_allclose(estimate.resampled, seeds.two_level(np.stack(per_seed), draws))
    points = [metrics.scalar_metrics(run, 10, [outcome.key])[outcome.key] for run in runs]
    assert estimate.point == pytest.approx(np.mean(points))


def test_the_interval_widens_to_the_known_spread_of_seeds():
    # every paper gets the same P(Accept) within a run, so test papers move nothing and only seeds spread:
    # the mean of 3 seeds drawn from {0.2, 0.4, 0.6} runs from 0.2 to 0.6, each end with probability 1/27 > 2.5 %
    labels = np.array(["Accept", "Reject"] * 50)
    runs = [predictions(labels, np.full(100, p)) for p in (0.2, 0.4, 0.6)]
    result = seeds.evaluate_seeds(
        runs, [1, 2, 3], {**SETTINGS, "bootstrap_resamples": 2000}, EXPERIMENT["name"]
    )
    assert result["mean_p_accept"] == pytest.approx(0.4)
    assert result["ci"]["mean_p_accept"] == pytest.approx([0.2, 0.6])
    assert result["seed_sd"]["mean_p_accept"] == pytest.approx(0.2)
    assert result["variance"]["mean_p_accept"] == {
        "seed": pytest.approx(0.04 / 3),
        "test_set": pytest.approx(0.0, abs=1e-12),
        "dominant": "seed",
    }
    one = seeds.evaluate_seeds(runs[1:2], [2], SETTINGS, EXPERIMENT["name"])
    assert one["ci"]["mean_p_accept"] == pytest.approx([0.4, 0.4])


def test_seed_spread_widens_an_interval_that_test_papers_alone_keep_narrow():
    same = [noisy_run(1)] * 3
    spread = [noisy_run(1, shift=-1.0), noisy_run(1), noisy_run(1, shift=1.0)]
    narrow = seeds.evaluate_seeds(same, [1, 2, 3], SETTINGS, "e")["ci"]["predicted_acceptance_rate"]
    wide = seeds.evaluate_seeds(spread, [1, 2, 3], SETTINGS, "e")["ci"]["predicted_acceptance_rate"]
    assert wide[1] - wide[0] > 2 * (narrow[1] - narrow[0])
    split = seeds.evaluate_seeds(spread, [1, 2, 3], SETTINGS, "e")["variance"]["predicted_acceptance_rate"]
    assert split["dominant"] == "seed" and split["seed"] > split["test_set"]
    assert (
        seeds.evaluate_seeds(same, [1, 2, 3], SETTINGS, "e")["variance"]["predicted_acceptance_rate"][
            "dominant"
        ]
        == "test set"
    )


def test_seed_draws_are_fixed_per_experiment_and_leave_the_paper_indices_alone():
    first = seeds.seed_draws(3, 50, 0, "accept_gamma2.0_prop1_2")
    assert first.shape == (50, 3) and set(np.unique(first)) <= {0, 1, 2}
    np.testing.assert_array_equal(first, seeds.seed_draws(3, 50, 0, "accept_gamma2.0_prop1_2"))
    assert not np.array_equal(first, seeds.seed_draws(3, 50, 0, "reject_gamma2.0_prop1_2"))
    before = metrics.bootstrap_indices(10, 5, 0)
    seeds.seed_draws(3, 5, 0, "x")
    np.testing.assert_array_equal(before, metrics.bootstrap_indices(10, 5, 0))


def write_predictions(path, run):
    rows = [
        {"id": i, "label": str(label), "pred": str(pred), "p_accept": float(p), "raw_answer": None}
        for i, label, pred, p in zip(run.ids, run.labels, run.preds, run.p_accept, strict=True)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_evaluate_writes_each_seed_and_their_mean(tmp_path):
    paths = [write_predictions(tmp_path / f"seed{seed}.jsonl", noisy_run(seed)) for seed in (1, 2, 3)]
    output = tmp_path / "metrics.json"
    code = evaluate.main(
        [
            "--predictions", *paths, "--seeds", "1", "2", "3", "--experiment", json.dumps(EXPERIMENT),
            "--settings", json.dumps({"bootstrap_resamples": 100}), "--output", str(output),
        ]
    )  # fmt: skip
    assert code == 0
    result = json.loads(output.read_text())
    assert result["seeds"] == [1, 2, 3] and [entry["seed"] for entry in result["per_seed"]] == [1, 2, 3]
    rates = [entry["predicted_acceptance_rate"] for entry in result["per_seed"]]
    assert result["predicted_acceptance_rate"] == pytest.approx(np.mean(rates))
    assert result["seed_sd"]["predicted_acceptance_rate"] == pytest.approx(np.std(rates, ddof=1))
    assert result["bootstrap"]["method"] == seeds.METHOD


def test_evaluate_refuses_seeds_scored_on_different_papers(tmp_path, capsys):
    first = write_predictions(tmp_path / "seed1.jsonl", noisy_run(1))
    second = write_predictions(tmp_path / "seed2.jsonl", noisy_run(2, n=119))
    code = evaluate.main(
        ["--predictions", first, second, "--seeds", "1", "2", "--experiment", json.dumps(EXPERIMENT), "--output", str(tmp_path / "m.json")]
    )  # fmt: skip
    assert code == 2
    assert f"evaluate: error: {second} does not list the same test papers in the same order as {first}" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "m.json").exists()

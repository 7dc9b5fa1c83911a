"""Training-seed replicates: intervals over seeds and test papers (MOVER, Welch-Satterthwaite, pairing), the
between-seed SD, the variance split, and the files."""

import json

import numpy as np
import pytest
from scipy import stats

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


def test_with_one_seed_the_interval_is_the_paired_test_set_bootstrap():
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
    estimate = outcomes.estimate([run], outcomes.OUTCOME_BY_KEY["predicted_acceptance_rate"], indices)
    np.testing.assert_array_equal(estimate.resampled, (run.preds == "Accept")[indices].mean(axis=1))
    assert seeds.contrast([(1.0, estimate)], 0.95)["seed_variance"] is None


@pytest.mark.parametrize("outcome", outcomes.OUTCOMES, ids=lambda o: o.key)
def test_each_outcome_is_resampled_as_the_metrics_file_resamples_its_metric(outcome):
    runs = [noisy_run(seed) for seed in (1, 2)]
    indices = metrics.bootstrap_indices(runs[0].n, 50, 0)
    estimate = outcomes.estimate(runs, outcome, indices)
    per_seed = [metrics.resampled_metrics(run, indices, 10, [outcome.key])[outcome.key] for run in runs]
    np.testing.assert_allclose(estimate.seed_resampled, np.stack(per_seed))
    points = [metrics.scalar_metrics(run, 10, [outcome.key])[outcome.key] for run in runs]
    assert estimate.point == pytest.approx(np.mean(points))
    assert estimate.seed_points == pytest.approx(points)


def test_the_interval_of_seeds_alone_is_students_t_with_n_minus_1_degrees_of_freedom():
    # every paper gets the same P(Accept) within a run, so test papers move nothing and only seeds spread:
    # mean 0.4, SD 0.2, 3 seeds: 0.4 +- t(0.975, 2) * 0.2 / sqrt(3) = 0.4 +- 4.303 * 0.1155, clipped at 0
    labels = np.array(["Accept", "Reject"] * 50)
    runs = [predictions(labels, np.full(100, p)) for p in (0.2, 0.4, 0.6)]
    result = seeds.evaluate_seeds(runs, [1, 2, 3], SETTINGS, EXPERIMENT["name"])
    assert result["mean_p_accept"] == pytest.approx(0.4)
    assert result["ci"]["mean_p_accept"] == pytest.approx([0.0, 0.4 + 4.302653 * 0.2 / np.sqrt(3)])
    assert result["seed_sd"]["mean_p_accept"] == pytest.approx(0.2)
    assert result["variance"]["mean_p_accept"] == {
        "seed": pytest.approx(0.04 / 3),
        "test_set": pytest.approx(0.0, abs=1e-12),
        "dominant": "seed",
    }
    one = seeds.evaluate_seeds(runs[1:2], [2], SETTINGS, EXPERIMENT["name"])
    assert one["ci"]["mean_p_accept"] == pytest.approx([0.4, 0.4])


def estimate_of(seed_points, test_offsets, seed_labels=(1, 2, 3), block=None):
    """Return an Estimate whose seeds take these values and move together on the resamples by test_offsets."""
    seed_points = np.asarray(seed_points, dtype=float)
    resampled = seed_points[:, None] + np.asarray(test_offsets, dtype=float)[None, :]
    return seeds.make_estimate(list(seed_points), resampled, seed_labels, block)


def test_the_interval_combines_test_papers_and_seeds_by_mover_with_welch_satterthwaite_df():
    offsets = np.linspace(-0.05, 0.05, 1001)  # the test-set part: a percentile interval of +-0.04875
    later, earlier = estimate_of([0.5, 0.6, 0.7], offsets * 2), estimate_of([0.1, 0.2, 0.4], offsets)
    result = seeds.difference(later, earlier, 0.95)
    variances = [0.01 / 3, np.var([0.1, 0.2, 0.4], ddof=1) / 3]
    dof = sum(variances) ** 2 / sum(v * v / 2 for v in variances)
    half_seed = stats.t.ppf(0.975, dof) * np.sqrt(sum(variances))
    test_lo, test_hi = metrics.percentile_interval(later.resampled - earlier.resampled, 0.95)
    point = 0.6 - 0.7 / 3
    assert result["value"] == pytest.approx(point)
    assert result["seed_df"] == pytest.approx(dof)
    assert result["ci"] == pytest.approx(
        [point - np.hypot(point - test_lo, half_seed), point + np.hypot(test_hi - point, half_seed)]
    )


def test_pairing_uses_the_per_seed_contrast_of_runs_that_share_a_training_set_and_seeds():
    # seed 3 raises both runs by the same amount: paired, the difference does not vary over seeds at all
    offsets = np.zeros(200)
    later = estimate_of([0.3, 0.35, 0.6], offsets, block="1_2")
    earlier = estimate_of([0.2, 0.25, 0.5], offsets, block="1_2")
    paired = seeds.difference(later, earlier, 0.95, pair=True)
    assert paired["seed_variance"] == pytest.approx(0.0, abs=1e-15)
    assert paired["ci"] == pytest.approx([0.1, 0.1])
    unpaired = seeds.difference(later, earlier, 0.95, pair=False)
    assert unpaired["seed_df"] == pytest.approx(4.0) and unpaired["ci"][0] < 0 < unpaired["ci"][1]
    elsewhere = estimate_of([0.2, 0.25, 0.5], offsets, block="1_4")  # another training set: never paired
    assert seeds.difference(later, elsewhere, 0.95, pair=True) == unpaired


def test_a_mean_interval_is_clipped_to_the_metric_range():
    estimate = estimate_of([0.0, 0.0, 0.3], np.zeros(100))
    assert seeds.contrast([(1.0, estimate)], 0.95, bounds=(0.0, 1.0))["ci"][0] == 0.0


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

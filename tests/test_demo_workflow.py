"""The whole 19-experiment workflow on the embedded default, run for real once per test session (with 2 training
seeds, conftest.DEMO_SEEDS)."""

import copy
import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import DEMO_SEEDS
from snakemake_runner import dry_run_jobs, load_config, run_snakemake, workflow_env, write_config_overlay
from wlf import settings

pytestmark = pytest.mark.workflow
DEMO = ("--configfile", "config/demo.yaml")
SEEDS = len(DEMO_SEEDS)  # the training seeds of the tests' demo run (conftest.py)


def demo_with(overlay):
    """Return the command-line arguments for the demo config overlaid by one more config file."""
    # --configfile takes all its files at once: a second --configfile would replace the first.
    return (*DEMO, str(overlay))


# Downstream of every experiment's metrics: the tables, the hypothesis summary, the plots, and `all`.
AGGREGATES = {"aggregate": 1, "hypotheses": 1, "plot": 1, "all": 1}


# the fixture `demo`, the folder of a finished demo run, is in conftest.py: test_readme.py reads it too


def metrics_of(workdir, name, method_dir=""):
    return json.loads((workdir / "results" / "metrics" / method_dir / f"{name}.json").read_text())


def test_demo_writes_metrics_for_every_experiment_and_method(demo):
    names = [entry["name"] for entry in load_config()["experiments"]]
    for name in names:
        metrics = metrics_of(demo, name)
        assert metrics["n"] > 0 and 0.0 <= metrics["accuracy"] <= 1.0
        assert metrics_of(demo, name, "tfidf_logreg")["method"] == "tfidf_logreg"
        if not name.startswith("baseline"):
            assert metrics_of(demo, name, "priorshift")["method"] == "priorshift"
    table = pd.read_csv(demo / "results" / "metrics" / "all_metrics.csv")
    means = table[table["seed"] == "mean"]
    assert means["method"].value_counts().to_dict() == {
        "finetuned": 19,
        "tfidf_logreg": 19,
        "priorshift": 18,
        "zeroshot": 1,  # the base model as it comes: one row per study
    }
    per_seed = table[table["seed"] != "mean"]
    # the fine-tuned runs and their prior shifts have a row per seed; TF-IDF is deterministic: its mean only
    assert per_seed["method"].value_counts().to_dict() == {"finetuned": 19 * SEEDS, "priorshift": 18 * SEEDS}
    assert sorted(per_seed["seed"].unique()) == [str(seed) for seed in DEMO_SEEDS]
    assert len(json.loads((demo / "results" / "metrics" / "all_metrics.json").read_text())) == len(table)


def test_demo_infers_the_zero_shot_reference_once_and_compares_every_experiment_with_it(demo):
    predictions = (demo / "results" / "predictions" / "zeroshot.jsonl").read_text().splitlines()
    test_ids = [
        json.loads(line)["id"] for line in (demo / "results" / "data" / "test.jsonl").read_text().splitlines()
    ]
    assert [json.loads(line)["id"] for line in predictions] == test_ids
    zeroshot = json.loads((demo / "results" / "metrics" / "zeroshot.json").read_text())
    assert zeroshot["method"] == "zeroshot" and zeroshot["seeds"] == [None] and zeroshot["n"] == len(test_ids)
    assert zeroshot["experiment"]["name"] == "zeroshot" and zeroshot["experiment"]["gamma"] is None
    hypotheses = json.loads((demo / "results" / "metrics" / "hypotheses.json").read_text())
    names = {entry["name"] for entry in load_config()["experiments"]}
    for outcome in ("predicted_acceptance_rate", "mean_p_accept"):
        entry = hypotheses["zeroshot"]["outcomes"][outcome]
        assert entry["zeroshot"] == pytest.approx(zeroshot[outcome])
        assert {c["name"] for c in entry["comparisons"]} == names
        for c in entry["comparisons"]:
            assert c["difference"] == pytest.approx(metrics_of(demo, c["name"])[outcome] - zeroshot[outcome])
            assert c["ci"][0] <= c["difference"] <= c["ci"][1]
    text = (demo / "results" / "metrics" / "hypotheses.md").read_text()
    assert "## Fine-tuned vs zero-shot (the base model before fine-tuning)" in text


def test_demo_learns_better_than_chance(demo):
    baseline = metrics_of(demo, "baseline_gamma1.0_prop1_2")
    assert baseline["roc_auc"] > 0.6


def test_demo_shows_the_expected_direction_of_gamma(demo):
    rate = {
        name: metrics_of(demo, name)["predicted_acceptance_rate"]
        for name in ("baseline_gamma1.0_prop1_2", "accept_gamma8.0_prop1_2", "reject_gamma8.0_prop1_2")
    }
    assert (
        rate["accept_gamma8.0_prop1_2"] > rate["baseline_gamma1.0_prop1_2"] > rate["reject_gamma8.0_prop1_2"]
    )


def test_demo_writes_every_plot_and_the_hypothesis_summary(demo):
    plots = demo / "results" / "plots"
    for name in ("acceptance_rate_vs_gamma.png", "accuracy_vs_gamma.png", "precision_recall.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(plots.glob("heatmap_*.png"))
    hypotheses = json.loads((demo / "results" / "metrics" / "hypotheses.json").read_text())
    assert hypotheses
    assert (demo / "results" / "metrics" / "hypotheses.md").read_text().strip()


def test_demo_tests_the_hypotheses_on_both_outcomes(demo):
    assert (demo / "results" / "plots" / "mean_p_accept_vs_gamma.png").read_bytes()[
        :8
    ] == b"\x89PNG\r\n\x1a\n"
    hypotheses = json.loads((demo / "results" / "metrics" / "hypotheses.json").read_text())
    for key in ("H1", "H2", "H3", "H4"):
        tested = hypotheses["hypotheses"][key]["outcomes"]
        assert set(tested) == {"predicted_acceptance_rate", "mean_p_accept"}
        assert all(outcome["verdict"] is not None for outcome in tested.values())
    text = (demo / "results" / "metrics" / "hypotheses.md").read_text()
    assert "| hypothesis | statement | predicted acceptance rate | mean P(Accept) |" in text
    assert "**saturated (H1, H2, H3)**" in text
    mean_p = {
        name: metrics_of(demo, name)["mean_p_accept"]
        for name in ("baseline_gamma1.0_prop1_2", "accept_gamma8.0_prop1_2", "reject_gamma8.0_prop1_2")
    }
    assert (
        mean_p["accept_gamma8.0_prop1_2"]
        > mean_p["baseline_gamma1.0_prop1_2"]
        > mean_p["reject_gamma8.0_prop1_2"]
    )


def test_finished_demo_is_up_to_date(demo):
    assert dry_run_jobs(demo, *DEMO) == {}


def test_changing_one_experiments_training_setting_reruns_only_that_experiment(demo, tmp_path):
    overlay = write_config_overlay(
        tmp_path / "override.yaml",
        {"train": {"overrides": {"accept_gamma4.0_prop1_3": {"learning_rate": 1.0e-3}}}},
    )
    jobs = dry_run_jobs(demo, *demo_with(overlay))
    assert dict(jobs) == {"train": SEEDS, "infer": SEEDS, "evaluate": 1, **AGGREGATES}


def test_changing_one_experiments_gamma_plans_only_that_experiment(demo, tmp_path):
    experiments = copy.deepcopy(load_config()["experiments"])
    changed = next(entry for entry in experiments if entry["name"] == "accept_gamma4.0_prop1_3")
    changed.update(name="accept_gamma3.0_prop1_3", gamma=3.0)
    overlay = write_config_overlay(tmp_path / "gamma.yaml", {"experiments": experiments})
    jobs = dry_run_jobs(demo, *demo_with(overlay))
    per_seed = ("train", "infer", "priorshift")
    # one evaluate job per method: fine-tuned, prior shift, TF-IDF
    expected = {**dict.fromkeys(per_seed, SEEDS), "tfidf_logreg": 1, "evaluate": 3, **AGGREGATES}
    assert dict(jobs) == expected


def test_adding_a_seed_plans_only_the_new_chains(demo, tmp_path):
    overlay = write_config_overlay(tmp_path / "seeds.yaml", {"seeds": [*DEMO_SEEDS, max(DEMO_SEEDS) + 1]})
    jobs = dry_run_jobs(demo, *demo_with(overlay))
    # the new seed of every experiment and of every prior shift; the per-experiment metrics of both seeded methods
    assert dict(jobs) == {"train": 19, "infer": 19, "priorshift": 18, "evaluate": 19 + 18, **AGGREGATES}


def test_html_report_builds_with_the_plots(demo):
    run_snakemake(demo, *DEMO, "--report", "results/report.html")
    report = (demo / "results" / "report.html").read_text(errors="replace")
    assert "acceptance_rate_vs_gamma" in report
    # the workflow description explains the three methods side by side
    assert "threshold move" in report and "tfidf_logreg" in report


def test_the_same_seed_reproduces_its_predictions_byte_for_byte_and_another_seed_does_not(demo, tmp_path):
    """Retrain and rescore one run outside Snakemake with the settings it recorded: the bytes must match."""
    run = demo / "results" / "models" / "accept_gamma2.0_prop1_2" / "seed1"
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["seed"] == summary["settings"]["seed"] == 1
    env = {**workflow_env(), "OMP_NUM_THREADS": "1"}  # the rules' one thread per local training process
    scripts = demo / "workflow" / "scripts"
    subprocess.run(
        [
            sys.executable, str(scripts / "train.py"), "--train-file", "results/data/prop1_2/train.jsonl",
            "--model", "results/embedded/model", "--variant", "accept", "--gamma", "2.0",
            "--settings", json.dumps(summary["settings"]), "--output-dir", str(tmp_path / "model"),
            "--checkpoint-dir", str(tmp_path / "checkpoints"), "--tensorboard-dir", str(tmp_path / "tensorboard"),
        ],
        cwd=demo, env=env, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    demo_infer = {**load_config()["infer"], **load_config("demo.yaml")["infer"]}
    infer_settings = {key: value for key, value in demo_infer.items() if key in settings.keys("inference")}
    subprocess.run(
        [
            sys.executable, str(scripts / "infer.py"), "--model", str(tmp_path / "model"),
            "--test-file", "results/data/test.jsonl", "--settings", json.dumps(infer_settings),
            "--output", str(tmp_path / "predictions.jsonl"),
        ],
        cwd=demo, env={**env, "OMP_NUM_THREADS": str(demo_infer.get("threads", 2))}, check=True,
        capture_output=True, timeout=600,
    )  # fmt: skip
    predictions = demo / "results" / "predictions" / "accept_gamma2.0_prop1_2"
    assert (tmp_path / "predictions.jsonl").read_bytes() == (predictions / "seed1.jsonl").read_bytes()
    assert (predictions / "seed1.jsonl").read_bytes() != (predictions / "seed2.jsonl").read_bytes()


def test_demo_verdicts_account_for_training_seed_variance(demo):
    assert (demo / "results" / "plots" / "seed_spread.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    hypotheses = json.loads((demo / "results" / "metrics" / "hypotheses.json").read_text())
    assert hypotheses["seeds"]["counts"] == [SEEDS] and hypotheses["seeds"]["estimated"]
    for entry in hypotheses["seeds"]["experiments"]:
        spread = entry["predicted_acceptance_rate"]
        assert len(spread["seed_points"]) == SEEDS and spread["seed_sd"] is not None
        assert spread["variance"]["dominant"] in ("seed", "test set")
    text = (demo / "results" / "metrics" / "hypotheses.md").read_text()
    assert f"{SEEDS} training seeds per experiment" in text and "seed variance not estimated" not in text
    assert "## Training seeds and test papers: which spread dominates" in text

"""The whole 19-experiment workflow on the embedded default, run for real once per test session."""

import copy
import json

import pandas as pd
import pytest

from snakemake_runner import dry_run_jobs, load_config, run_snakemake, write_config_overlay

pytestmark = pytest.mark.workflow
DEMO = ("--configfile", "config/demo.yaml")


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
    assert table["method"].value_counts().to_dict() == {"finetuned": 19, "tfidf_logreg": 19, "priorshift": 18}
    assert len(json.loads((demo / "results" / "metrics" / "all_metrics.json").read_text())) == 56


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


def test_finished_demo_is_up_to_date(demo):
    assert dry_run_jobs(demo, *DEMO) == {}


def test_changing_one_experiments_training_setting_reruns_only_that_experiment(demo, tmp_path):
    overlay = write_config_overlay(
        tmp_path / "override.yaml",
        {"train": {"overrides": {"accept_gamma4.0_prop1_3": {"learning_rate": 1.0e-3}}}},
    )
    jobs = dry_run_jobs(demo, *demo_with(overlay))
    assert dict(jobs) == {"train": 1, "infer": 1, "evaluate": 1, **AGGREGATES}


def test_changing_one_experiments_gamma_plans_only_that_experiment(demo, tmp_path):
    experiments = copy.deepcopy(load_config()["experiments"])
    changed = next(entry for entry in experiments if entry["name"] == "accept_gamma4.0_prop1_3")
    changed.update(name="accept_gamma3.0_prop1_3", gamma=3.0)
    overlay = write_config_overlay(tmp_path / "gamma.yaml", {"experiments": experiments})
    jobs = dry_run_jobs(demo, *demo_with(overlay))
    per_experiment = ("train", "infer", "priorshift", "tfidf_logreg")
    # one evaluate job per method: fine-tuned, prior shift, TF-IDF
    assert dict(jobs) == {**dict.fromkeys(per_experiment, 1), "evaluate": 3, **AGGREGATES}


def test_html_report_builds_with_the_plots(demo):
    run_snakemake(demo, *DEMO, "--report", "results/report.html")
    report = (demo / "results" / "report.html").read_text(errors="replace")
    assert "acceptance_rate_vs_gamma" in report
    # the workflow description explains the three methods side by side
    assert "threshold move" in report and "tfidf_logreg" in report

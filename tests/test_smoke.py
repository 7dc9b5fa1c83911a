"""The cluster's smoke run (config/smoke.yaml) on this machine: all 19 chains, the stand-in for the 7B model.

The overlay swaps in only what this machine needs: the stand-in model folder, the alpaca-format test corpus
for the ICLR set, and no GPUs. Everything else is the production config with the smoke overlay, and
`--retries 1` stands in for the SLURM profile's retries, which resume the deliberately interrupted train job.
"""

import json

import pandas as pd
import pytest

from snakemake_runner import copy_workflow, dry_run_jobs, load_config, run_snakemake, write_config_overlay

pytestmark = pytest.mark.workflow
SMOKE = load_config("smoke.yaml")


@pytest.fixture(scope="module")
def smoke(standin_model, alpaca_corpus, tmp_path_factory):
    """Return (workdir, Snakemake's output, the configfile arguments) of a finished local smoke run."""
    workdir = copy_workflow(tmp_path_factory.mktemp("smoke"))
    overlay = write_config_overlay(
        workdir / "standin.yaml",
        {
            "model": {"name_or_path": str(standin_model)},
            "data": {"train_source": str(alpaca_corpus[0]), "test_source": str(alpaca_corpus[1])},
            "train": {"gpus": 0},
            "infer": {"gpus": 0},
        },
    )
    configfiles = ("--configfile", "config/smoke.yaml", str(overlay))
    # the production grid's jobs, before the run: what the smoke must run, rule by rule
    planned = dry_run_jobs(workdir, *configfiles)
    process = run_snakemake(
        workdir, "--profile", "profiles/local", "--retries", "1", *configfiles, timeout_s=3600
    )
    return workdir, process.stdout + process.stderr, configfiles, planned


def experiment_names():
    return [entry["name"] for entry in load_config()["experiments"]]


def test_smoke_runs_every_job_of_the_production_grid(smoke):
    workdir, _, configfiles, planned = smoke
    production = dry_run_jobs(workdir)  # the production config's own plan: every rule, 19 chains x 3 seeds
    seeds = len(load_config()["seeds"])
    one_seed = {
        rule: count // seeds if rule in ("train", "infer", "priorshift") else count
        for rule, count in production.items()
    }
    assert planned == one_seed and planned["train"] == 19  # every rule of the grid, for the smoke's one seed
    table = pd.read_csv(workdir / "results" / "metrics" / "all_metrics.csv", dtype={"seed": str})
    means = table[table["seed"] == "mean"]
    assert means["method"].value_counts().to_dict() == {
        "finetuned": 19, "tfidf_logreg": 19, "priorshift": 18, "zeroshot": 1,
    }  # fmt: skip
    assert dry_run_jobs(workdir, *configfiles) == {}  # and all of it is up to date


def test_smoke_sets_hold_32_test_papers_and_at_most_32_training_papers(smoke):
    workdir = smoke[0]
    assert json.loads((workdir / "results" / "data" / "test_stats.json").read_text())["n_examples"] == 32
    sizes = {
        prop: json.loads((workdir / "results" / "data" / f"prop{prop}" / "stats.json").read_text())[
            "n_examples"
        ]
        for prop in ("1_2", "1_3", "1_4", "1_8")
    }
    assert sizes == {"1_2": 32, "1_3": 30, "1_4": 32, "1_8": 32}


def test_every_smoke_train_job_saves_every_step_and_the_interrupted_one_is_resumed_by_its_retry(smoke):
    workdir, output, _, _ = smoke
    (interrupted,) = SMOKE["train"]["overrides"]
    # Snakemake shows the failed attempt's log: the planned interruption, once
    assert output.count("train: interrupted after saving the checkpoint of step 1 of 2") == 1
    for name in experiment_names():
        summary = json.loads(
            (workdir / "results" / "models" / name / "seed1" / "train_summary.json").read_text()
        )
        assert summary["steps"] == summary["max_steps"] == SMOKE["train"]["max_steps"] == 2
        assert summary["resumed_from_step"] == (1 if name == interrupted else 0)
        assert [point["step"] for point in summary["loss_curve"]] == [1, 2]
        # the completed run's checkpoints are gone, its model stays beside them; its losses went to TensorBoard
        checkpoint_dir = workdir / "results" / "checkpoints" / name / "seed1"
        assert not list(checkpoint_dir.glob("checkpoint-*"))
        assert json.loads((checkpoint_dir / "model" / "train_summary.json").read_text()) == summary
        assert list(
            (workdir / "results" / "logs" / "tensorboard" / name / "seed1").glob("events.out.tfevents.*")
        )
    log = (workdir / "logs" / "train" / interrupted / "seed1.log").read_text()
    assert f"resuming from results/checkpoints/{interrupted}/seed1/checkpoint-1" in log
    assert "resumed at global step 1" in log

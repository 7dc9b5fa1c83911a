"""The real Snakemake DAG: its shape from dry runs, config errors at start-up, and single targets."""

import copy
import subprocess

import pytest

from snakemake_runner import (
    REPO,
    VENV_BIN,
    copy_workflow,
    dry_run_jobs,
    load_config,
    run_snakemake,
    write_config_overlay,
)

# Jobs of the 19-experiment grid with 3 training seeds: one dataset per proportion, one train -> infer chain
# per experiment and seed, the reference baselines (18 x 3 prior-shift counterparts, 19 deterministic
# classical classifiers), the zero-shot reference (the base model's own inference, once per study), and the
# aggregate stages. One evaluate job per experiment and method scores all its seeds: 19 fine-tuned + 18
# prior-shift + 19 TF-IDF.
SEEDS = 3
GRID_JOBS = {
    "make_dataset": 4,
    "make_test_set": 1,
    "train": 19 * SEEDS,
    "infer": 19 * SEEDS,
    "evaluate": 19 + 18 + 19,
    "priorshift": 18 * SEEDS,
    "tfidf_logreg": 19,
    "infer_zeroshot": 1,
    "evaluate_zeroshot": 1,
    "aggregate": 1,
    "hypotheses": 1,
    "plot": 1,
    "all": 1,
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("workflow"))


def test_dry_run_of_production_config_plans_the_full_grid(workdir):
    assert dict(dry_run_jobs(workdir)) == GRID_JOBS


def test_dry_run_of_demo_config_also_builds_the_embedded_model_and_corpus(workdir):
    jobs = dry_run_jobs(workdir, "--configfile", "config/demo.yaml")
    assert dict(jobs) == {**GRID_JOBS, "make_corpus": 1, "build_tiny_model": 1}


def test_the_production_config_trains_three_seeds():
    assert load_config()["seeds"] == [1, 2, 3]


def test_an_experiment_target_plans_its_seeds_chains(workdir):
    jobs = dry_run_jobs(
        workdir, "results/metrics/accept_gamma2.0_prop1_3.json", "--configfile", "config/demo.yaml"
    )
    assert dict(jobs) == {
        "make_corpus": 1,
        "build_tiny_model": 1,
        "make_dataset": 1,
        "make_test_set": 1,
        "train": SEEDS,
        "infer": SEEDS,
        "evaluate": 1,
    }


def test_a_single_seed_is_one_target_that_trains_only_its_chain(workdir):
    jobs = dry_run_jobs(
        workdir, "results/metrics/accept_gamma2.0_prop1_3/seed2.json", "--configfile", "config/demo.yaml"
    )
    assert dict(jobs) == {
        "make_corpus": 1,
        "build_tiny_model": 1,
        "make_dataset": 1,
        "make_test_set": 1,
        "train": 1,
        "infer": 1,
        "evaluate_run": 1,
    }


def test_a_training_seed_set_in_the_train_section_is_refused(workdir, tmp_path):
    overlay = write_config_overlay(tmp_path / "seed.yaml", {"train": {"seed": 7}})
    process = run_snakemake(workdir, "-n", "--configfile", str(overlay), check=False)
    assert process.returncode != 0
    assert (
        "invalid config: train.seed is set by the top-level list `seeds`" in process.stdout + process.stderr
    )


def test_an_experiment_that_is_not_configured_is_no_target(workdir):
    process = run_snakemake(
        workdir,
        "-n",
        "--configfile",
        "config/demo.yaml",
        "results/metrics/accept_gamma3.0_prop1_3.json",
        check=False,
    )
    assert process.returncode != 0
    assert "accept_gamma3.0_prop1_3" in process.stderr + process.stdout


def bad_experiments(**changes):
    """Return the production experiment list with the first accept experiment changed."""
    experiments = copy.deepcopy(load_config()["experiments"])
    experiments[1].update(changes)
    return experiments


@pytest.mark.parametrize(
    ("experiments", "expected"),
    [
        (bad_experiments(variant="both"), ["invalid config: experiments[1].variant = 'both' is not one of"]),
        (
            bad_experiments(gamma=0.0, name="accept_gamma0.0_prop1_2"),
            ["invalid config: experiments[1].gamma = 0.0 must be a number > 0"],
        ),
        (bad_experiments(gamma=-2.0), ["invalid config: experiments[1].gamma = -2.0 must be a number > 0"]),
        (
            bad_experiments(prop="1/3", name="accept_gamma2.0_prop1/3"),
            ["invalid config: experiments[1].prop = '1/3' does not match"],
        ),
        (
            bad_experiments(prop="1_1", name="accept_gamma2.0_prop1_1"),
            ["invalid config: experiments[1].prop = '1_1' does not match"],
        ),
        (
            bad_experiments(variant="baseline", name="baseline_gamma2.0_prop1_2"),
            ["invalid config: experiments[1].gamma = 2.0 must be 1.0"],
        ),
        (
            bad_experiments(name="accept_gamma4.0_prop1_2"),
            ["experiments[1].name = 'accept_gamma4.0_prop1_2' does not match its fields"],
        ),
        (
            bad_experiments(name="accept_gamma4.0_prop1_2", gamma=4.0),
            ["experiments[2].name = 'accept_gamma4.0_prop1_2' duplicates experiments[1]"],
        ),
    ],
    ids=[
        "unknown-variant",
        "gamma-zero",
        "gamma-negative",
        "prop-not-1_N",
        "prop-1_1",
        "baseline-gamma",
        "name",
        "dup",
    ],
)
def test_bad_config_fails_at_start_naming_the_key(workdir, tmp_path, experiments, expected):
    overlay = write_config_overlay(tmp_path / "bad.yaml", {"experiments": experiments})
    process = run_snakemake(workdir, "-n", "--configfile", str(overlay), check=False)
    output = process.stdout + process.stderr
    assert process.returncode != 0
    for fragment in expected:
        assert fragment in output


def test_override_for_an_unknown_experiment_is_rejected(workdir, tmp_path):
    overlay = write_config_overlay(
        tmp_path / "bad.yaml", {"train": {"overrides": {"accept_gamma9.0_prop1_2": {}}}}
    )
    process = run_snakemake(workdir, "-n", "--configfile", str(overlay), check=False)
    assert process.returncode != 0
    assert (
        "train.overrides names experiments that are not configured: accept_gamma9.0_prop1_2"
        in process.stdout + process.stderr
    )


def test_missing_data_source_fails_before_any_job_and_writes_nothing(workdir, tmp_path):
    overlay = write_config_overlay(
        tmp_path / "missing.yaml", {"data": {"train_source": "no/such/train.json"}}
    )
    process = run_snakemake(workdir, "--cores", "1", "--configfile", str(overlay), check=False)
    assert process.returncode != 0
    assert "data.train_source = 'no/such/train.json' does not exist" in process.stdout + process.stderr
    assert not (workdir / "results").exists()


def test_dry_run_of_production_config_without_its_data_warns_and_still_plans(workdir):
    process = run_snakemake(workdir, "-n", "--quiet", "rules")
    assert (
        "data.train_source = 'data/iclr/train.json' does not exist (a dry run shows the DAG without it"
        in process.stdout + process.stderr
    )


def test_lint_is_clean(workdir):
    process = run_snakemake(workdir, "--lint", check=False)
    assert process.returncode == 0, process.stdout + process.stderr


def test_snakefmt_and_ruff_are_clean():
    for command in (["snakefmt", "--check", "Snakefile", "rules"], ["ruff", "check", "."]):
        process = subprocess.run(
            [str(VENV_BIN / command[0]), *command[1:]], cwd=REPO, capture_output=True, text=True
        )
        assert process.returncode == 0, process.stdout + process.stderr

"""Every command of the README's ```bash blocks runs as written, except `make demo` and `make test` (which run
everything, these tests included).

Snakemake commands run as a dry run (`-n` added after `snakemake`) in a copy of the workflow, on the embedded
default or the production config as the command says; the HTML report needs a finished run, so it runs for
real on the demo's; make targets run with `make -n`; `tensorboard` runs for real on the demo's logs and is asked
for every run's losses over HTTP. The test-cluster line needs root and installs SLURM:
`make test` runs it for real as tests/test_slurm.py, so here each of its scripts is syntax-checked and its
pytest selection collected, which is as far as it goes without starting a cluster.
"""

import json
import re
import shlex
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import DEMO_SEEDS
from snakemake_runner import (
    REPO,
    VENV_BIN,
    copy_workflow,
    load_config,
    planned_jobs,
    run_snakemake,
    workflow_env,
)

README = REPO / "README.md"
ENTRY_POINTS = (["make", "demo"], ["make", "test"])
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", flags=re.MULTILINE | re.DOTALL)


def readme_commands() -> list[list[str]]:
    """Return the words of every command in the README's bash blocks: continuations joined, comments dropped."""
    commands = []
    for block in BASH_BLOCK.findall(README.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words not in commands:  # a command the README repeats is tested once
                commands.append(words)
    return commands


COMMANDS = readme_commands()
SNAKEMAKE = [words for words in COMMANDS if words[0] == "snakemake" and "--report" not in words]
REPORTS = [words for words in COMMANDS if words[0] == "snakemake" and "--report" in words]
MAKE = [words for words in COMMANDS if words[0] == "make" and words not in ENTRY_POINTS]
CHAINS = [words for words in COMMANDS if "&&" in words]
TENSORBOARD = [words for words in COMMANDS if words[0] == "tensorboard"]
ACCELERATE = [words for words in COMMANDS if words[0] == "accelerate"]
TENSORBOARD_URL = "http://localhost:6006"  # where the README's command serves (tensorboard's default port)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("readme"))


def dry_run(words: list[str]) -> list[str]:
    """Return a snakemake command as a dry run: -n right after `snakemake`, where no target can be taken for it."""
    return words if "-n" in words else [words[0], "-n", *words[1:]]


def test_every_readme_command_has_a_test_here():
    assert len(COMMANDS) >= 10  # the extraction found the blocks
    kinds = SNAKEMAKE + REPORTS + MAKE + CHAINS + TENSORBOARD + ACCELERATE + list(ENTRY_POINTS)
    assert sorted(map(shlex.join, COMMANDS)) == sorted(map(shlex.join, kinds))


@pytest.mark.parametrize("words", SNAKEMAKE, ids=shlex.join)
def test_readme_snakemake_command_dry_runs(workdir, words):
    process = run_snakemake(workdir, *dry_run(words)[1:], check=False)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert planned_jobs(output)["all"] <= 1 and sum(planned_jobs(output).values()) > 0


def test_readme_one_target_example_plans_only_its_own_chains(workdir):
    (words,) = [w for w in SNAKEMAKE if "results/metrics/accept_gamma2.0_prop1_3.json" in w]
    process = run_snakemake(workdir, *dry_run(words)[1:])
    seeds = len(load_config()["seeds"])
    assert planned_jobs(process.stdout + process.stderr) == {
        "make_corpus": 1,
        "build_tiny_model": 1,
        "make_dataset": 1,
        "make_test_set": 1,
        "train": seeds,
        "infer": seeds,
        "evaluate": 1,
    }


def test_readme_one_run_example_plans_only_that_chain(workdir):
    (words,) = [w for w in SNAKEMAKE if "results/metrics/accept_gamma2.0_prop1_3/seed2.json" in w]
    process = run_snakemake(workdir, *dry_run(words)[1:])
    assert planned_jobs(process.stdout + process.stderr) == {
        "make_corpus": 1,
        "build_tiny_model": 1,
        "make_dataset": 1,
        "make_test_set": 1,
        "train": 1,
        "infer": 1,
        "evaluate_run": 1,
    }


@pytest.mark.workflow
@pytest.mark.parametrize("words", REPORTS, ids=shlex.join)
def test_readme_report_command_builds_the_report_of_a_finished_demo(demo, words):
    report = demo / words[words.index("--report") + 1]
    report.unlink(missing_ok=True)
    run_snakemake(demo, *words[1:])
    assert "acceptance_rate_vs_gamma" in report.read_text(errors="replace")


@pytest.mark.workflow
@pytest.mark.parametrize("words", TENSORBOARD, ids=shlex.join)
def test_readme_tensorboard_command_serves_the_losses_of_every_demo_run(demo, words):
    runs = sorted(f"{path.parent.name}/{path.name}" for path in (demo / "results" / "models").glob("*/seed*"))
    server = subprocess.Popen(
        words, cwd=demo, env=workflow_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        tags, deadline = {}, time.time() + 120
        while sorted(tags) != runs and time.time() < deadline:  # it finds the runs in the background
            time.sleep(1)
            assert server.poll() is None, server.stderr.read().decode()
            try:
                with urllib.request.urlopen(
                    f"{TENSORBOARD_URL}/data/plugin/scalars/tags", timeout=10
                ) as reply:
                    tags = json.load(reply)
            except OSError:
                continue  # not listening yet
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert len(runs) == 19 * len(DEMO_SEEDS) and sorted(tags) == runs
    assert all("train/loss" in tags[run] for run in runs)


@pytest.mark.workflow
@pytest.mark.parametrize("words", ACCELERATE, ids=shlex.join)
def test_readme_fsdp_rehearsal_shards_the_demo_model_over_two_processes(demo, words):
    # the command runs from the repository after `make demo`: the demo's copy gets the test-only launcher it names
    launcher = Path(next(word for word in words if word.endswith("fsdp_on_cpu.py")))
    (demo / launcher).parent.mkdir(exist_ok=True)
    for helper in (launcher, launcher.with_name("script_wrapper.py")):
        (demo / helper).write_bytes((REPO / helper).read_bytes())
    process = subprocess.run(words, cwd=demo, env=workflow_env(), capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    output = words[words.index("--output-dir") + 1]
    distributed = json.loads((demo / output / "train_summary.json").read_text())["distributed"]
    assert distributed["distributed_type"] == "FSDP" and distributed["num_processes"] == 2
    assert distributed["dtensor_parameters"] == distributed["parameters"] > 0
    assert list((demo / words[words.index("--tensorboard-dir") + 1]).glob("events.out.tfevents.*"))


@pytest.mark.parametrize("words", MAKE, ids=shlex.join)
def test_readme_make_target_exists_and_dry_runs(words):
    process = subprocess.run(
        ["make", "-n", *words[1:]], cwd=REPO, env=workflow_env(), capture_output=True, text=True, timeout=60
    )
    assert process.returncode == 0, process.stdout + process.stderr


@pytest.mark.parametrize("words", CHAINS, ids=shlex.join)
def test_readme_test_cluster_line_parses_and_selects_the_slurm_tests(words):
    parts = [part.split() for part in " ".join(words).split(" && ")]
    for part in parts:
        if part[0] == "pytest":
            collected = subprocess.run(
                [str(VENV_BIN / "pytest"), *part[1:], "--collect-only", "-q"],
                cwd=REPO,
                env=workflow_env(),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert collected.returncode == 0, collected.stdout + collected.stderr
            assert re.search(r"^[1-9]\d*(/\d+)? tests? collected", collected.stdout, flags=re.MULTILINE), (
                collected.stdout
            )
        else:
            script = REPO / part[0]
            checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
            assert checked.returncode == 0 and script.stat().st_mode & 0o111, checked.stderr

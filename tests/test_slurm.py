"""The workflow's SLURM profile on a real one-node SLURM cluster (tests/slurm/start-cluster.sh)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from model_weights import assert_same_weights
from snakemake_runner import (
    REPO,
    VENV_BIN,
    copy_workflow,
    dry_run_jobs,
    planned_jobs,
    run_snakemake,
    workflow_env,
    write_config_overlay,
)

SLURM_DIR = REPO / "tests" / "slurm"
TEST_OVERLAY = REPO / "profiles" / "slurm-test" / "config.yaml"
# The real profile, then the overlay that sizes jobs for the 2-CPU test node (see its header).
PROFILES = ("--profile", str(REPO / "profiles" / "slurm"), "--profile", str(TEST_OVERLAY))
CLUSTER_START_TIMEOUT_S = 300
# The plugin can poll forever when job status is unreadable: every run gets a hard limit.
SUBSET_RUN_TIMEOUT_S = 480
# The embedded default on two experiments that still reach every rule (the reject one has a prior-shift
# counterpart; the baseline has none), two training seeds each, on a smaller corpus and one epoch.
SUBSET_EXPERIMENTS = ("baseline_gamma1.0_prop1_2", "reject_gamma2.0_prop1_8")
SUBSET_SEEDS = [1, 2]
SUBSET_CONFIG = {
    "seeds": SUBSET_SEEDS,
    "experiments": [
        {"name": "baseline_gamma1.0_prop1_2", "prop": "1_2", "variant": "baseline", "gamma": 1.0},
        {"name": "reject_gamma2.0_prop1_8", "prop": "1_8", "variant": "reject", "gamma": 2.0},
    ],
    "data": {"synthetic": {"n_train": 160, "n_test": 60}, "max_paper_tokens": 96},
    "train": {"num_train_epochs": 1, "max_length": 192, "save_steps": 5},
    "evaluate": {"bootstrap_resamples": 50},
}
EVERY_RULE = {
    "make_corpus", "build_tiny_model", "make_dataset", "make_test_set", "train", "infer", "evaluate",
    "priorshift", "tfidf_logreg", "aggregate", "hypotheses", "plot", "infer_zeroshot", "evaluate_zeroshot",
}  # fmt: skip
# Same seeds and threads on the same machine: the two runs agree to rounding.
METRIC_TOLERANCE = 1e-9
P_ACCEPT_TOLERANCE = 1e-6
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
RUN_ID = re.compile(r"SLURM run ID: (\S+)")
RULE_OF_LOG = re.compile(r"/slurm_logs/rule_([A-Za-z0-9_]+)/")
EMBEDDED_MODEL_DIR = "results/embedded/model"


@dataclass(frozen=True)
class SlurmJob:
    slurm_id: str
    rule: str
    log: Path


@dataclass(frozen=True)
class SlurmRun:
    process: subprocess.CompletedProcess
    run_id: str
    jobs: list[SlurmJob]

    @property
    def output(self) -> str:
        return self.process.stdout + self.process.stderr

    def jobs_of(self, rule: str) -> list[SlurmJob]:
        """Return this run's SLURM jobs of one rule, in submission order."""
        return [job for job in self.jobs if job.rule == rule]


@pytest.fixture(scope="session")
def slurm_cluster():
    """Start the one-node test cluster once per session; stop it at the end if this session started it."""
    if os.geteuid() != 0:
        pytest.skip("needs root: tests/slurm/start-cluster.sh installs SLURM with apt and starts its daemons")
    start = subprocess.run(
        ["bash", str(SLURM_DIR / "start-cluster.sh")],
        capture_output=True,
        text=True,
        timeout=CLUSTER_START_TIMEOUT_S,
    )
    if start.returncode == 2:
        pytest.skip(f"this machine cannot host the test cluster: {start.stderr.strip()}")
    if start.returncode != 0:
        pytest.fail(f"start-cluster.sh failed ({start.returncode}):\n{start.stdout}\n{start.stderr}")
    yield start.stdout
    if "already running" not in start.stdout:
        subprocess.run(["bash", str(SLURM_DIR / "stop-cluster.sh")], check=True, timeout=60)


def run_through_slurm(workdir: Path, *args: str, timeout_s: float) -> SlurmRun:
    """Return a finished `snakemake` run in workdir through the SLURM executor with the real profile."""
    command = [
        "timeout", "-k", "10", str(int(timeout_s)),
        str(VENV_BIN / "snakemake"), *PROFILES, *args,
    ]  # fmt: skip
    env = {name: value for name, value in workflow_env().items() if not name.startswith("SLURM_")}
    process = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout_s + 30
    )
    output = process.stdout + process.stderr
    run_ids = RUN_ID.findall(output)
    jobs = [
        SlurmJob(slurm_id=slurm_id, rule=RULE_OF_LOG.search(log).group(1), log=Path(log))
        for _, slurm_id, log in SUBMITTED.findall(output)
    ]
    return SlurmRun(process=process, run_id=run_ids[0] if run_ids else "", jobs=jobs)


def slurm_states(run_id: str, field: str = "%T") -> dict[str, str]:
    """Return SLURM job id -> state (or another squeue field, e.g. %l the time limit) for every job of one
    snakemake run that SLURM still remembers."""
    listing = subprocess.run(
        ["squeue", "--states=all", "--noheader", f"--format=%i|{field}", "--name", run_id],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return dict(line.split("|") for line in listing.split())


def describe(run: SlurmRun) -> str:
    return f"exit {run.process.returncode}; last output:\n{run.output[-5000:]}"


# ---------------------------------------------------------------- the workflow itself


def overlay_threads() -> dict[str, int]:
    """Return the per-rule threads the test overlay sets, for a local run to use the same."""
    return yaml.safe_load(TEST_OVERLAY.read_text())["set-threads"]


@dataclass(frozen=True)
class SubsetRuns:
    config_args: tuple[str, ...]
    slurm_dir: Path
    slurm: SlurmRun
    local_dir: Path
    local: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def subset_runs(slurm_cluster, tmp_path_factory):
    """Return the embedded subset run through SLURM and, for comparison, locally.

    The local run (the local profile, the overlay's threads) goes on while the SLURM run waits on its
    status polls, so the two share the machine's idle time.
    """
    base = tmp_path_factory.mktemp("slurm_subset")
    overlay = write_config_overlay(base / "subset.yaml", SUBSET_CONFIG)
    config_args = ("--configfile", "config/demo.yaml", str(overlay))
    slurm_dir, local_dir = copy_workflow(base / "slurm"), copy_workflow(base / "local")
    threads = [f"{rule}={count}" for rule, count in overlay_threads().items()]
    local_command = [
        "timeout", "-k", "10", str(SUBSET_RUN_TIMEOUT_S),
        str(VENV_BIN / "snakemake"), "--profile", "profiles/local", *config_args, "--set-threads", *threads,
    ]  # fmt: skip
    local_log = base / "local.log"
    with local_log.open("w") as log:
        local = subprocess.Popen(local_command, cwd=local_dir, env=workflow_env(), stdout=log, stderr=log)
        try:
            slurm = run_through_slurm(slurm_dir, *config_args, timeout_s=SUBSET_RUN_TIMEOUT_S)
        finally:
            local.wait(timeout=SUBSET_RUN_TIMEOUT_S + 30)
    local_run = subprocess.CompletedProcess(local_command, local.returncode, local_log.read_text(), "")
    return SubsetRuns(config_args, slurm_dir, slurm, local_dir, local_run)


@pytest.mark.slurm
def test_embedded_subset_runs_every_job_through_sbatch(subset_runs):
    run = subset_runs.slurm
    assert run.process.returncode == 0, describe(run)
    planned = planned_jobs(run.output)
    del planned["all"]  # `all` has no command: Snakemake finishes it itself
    assert set(planned) == EVERY_RULE
    assert Counter(job.rule for job in run.jobs) == planned
    states = slurm_states(run.run_id)
    assert {states[job.slurm_id] for job in run.jobs} == {"COMPLETED"}
    assert dry_run_jobs(subset_runs.slurm_dir, *subset_runs.config_args) == {}


@pytest.mark.slurm
def test_embedded_subset_through_slurm_gives_the_metrics_of_a_local_run(subset_runs):
    run, local = subset_runs.slurm, subset_runs.local
    slurm_dir, local_dir = subset_runs.slurm_dir, subset_runs.local_dir
    assert run.process.returncode == 0, describe(run)
    assert local.returncode == 0, local.stdout[-5000:]
    local_metrics = sorted((local_dir / "results" / "metrics").rglob("*.json"))
    # per experiment: fine-tuned and TF-IDF; the reject one's prior shift; the zero-shot; the table; the hypotheses
    assert len(local_metrics) == 2 * len(SUBSET_EXPERIMENTS) + 4
    for local_file in local_metrics:
        relative = local_file.relative_to(local_dir)
        assert_same_numbers(json.loads(local_file.read_text()), json.loads((slurm_dir / relative).read_text()),
                            where=str(relative), tolerance=METRIC_TOLERANCE)  # fmt: skip
    for name, seed in ((name, seed) for name in SUBSET_EXPERIMENTS for seed in SUBSET_SEEDS):
        relative = Path("results") / "predictions" / name / f"seed{seed}.jsonl"
        local_rows = [json.loads(line) for line in (local_dir / relative).read_text().splitlines()]
        slurm_rows = [json.loads(line) for line in (slurm_dir / relative).read_text().splitlines()]
        assert_same_numbers(local_rows, slurm_rows, where=str(relative), tolerance=P_ACCEPT_TOLERANCE)


def assert_same_numbers(expected, actual, where: str, tolerance: float) -> None:
    """Assert two JSON values are equal, floats within tolerance; the message names the differing key."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and expected.keys() == actual.keys(), where
        for key in expected:
            assert_same_numbers(expected[key], actual[key], f"{where}.{key}", tolerance)
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(expected) == len(actual), where
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            assert_same_numbers(left, right, f"{where}[{index}]", tolerance)
    elif isinstance(expected, float) and isinstance(actual, float):
        assert actual == pytest.approx(expected, abs=tolerance), where
    else:
        assert expected == actual, where


# ---------------------------------------------------------------- a train job preempted, then warned of its time limit

SIGNAL_EXPERIMENT = "baseline_gamma1.0_prop1_2"
SIGNAL_MODEL = f"results/models/{SIGNAL_EXPERIMENT}/seed1"
SIGNAL_TRAIN_LOG = f"logs/train/{SIGNAL_EXPERIMENT}/seed1.log"
SIGNAL_PROCESSES = 2
SIGNAL_MAX_STEPS = 240
# The time-limited job's train.py pauses 0.25 s after each optimizer step (tests/paced_training.py): its 240
# steps then outlast the time from the job's start to its warning on any machine, while the other jobs and the
# uninterrupted local run train at full speed (~0.1 s a step). One experiment on a small corpus, 16 examples
# a step in 2 data-parallel processes. padding_free: one of the two batch orders a resume must replay (the
# length-grouped one is checked in tests/test_train.py).
SIGNAL_CONFIG = {
    "seeds": [1],
    "experiments": [{"name": SIGNAL_EXPERIMENT, "prop": "1_2", "variant": "baseline", "gamma": 1.0}],
    "data": {"synthetic": {"n_train": 64, "n_test": 20}, "max_paper_tokens": 64},
    "train": {
        "num_processes": SIGNAL_PROCESSES, "per_device_train_batch_size": 8, "max_steps": SIGNAL_MAX_STEPS,
        "save_steps": 10 * SIGNAL_MAX_STEPS, "logging_steps": 5, "padding_free": True,
    },
}  # fmt: skip
STEP_PAUSE_S = 0.25
PACED_TRAIN_SCRIPT = """\"\"\"This copy's train.py: the workflow's (train_unpaced.py), paced by tests/paced_training.py in a job
with a 1-minute time limit (the one SLURM warns).\"\"\"
import os
import runpy
import subprocess
import sys
from pathlib import Path

limit = subprocess.run(["squeue", "--noheader", "--format=%l", "--jobs", os.environ["SLURM_JOB_ID"]],
                       capture_output=True, text=True, check=True).stdout.strip()
pause = {pause!r} if limit == "1:00" else "0"
sys.argv[1:1] = [pause, str(Path(__file__).with_name("train_unpaced.py"))]
sys.path.insert(0, {tests!r})  # the paced wrapper's own imports, as `python tests/paced_training.py` has them
runpy.run_path({paced!r}, run_name="__main__")
"""
# Three submissions of the one train job (the profile's retries: 2). Attempt 1 is preempted: the test sends
# `scancel --signal=USR1` once it has logged a step. Attempt 2 gets SLURM's shortest time limit, 1 min, with a
# warning 12 s before it. SLURM checks time limits every 30 s and sends the warning at the first check less
# than 12 + 30 s before the limit: 18-48 s after the start, when train.py (started ~6-13 s after the job) has
# installed its handler. Attempt 3 gets time and no warning. Two CPUs: one per process.
PREEMPTED_THEN_TIME_LIMITED = (
    "--set-threads",
    f"train={SIGNAL_PROCESSES}",
    "--set-resources",
    "train:runtime=1 if attempt == 2 else 10",
    "train:slurm_extra='--signal=USR1@12' if attempt == 2 else ''",
    "train:mem_mb=4000",
)
SIGNAL_RUN_TIMEOUT_S = 360
LOGGED_STEP = re.compile(r"'loss': ")
STOPPED = re.compile(
    r"train: interrupted after saving the checkpoint of step (\d+) of \d+ \(signal (SIGUSR1|SIGTERM)\)"
)


@dataclass(frozen=True)
class SignalledRuns:
    slurm_dir: Path
    slurm: SlurmRun
    preempted_job: str  # the SLURM job id the test sent `scancel --signal=USR1`
    local_dir: Path
    local: subprocess.CompletedProcess


def pace_training(train_script: Path) -> None:
    """Make a workflow copy's train.py the same script with a pause after each optimizer step when its SLURM
    job has a 1-minute time limit."""
    train_script.rename(train_script.with_name("train_unpaced.py"))
    tests = REPO / "tests"
    train_script.write_text(
        PACED_TRAIN_SCRIPT.format(
            pause=str(STEP_PAUSE_S), paced=str(tests / "paced_training.py"), tests=str(tests)
        )
    )


def preempt_when_training(train_log: Path, deadline_s: float) -> str:
    """Wait until the only running SLURM job has logged a training step in train_log, send it SIGUSR1 with
    scancel as a preempting scheduler does, and return its job id."""
    deadline = time.time() + deadline_s
    while not (train_log.is_file() and LOGGED_STEP.search(train_log.read_text())):
        if time.time() > deadline:
            raise AssertionError(f"no training step in {train_log} within {deadline_s} s")
        time.sleep(0.5)
    running = subprocess.run(
        ["squeue", "--noheader", "--states=RUNNING", "--format=%i"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split()  # fmt: skip
    assert len(running) == 1, f"expected the train job alone on the cluster, found {running}"
    subprocess.run(["scancel", "--signal=USR1", running[0]], check=True, timeout=30)
    return running[0]


@pytest.fixture(scope="module")
def signalled_train(slurm_cluster, tmp_path_factory):
    """Return one 2-process train job through SLURM, preempted on its first submission and stopped by its
    time-limit warning on its second, and the same training run locally without interruption.

    The data and the model are made locally first, so only the train job goes through SLURM; the local run
    goes on while the SLURM run waits on its status polls.
    """
    base = tmp_path_factory.mktemp("slurm_signal")
    overlay = write_config_overlay(base / "signal.yaml", SIGNAL_CONFIG)
    config_args = ("--configfile", "config/demo.yaml", str(overlay), "--")
    slurm_dir = copy_workflow(base / "slurm")
    run_snakemake(slurm_dir, "--profile", "profiles/local", *config_args, "results/data/prop1_2/train.jsonl",
                  EMBEDDED_MODEL_DIR, timeout_s=SIGNAL_RUN_TIMEOUT_S)  # fmt: skip
    local_dir = base / "local"
    shutil.copytree(slurm_dir, local_dir, symlinks=True)
    pace_training(slurm_dir / "workflow" / "scripts" / "train.py")
    local_command = [
        "timeout", "-k", "10", str(SIGNAL_RUN_TIMEOUT_S),
        str(VENV_BIN / "snakemake"), "--profile", "profiles/local", *config_args, SIGNAL_MODEL,
    ]  # fmt: skip
    local = subprocess.Popen(local_command, cwd=local_dir, env=workflow_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)  # fmt: skip
    with ThreadPoolExecutor(max_workers=1) as watcher:
        preempted = watcher.submit(
            preempt_when_training, slurm_dir / SIGNAL_TRAIN_LOG, SIGNAL_RUN_TIMEOUT_S / 2
        )
        try:
            slurm = run_through_slurm(slurm_dir, *PREEMPTED_THEN_TIME_LIMITED, *config_args, SIGNAL_MODEL,
                                      timeout_s=SIGNAL_RUN_TIMEOUT_S)  # fmt: skip
        finally:
            local_output, _ = local.communicate(timeout=SIGNAL_RUN_TIMEOUT_S + 30)
        preempted_job = preempted.result(timeout=SIGNAL_RUN_TIMEOUT_S)
    local_run = subprocess.CompletedProcess(local_command, local.returncode, local_output, "")
    return SignalledRuns(slurm_dir, slurm, preempted_job, local_dir, local_run)


@pytest.mark.slurm
def test_two_process_train_job_preempted_then_warned_of_its_time_limit_resumes_each_time_at_that_step(
    signalled_train,
):
    run = signalled_train.slurm
    assert run.process.returncode == 0, describe(run)
    assert signalled_train.local.returncode == 0, signalled_train.local.stdout[-5000:]
    preempted, time_limited, last = run.jobs_of("train")
    assert preempted.slurm_id == signalled_train.preempted_job
    states, time_limits = slurm_states(run.run_id), slurm_states(run.run_id, "%l")
    # each retry was a new job, sized by its attempt: only the second had the 1-minute limit
    assert [time_limits[job.slurm_id] for job in (preempted, time_limited, last)] == [
        "10:00",
        "1:00",
        "10:00",
    ]
    # both ended themselves after their signal, before any limit: FAILED (exit 75), not CANCELLED or TIMEOUT
    assert [states[job.slurm_id] for job in (preempted, time_limited, last)] == [
        "FAILED",
        "FAILED",
        "COMPLETED",
    ]
    assert "CANCELLED" not in preempted.log.read_text() + time_limited.log.read_text()
    assert all(f"SLURM-job '{job.slurm_id}' failed" in run.output for job in (preempted, time_limited))

    # Snakemake shows each failed job's train log: both stopped on SIGUSR1, the second after resuming the first
    stops = [(int(step), name) for step, name in STOPPED.findall(run.output)]
    assert [name for _, name in stops] == ["SIGUSR1", "SIGUSR1"], run.output[-5000:]
    (preempted_at, _), (warned_at, _) = stops
    assert 0 < preempted_at < warned_at < SIGNAL_MAX_STEPS  # steps the signals came in: no save was due
    assert f"resumed at global step {preempted_at}" in run.output

    summary = json.loads((signalled_train.slurm_dir / SIGNAL_MODEL / "train_summary.json").read_text())
    assert summary["resumed_from_step"] == warned_at
    assert summary["resumed_after"] == f"signal SIGUSR1 at step {warned_at}"
    assert (summary["steps"], summary["stopped_by"]) == (SIGNAL_MAX_STEPS, None)
    distributed = summary["distributed"]
    assert (distributed["num_processes"], distributed["distributed_type"]) == (SIGNAL_PROCESSES, "MULTI_CPU")
    retry_log = (signalled_train.slurm_dir / SIGNAL_TRAIN_LOG).read_text()
    assert f"resumed at global step {warned_at}" in retry_log

    assert_same_weights(
        signalled_train.slurm_dir / SIGNAL_MODEL, signalled_train.local_dir / SIGNAL_MODEL, atol=1e-6
    )


# ---------------------------------------------------------------- the production profile, without a cluster

JOB_HEADER = re.compile(r"^(?:local)?rule (\w+):$")


def dry_run_job_blocks(output: str) -> dict[str, dict[str, str]]:
    """Return rule -> {threads, resource names..., shell} of the first job of each rule in a dry run."""
    blocks: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in output.splitlines():
        header = JOB_HEADER.match(line)
        if header:
            rule = header.group(1)
            current = None if rule in blocks else blocks.setdefault(rule, {})
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped.startswith("threads:"):
            current["threads"] = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("resources:"):
            for item in stripped.split(":", 1)[1].split(","):
                name, _, value = item.strip().partition("=")
                current[name] = value
        elif line.startswith("Shell command:"):
            current["shell"] = line.split(":", 1)[1].strip()
    return blocks


def test_production_profile_asks_slurm_for_the_configured_gpus_partitions_and_time(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    # --cores: a dry run caps threads at 1 unless told how many cores there are
    target = "results/metrics/reject_gamma2.0_prop1_3.json"
    process = run_snakemake(workdir, "-n", "--cores", "1000", "--profile", "profiles/slurm", target)
    jobs = dry_run_job_blocks(process.stdout + process.stderr)
    train, infer = jobs["train"], jobs["infer"]
    assert (train["slurm_partition"], train["gpu"], train["threads"]) == ("gpu", "4", "16")
    assert (train["runtime"], train["mem_mb"], train["disk_mb"]) == ("2880", "128000", "320000")
    assert "accelerate launch --num_processes 4 " in train["shell"]
    assert train["slurm_extra"] == "--signal=USR1@600"  # the warning before the time limit
    # the full fine-tune is sharded: train_summary.json's `distributed` block shows it after the run
    assert "--config_file config/accelerate/fsdp.yaml" in train["shell"]
    assert (infer["slurm_partition"], infer["gpu"], infer["mem_mb"]) == ("gpu", "1", "32000")
    assert jobs["make_dataset"]["mem_mb"] == "16000"
    assert jobs["evaluate"]["slurm_partition"] == "cpu" and "gpu" not in jobs["evaluate"]

"""A stop signal (SLURM's warning before the time limit, a preemption notice, SIGTERM) makes train.py save a
checkpoint after its current optimizer step and exit 75; the rerun resumes there and ends with the weights of an
uninterrupted run."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import train
from model_weights import assert_same_weights
from wlf.training import checkpoints

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = ROOT / "workflow" / "scripts" / "train.py"
PACED_TRAINING = ROOT / "tests" / "paced_training.py"
# A pause after each step of a signalled run: the signal comes while steps remain, however fast the machine.
STEP_PAUSE_S = 0.1
DDP_CONFIG = ROOT / "config" / "accelerate" / "ddp.yaml"
# One torch thread per process (a busy 2-core machine); unbuffered, so the test sees each step as it is logged.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
N_EXAMPLES = 24
# Plain SGD at a constant rate, a step per example pair, a log line per step, and no periodic checkpoint:
# the only checkpoint is the one the signal asks for. Two processes of batch 1 make the same global batch of 2.
SETTINGS = {
    "optim": "sgd",
    "learning_rate": 0.2,
    "lr_scheduler_type": "constant",
    "warmup_ratio": 0.0,
    "num_train_epochs": 1,
    "per_device_train_batch_size": 2,
    "logging_steps": 1,
    "save_steps": 1000,
    "report_to": "none",
}
MAX_STEPS = N_EXAMPLES // 2
SIGNAL_AFTER_STEP = 2  # the test signals once this many steps are logged: mid-training, not a save step
LOGGED_STEP = re.compile(r"'loss': ")
STOPPED = re.compile(r"checkpoint of step (\d+) of \d+ \(signal (SIGUSR1|SIGTERM)\)")


@pytest.fixture(scope="module")
def train_file(data_chat_rows, tmp_path_factory):
    path = tmp_path_factory.mktemp("signal_data") / "train.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in data_chat_rows[:N_EXAMPLES]))
    return path


def train_command(
    train_file, model, out, settings=SETTINGS, launcher=(sys.executable,), pause_s=STEP_PAUSE_S
):
    paced = (str(PACED_TRAINING), str(pause_s)) if pause_s else ()
    return [
        *launcher, *paced, str(TRAIN_SCRIPT), "--train-file", str(train_file), "--model", str(model),
        "--variant", "accept", "--gamma", "2.0", "--settings", json.dumps(settings),
        "--output-dir", str(out / "model"), "--checkpoint-dir", str(out / "ckpt"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(train_file, data_tiny_model, tmp_path_factory):
    """Return the folder of a run that trained all its steps in one go."""
    out = tmp_path_factory.mktemp("uninterrupted")
    done = subprocess.run(
        train_command(train_file, data_tiny_model, out, pause_s=None),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def signal_mid_training(command, out, signal_number, target=lambda process: process.pid):
    """Start command, send signal_number to target(process) once SIGNAL_AFTER_STEP steps are logged, and
    return (exit code, log)."""
    log_path = out / "interrupted.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=ENV)
        deadline = time.time() + 240
        while len(LOGGED_STEP.findall(log_path.read_text())) < SIGNAL_AFTER_STEP:
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.time() < deadline, "no training step logged within 240 s"
            time.sleep(0.05)
        os.kill(target(process), signal_number)
        process.wait(timeout=240)
    return process.returncode, log_path.read_text()


def resume(command, out):
    """Return the finished rerun of command and its train_summary.json."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads((out / "model" / "train_summary.json").read_text())


def assert_stopped_by(signal_number, exit_code, log, out, after_step=0):
    """Assert the run stopped on signal_number after a step past after_step, before its last, and return that step."""
    assert exit_code == train.INTERRUPTED_EXIT, log[-3000:]
    step, name = STOPPED.search(log).groups()
    step = int(step)
    assert name == signal.Signals(signal_number).name
    assert after_step + SIGNAL_AFTER_STEP <= step < MAX_STEPS  # the step it was in, no save_steps multiple
    saved = checkpoints.latest_complete_checkpoint(out / "ckpt")
    assert saved.name == f"checkpoint-{step}"
    assert (
        json.loads((saved / "train_summary.json").read_text())["stopped_by"]
        == f"signal {name} at step {step}"
    )
    assert not (out / "model").exists()
    return step


def test_sigusr1_then_sigterm_each_save_their_step_and_the_last_rerun_ends_as_an_uninterrupted_run(
    train_file, data_tiny_model, uninterrupted, tmp_path
):
    command = train_command(train_file, data_tiny_model, tmp_path)
    exit_code, log = signal_mid_training(command, tmp_path, signal.SIGUSR1)
    first_stop = assert_stopped_by(signal.SIGUSR1, exit_code, log, tmp_path)
    assert (
        f"train: interrupted after saving the checkpoint of step {first_stop} of {MAX_STEPS} (signal SIGUSR1)"
        in log
    )

    exit_code, log = signal_mid_training(command, tmp_path, signal.SIGTERM)
    assert f"resumed at global step {first_stop}" in log
    second_stop = assert_stopped_by(signal.SIGTERM, exit_code, log, tmp_path, after_step=first_stop)

    rerun, summary = resume(command, tmp_path)
    assert f"resumed at global step {second_stop}" in rerun.stdout
    assert summary["resumed_from_step"] == second_stop
    assert summary["resumed_after"] == f"signal SIGTERM at step {second_stop}"
    assert (summary["steps"], summary["stopped_by"]) == (MAX_STEPS, None)
    assert_same_weights(tmp_path / "model", uninterrupted / "model")


def test_a_signal_to_one_of_two_processes_stops_both_after_the_same_step(
    train_file, data_tiny_model, tmp_path
):
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    launcher = (
        accelerate,
        "launch",
        "--num_processes",
        "2",
        "--main_process_port",
        "0",
        "--config_file",
        str(DDP_CONFIG),
    )
    command = train_command(
        train_file, data_tiny_model, tmp_path, {**SETTINGS, "per_device_train_batch_size": 1}, launcher
    )
    exit_code, log = signal_mid_training(command, tmp_path, signal.SIGUSR1, target=process_of_rank(1))
    assert exit_code != 0, log[-3000:]  # the launcher reports its processes' exit code 75 as a failure
    # rank 0 writes the log line: it stopped on rank 1's signal, after the same step
    step = int(STOPPED.search(log).group(1))
    assert (
        f"train: interrupted after saving the checkpoint of step {step} of {MAX_STEPS} (signal SIGUSR1)"
        in log
    )
    assert SIGNAL_AFTER_STEP <= step < MAX_STEPS
    saved = checkpoints.latest_complete_checkpoint(tmp_path / "ckpt")
    assert saved.name == f"checkpoint-{step}"
    # both processes saved their state of that step (a resume restores each one's random state)
    assert sorted(path.name for path in saved.glob("rng_state_*.pth")) == [
        "rng_state_0.pth",
        "rng_state_1.pth",
    ]
    assert log.count("exitcode  : 75") == 2, log[-3000:]  # torch's report: both processes exited 75


def process_of_rank(rank):
    """Return a function giving the pid of the launcher's child process of this rank."""

    def find(launcher):
        for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            if parent == launcher.pid and f"RANK={rank}".encode() in environ:
                return pid
        raise AssertionError(f"no process of rank {rank} under the launcher {launcher.pid}")

    return find

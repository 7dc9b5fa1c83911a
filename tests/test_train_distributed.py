"""Two data-parallel processes (gloo on CPU, started by accelerate launch as the rule does) train exactly like one."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = ROOT / "workflow" / "scripts" / "train.py"
DDP_CONFIG = ROOT / "config" / "accelerate" / "ddp.yaml"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread per process on a 2-core machine
# One plain SGD step without clipping: the update is -lr * gradient, so equal weights mean equal gradients.
ONE_SGD_STEP = {
    "optim": "sgd",
    "learning_rate": 0.5,
    "lr_scheduler_type": "constant",
    "warmup_ratio": 0.0,
    "max_grad_norm": 0.0,
    "num_train_epochs": 1,
    "logging_steps": 1,
    "save_steps": 1000,
    "report_to": "none",
}


@pytest.fixture(scope="module")
def one_accept_three_rejects(data_chat_rows, tmp_path_factory):
    """Return a 4-example training file, 1 Accept + 3 Reject, so the two processes' weight sums differ."""
    accepts = [row for row in data_chat_rows if row["label"] == "Accept"]
    rejects = [row for row in data_chat_rows if row["label"] == "Reject"]
    chosen = accepts[:1] + rejects[:3]
    path = tmp_path_factory.mktemp("ddp_data") / "train.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in chosen))
    return path


def train_args(train_file, model, settings, out):
    return [
        str(TRAIN_SCRIPT),
        "--train-file",
        str(train_file),
        "--model",
        str(model),
        "--variant",
        "accept",
        "--gamma",
        "4.0",
        "--settings",
        json.dumps(settings),
        "--output-dir",
        str(out / "model"),
        "--checkpoint-dir",
        str(out / "ckpt"),
    ]


def run_training(launcher, train_file, model, per_device_batch_size, out):
    """Return the finished train.py process started by launcher for one SGD step on train_file."""
    settings = {**ONE_SGD_STEP, "per_device_train_batch_size": per_device_batch_size}
    return subprocess.run(
        [*launcher, *train_args(train_file, model, settings, out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=ENV,
    )


def load_weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_two_processes_give_the_single_process_loss_and_update(
    one_accept_three_rejects, data_tiny_model, tmp_path
):
    import torch

    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert accelerate is not None, "accelerate launcher not found beside the python interpreter"
    single = run_training([sys.executable], one_accept_three_rejects, data_tiny_model, 4, tmp_path / "one")
    assert single.returncode == 0, single.stderr[-3000:]
    launcher = [accelerate, "launch", "--num_processes", "2", "--main_process_port", "0"]
    double = run_training(
        [*launcher, "--config_file", str(DDP_CONFIG)],
        one_accept_three_rejects,
        data_tiny_model,
        2,
        tmp_path / "two",
    )
    assert double.returncode == 0, double.stderr[-3000:]
    assert "on 4 examples, 2 process(es)" in double.stdout  # one group of two, not two separate runs

    one = json.loads((tmp_path / "one" / "model" / "train_summary.json").read_text())
    two = json.loads((tmp_path / "two" / "model" / "train_summary.json").read_text())
    assert (one["num_processes"], two["num_processes"]) == (1, 2)
    assert one["global_batch_size"] == two["global_batch_size"] == 4
    assert one["steps"] == two["steps"] == 1
    assert one["tokens_seen"]["real"] == two["tokens_seen"]["real"]  # both processes' tokens are counted
    assert two["loss_curve"][0]["loss"] == pytest.approx(one["loss_curve"][0]["loss"], rel=1e-5)

    initial, after_one, after_two = (
        load_weights(Path(data_tiny_model)),
        load_weights(tmp_path / "one" / "model"),
        load_weights(tmp_path / "two" / "model"),
    )
    for name, value in after_one.items():
        torch.testing.assert_close(after_two[name], value, atol=1e-6, rtol=1e-5, msg=name)
    moved = max((after_one[name] - initial[name]).abs().max().item() for name in after_one)
    assert moved > 1e-3  # the step changed the weights, so equal weights are a real comparison

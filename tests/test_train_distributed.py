"""Two processes (gloo on CPU, started by accelerate launch as the rule does) train exactly like one: data-parallel
with config/accelerate/ddp.yaml, and fully sharded with the production config/accelerate/fsdp.yaml (through
tests/fsdp_on_cpu.py, since accelerate enables FSDP only on accelerator devices), including a resume from an FSDP
checkpoint and inference on the final model."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import infer as infer_cli

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = ROOT / "workflow" / "scripts" / "train.py"
DDP_CONFIG = ROOT / "config" / "accelerate" / "ddp.yaml"
FSDP_CONFIG = ROOT / "config" / "accelerate" / "fsdp.yaml"
FSDP_ON_CPU = ROOT / "tests" / "fsdp_on_cpu.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread per process on a 2-core machine
# Two plain SGD steps: the update is -lr * (clipped) gradient, so equal weights mean equal gradients. The clip
# binds (the first step's gradient norm is ~7), so the clipped update also checks the global gradient norm,
# which FSDP computes from every process's shards; the logged grad_norm checks the gradient's scale. The linear
# schedule halves the second step's learning rate, so a resume must restore the scheduler too.
TWO_SGD_STEPS = {
    "optim": "sgd",
    "learning_rate": 0.5,
    "lr_scheduler_type": "linear",
    "warmup_ratio": 0.0,
    "max_grad_norm": 1.0,
    "num_train_epochs": 2,
    "logging_steps": 1,
    "save_steps": 1,
    "report_to": "none",
    "keep_checkpoints": True,  # the tests read each step's checkpoint of completed runs
}
INTERRUPTED_EXIT = 75  # train.py's exit code after train.interrupt_at_step


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


def run_training(launcher, train_file, model, per_device_batch_size, out, **settings):
    """Return the finished train.py process started by launcher for TWO_SGD_STEPS (settings replace its keys)."""
    settings = {**TWO_SGD_STEPS, "per_device_train_batch_size": per_device_batch_size, **settings}
    return subprocess.run(
        [*launcher, *train_args(train_file, model, settings, out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=ENV,
    )


def accelerate_launch(config, *overrides):
    """Return the accelerate launch command for 2 processes with config and the launcher flags overrides."""
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert accelerate is not None, "accelerate launcher not found beside the python interpreter"
    return [accelerate, "launch", "--config_file", str(config), "--num_processes", "2", *overrides,
            "--main_process_port", "0"]  # fmt: skip


def load_weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def summary_of(out):
    return json.loads((out / "model" / "train_summary.json").read_text())


def logged_step(checkpoint, step):
    """Return the Trainer's log entry of `step` (loss, grad_norm, learning_rate) saved with a checkpoint."""
    history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    return next(entry for entry in history if entry.get("step") == step and "loss" in entry)


def assert_same_weights(actual, expected):
    """Assert every tensor of expected is in actual with the same values (actual may add a tied copy)."""
    import torch

    assert set(expected) <= set(actual)
    for name, value in expected.items():
        torch.testing.assert_close(actual[name], value, atol=1e-6, rtol=1e-5, msg=name)


@pytest.fixture(scope="module")
def single_process(one_accept_three_rejects, data_tiny_model, tmp_path_factory):
    """Return the folder of the single-process run (4 examples a step), the reference of both 2-process runs."""
    out = tmp_path_factory.mktemp("one_process")
    process = run_training([sys.executable], one_accept_three_rejects, data_tiny_model, 4, out)
    assert process.returncode == 0, process.stderr[-3000:]
    return out


def test_single_process_summary_says_it_was_not_distributed(single_process):
    distributed = summary_of(single_process)["distributed"]
    assert distributed["distributed_type"] == "NO" and distributed["backend"] is None
    assert distributed["num_processes"] == 1
    assert distributed["fsdp_version"] is None and distributed["fsdp_units"] == {}
    assert distributed["model_wrapper"] == "Qwen2ForCausalLM"
    assert distributed["dtensor_parameters"] == 0 and distributed["local_weight_fraction"] == 1.0
    assert distributed["activation_checkpointing"] is None  # train.gradient_checkpointing is off by default


def test_two_processes_give_the_single_process_loss_and_update(
    single_process, one_accept_three_rejects, data_tiny_model, tmp_path
):
    double = run_training(
        accelerate_launch(DDP_CONFIG), one_accept_three_rejects, data_tiny_model, 2, tmp_path
    )
    assert double.returncode == 0, double.stderr[-3000:]
    assert "on 4 examples, 2 process(es)" in double.stdout  # one group of two, not two separate runs

    one, two = summary_of(single_process), summary_of(tmp_path)
    assert two["distributed"]["distributed_type"] == "MULTI_CPU" and two["distributed"]["backend"] == "gloo"
    assert two["distributed"]["num_processes"] == 2
    assert two["distributed"]["model_wrapper"] == "DistributedDataParallel"
    assert one["global_batch_size"] == two["global_batch_size"] == 4
    assert one["steps"] == two["steps"] == 2
    assert one["tokens_seen"]["real"] == two["tokens_seen"]["real"]  # both processes' tokens are counted
    for point_one, point_two in zip(one["loss_curve"], two["loss_curve"], strict=True):
        assert point_two["loss"] == pytest.approx(point_one["loss"], rel=1e-5)
    step_one = logged_step(single_process / "ckpt" / "checkpoint-1", 1)
    assert logged_step(tmp_path / "ckpt" / "checkpoint-1", 1)["grad_norm"] == pytest.approx(
        step_one["grad_norm"], rel=1e-5
    )

    initial, after_one = load_weights(Path(data_tiny_model)), load_weights(single_process / "model")
    assert_same_weights(load_weights(tmp_path / "model"), after_one)
    moved = max((after_one[name] - initial[name]).abs().max().item() for name in after_one)
    assert moved > 1e-3  # the steps changed the weights, so equal weights are a real comparison
    assert step_one["grad_norm"] > TWO_SGD_STEPS["max_grad_norm"]  # the clip bound: the norm is compared


def fsdp_launcher():
    """Return the launch of train.py under the production config/accelerate/fsdp.yaml on 2 CPU processes.

    Two launcher overrides: --num_processes 2 (the config's 4 are GPUs) and --mixed_precision no (FSDP2's bf16
    also runs on CPU, but the fp32 single-process reference needs fp32). tests/fsdp_on_cpu.py switches
    accelerate's state to FSDP, which accelerate does only on accelerator devices.
    """
    return [*accelerate_launch(FSDP_CONFIG, "--mixed_precision", "no"), str(FSDP_ON_CPU)]


@pytest.fixture(scope="module")
def fsdp_sgd(one_accept_three_rejects, data_tiny_model, tmp_path_factory):
    """Return (folder, process) of the 2-process FSDP run with the single-process run's two SGD steps."""
    out = tmp_path_factory.mktemp("fsdp_sgd")
    process = run_training(fsdp_launcher(), one_accept_three_rejects, data_tiny_model, 2, out)
    assert process.returncode == 0, process.stderr[-3000:]
    return out, process


def test_fsdp_shards_the_model_per_decoder_layer_and_says_so(fsdp_sgd, data_tiny_model):
    out, process = fsdp_sgd
    distributed = summary_of(out)["distributed"]
    expected_plan = {
        "distributed_type": "FSDP",
        "num_processes": 2,
        "backend": "gloo",
        "mixed_precision": "no",
        "fsdp_version": 2,
        "reshard_after_forward": True,
        "sharding_strategy": None,
        "state_dict_type": "FULL_STATE_DICT",
        "cpu_ram_efficient_loading": True,
    }
    assert {key: distributed[key] for key in expected_plan} == expected_plan
    n_layers = json.loads((Path(data_tiny_model) / "config.json").read_text())["num_hidden_layers"]
    assert distributed["model_wrapper"] == "FSDPQwen2ForCausalLM"
    assert distributed["fsdp_units"]["FSDPQwen2DecoderLayer"] == n_layers
    assert distributed["fsdp_units"]["FSDPQwen2ForCausalLM"] == 1
    # every parameter is a DTensor of which this process holds half
    assert distributed["dtensor_parameters"] == distributed["parameters"] > 0
    assert distributed["local_weight_fraction"] == pytest.approx(0.5, abs=0.01)
    assert distributed["activation_checkpointing"] == "fsdp"  # the config's, not transformers'
    assert (
        "distributed: FSDP2 (reshard_after_forward=True, FULL_STATE_DICT, cpu_ram_efficient_loading=True) over "
        "2 process(es), backend gloo" in process.stdout
    )
    # FSDP's full-state-dict checkpoint files, not the data-parallel optimizer.pt
    names = {path.name for path in (out / "ckpt" / "checkpoint-1").iterdir()}
    assert {"pytorch_model_fsdp.bin", "optimizer.bin"} <= names and "optimizer.pt" not in names


def test_fsdp_steps_give_the_single_process_losses_gradient_norm_and_weights(fsdp_sgd, single_process):
    out, _ = fsdp_sgd
    one, fsdp = summary_of(single_process), summary_of(out)
    assert one["global_batch_size"] == fsdp["global_batch_size"] == 4 and one["steps"] == fsdp["steps"] == 2
    assert fsdp["tokens_seen"] == one["tokens_seen"]
    for point_one, point_fsdp in zip(one["loss_curve"], fsdp["loss_curve"], strict=True):
        assert point_fsdp["loss"] == pytest.approx(point_one["loss"], rel=1e-5)
    step_one = logged_step(single_process / "ckpt" / "checkpoint-1", 1)
    # the norm of the gradient FSDP reduce-scattered, over both processes' shards (DTensor arithmetic: it
    # agrees to 1.5e-5 here; half the shards would give 0.7 times the norm, a doubled gradient twice)
    assert logged_step(out / "ckpt" / "checkpoint-1", 1)["grad_norm"] == pytest.approx(
        step_one["grad_norm"], rel=1e-4
    )
    # the weights after one sharded step (gathered into the checkpoint's full state dict) and after both
    assert_same_weights(
        load_weights(out / "ckpt" / "checkpoint-1"), load_weights(single_process / "ckpt" / "checkpoint-1")
    )
    fsdp_weights = load_weights(out / "model")
    assert_same_weights(fsdp_weights, load_weights(single_process / "model"))
    # FSDP's full state dict also writes the tied LM head, a copy of the embedding that loading ties again
    assert set(fsdp_weights) - set(load_weights(single_process / "model")) == {"lm_head.weight"}
    assert fsdp_weights["lm_head.weight"].equal(fsdp_weights["model.embed_tokens.weight"])


def test_infer_loads_the_fsdp_model_and_scores_as_the_single_process_model(
    fsdp_sgd, single_process, data_chat_rows, tmp_path
):
    out, _ = fsdp_sgd
    test_file = tmp_path / "test.jsonl"
    test_file.write_text("".join(json.dumps(row) + "\n" for row in data_chat_rows[:6]))
    predictions = {}
    for name, model in (("fsdp", out / "model"), ("one", single_process / "model")):
        output = tmp_path / f"{name}.jsonl"
        argv = ["--model", str(model), "--test-file", str(test_file), "--output", str(output)]
        assert infer_cli.main(argv) == 0
        predictions[name] = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(predictions["fsdp"]) == 6
    for fsdp_row, one_row in zip(predictions["fsdp"], predictions["one"], strict=True):
        assert fsdp_row["id"] == one_row["id"] and fsdp_row["pred"] == one_row["pred"]
        assert fsdp_row["p_accept"] == pytest.approx(one_row["p_accept"], abs=1e-5)


# The resume runs use the production optimizer: plain SGD keeps no state, and torch 2.13's
# set_optimizer_state_dict cannot load a full optimizer state dict without any tensor in it ("Expected device
# to be set"), so an FSDP run with train.optim sgd cannot resume.
TWO_ADAMW_STEPS = {"optim": "adamw_torch", "learning_rate": 0.01}


@pytest.fixture(scope="module")
def fsdp_resumed(one_accept_three_rejects, data_tiny_model, tmp_path_factory):
    """Return (folder, interrupted process, resumed process) of a 2-process FSDP AdamW run stopped after its
    step-1 checkpoint (train.interrupt_at_step) and resumed from it, as a retried SLURM job does."""
    out = tmp_path_factory.mktemp("fsdp_resumed")
    settings = {**TWO_ADAMW_STEPS, "interrupt_at_step": 1}
    launch = [fsdp_launcher(), one_accept_three_rejects, data_tiny_model, 2, out]
    return out, run_training(*launch, **settings), run_training(*launch, **settings)


def test_fsdp_run_interrupted_after_a_checkpoint_resumes_to_the_uninterrupted_weights(
    fsdp_resumed, one_accept_three_rejects, data_tiny_model, tmp_path
):
    out, interrupted, resumed = fsdp_resumed
    # the first launch stopped after its step-1 checkpoint: each process exited 75, the launcher reports it
    assert interrupted.returncode != 0
    assert "interrupted after saving the checkpoint of step 1 of 2" in interrupted.stderr
    assert f"exitcode  : {INTERRUPTED_EXIT}" in interrupted.stderr
    checkpoint = out / "ckpt" / "checkpoint-1"
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {checkpoint}" in resumed.stdout and "resumed at global step 1" in resumed.stdout

    uninterrupted = run_training(
        fsdp_launcher(), one_accept_three_rejects, data_tiny_model, 2, tmp_path, **TWO_ADAMW_STEPS
    )
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    whole, split = summary_of(tmp_path), summary_of(out)
    assert split["distributed"]["distributed_type"] == "FSDP"
    assert (split["resumed_from_step"], split["steps"]) == (1, 2)
    assert split["tokens_seen"] == whole["tokens_seen"]
    assert [point["loss"] for point in split["loss_curve"]] == pytest.approx(
        [point["loss"] for point in whole["loss_curve"]], rel=1e-6
    )
    # the weights and the AdamW moments restored from the FSDP checkpoint make the same second step
    initial, after = load_weights(Path(data_tiny_model)), load_weights(tmp_path / "model")
    assert_same_weights(load_weights(out / "model"), after)
    assert max((after[name] - initial[name]).abs().max().item() for name in initial) > 1e-3

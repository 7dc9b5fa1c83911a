"""Training stage: the weighted trainer on the real tiny model, the train.py CLI, and resuming after a kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import train
from model_weights import assert_same_weights
from wlf.training import checkpoints as train_checkpoints
from wlf.training import distribution, run
from wlf.training import settings as train_settings

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = ROOT / "workflow" / "scripts" / "train.py"
# One torch thread per training process, as the rule gives it: on a busy 2-core machine two threads spin
# against each other and a run takes 20x longer.
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
# One plain SGD step without clipping: the update is -lr * gradient, so equal updates mean equal gradients.
ONE_SGD_STEP = {
    "optim": "sgd",
    "learning_rate": 0.5,
    "lr_scheduler_type": "constant",
    "warmup_ratio": 0.0,
    "max_grad_norm": 0.0,
    "num_train_epochs": 1,
    "save_steps": 1000,
    "logging_steps": 1,
    "report_to": "none",
}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Train in this process on one thread (as the rule does), restoring the setting afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def mixed_rows(rows, n_accept, n_reject):
    """Return the first n_accept Accept rows followed by the first n_reject Reject rows."""
    accepts = [row for row in rows if row["label"] == "Accept"][:n_accept]
    rejects = [row for row in rows if row["label"] == "Reject"][:n_reject]
    assert len(accepts) == n_accept and len(rejects) == n_reject
    return accepts + rejects


def write_rows(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def as_papers(rows):
    """Return chat rows as the chat-set reader returns them: id, label and the prompt before the answer."""
    return [{"id": row["id"], "label": row["label"], "prompt": row["messages"][:-1]} for row in rows]


def build_trainer(model_dir, rows, variant, gamma, checkpoint_dir, trainer_class=None, **overrides):
    """Return a trainer over a fresh copy of the tiny model, batches in file order."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig

    from wlf.training import trainer as weighted_trainer

    settings = train_settings.resolve_settings({**ONE_SGD_STEP, **overrides})
    kwargs = train_settings.sft_config_kwargs(settings, str(checkpoint_dir), bf16=False, cuda=False)
    kwargs["train_sampling_strategy"] = "sequential"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    dataset = datasets.Dataset.from_list(run.prompt_completion_records(as_papers(rows), variant, gamma))
    if trainer_class is not None:
        return trainer_class(
            model=model, args=SFTConfig(**kwargs), train_dataset=dataset, processing_class=tokenizer
        )
    return weighted_trainer.WeightedSFTTrainer(
        model=model,
        args=SFTConfig(**kwargs),
        train_dataset=dataset,
        processing_class=tokenizer,
        loss_reduction=settings["loss_reduction"],
        end_of_turn_id=run.end_of_turn_id(tokenizer),
        max_tokens=settings["max_length"],
    )


def first_batch(trainer):
    return next(iter(trainer.get_train_dataloader()))


def one_step(model_dir, rows, variant, gamma, checkpoint_dir, **overrides):
    """Return (logged loss, gradients, updated weights) of one optimizer step over rows."""
    from transformers import TrainerCallback

    class CaptureGradients(TrainerCallback):
        grads = None

        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
            CaptureGradients.grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}

    trainer = build_trainer(model_dir, rows, variant, gamma, checkpoint_dir, **overrides)
    trainer.add_callback(CaptureGradients)
    trainer.train()
    assert trainer.state.global_step == 1
    weights = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    return trainer.state.log_history[0]["loss"], CaptureGradients.grads, weights


def assert_same_tensors(first, second, atol):
    import torch

    assert first.keys() == second.keys()
    for name in first:
        torch.testing.assert_close(first[name], second[name], atol=atol, rtol=1e-4, msg=name)


def hand_loss(model, batch, reduction):
    """Return the loss computed from the model's full logits: sum_i w_i sum_t l_it / (sum_i w_i n_i or sum_i n_i)."""
    import torch

    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    log_probs = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    numerator, weighted_tokens, tokens = 0.0, 0.0, 0
    for row in range(batch["input_ids"].shape[0]):
        labels = batch["labels"][row, 1:]
        positions = (labels != -100).nonzero().flatten().tolist()
        weight = batch["token_weights"][row, 0].item()
        example_loss = -sum(log_probs[row, j, labels[j]].item() for j in positions)
        numerator += weight * example_loss
        weighted_tokens += weight * len(positions)
        tokens += len(positions)
    return numerator / (weighted_tokens if reduction == "step_token_weighted" else tokens)


# ---- the dataset the trainer builds ----
def test_loss_tokens_are_exactly_the_answer_and_its_end_of_turn_token(
    data_tiny_model, data_chat_rows, tmp_path
):
    trainer = build_trainer(data_tiny_model, mixed_rows(data_chat_rows, 2, 2), "accept", 4.0, tmp_path)
    tokenizer = trainer.processing_class
    for example in trainer.train_dataset:
        pairs = zip(example["input_ids"], example["labels"], strict=True)
        answer = [tokenizer.decode([token]) for token, label in pairs if label != -100]
        assert answer in (["Accept", "<|im_end|>"], ["Reject", "<|im_end|>"])
        assert example["input_ids"][-1] == tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_collated_token_weights_follow_each_examples_label(data_tiny_model, data_chat_rows, tmp_path):
    trainer = build_trainer(
        data_tiny_model,
        mixed_rows(data_chat_rows, 1, 3),
        "accept",
        4.0,
        tmp_path,
        per_device_train_batch_size=4,
    )
    batch = first_batch(trainer)
    assert batch["token_weights"].shape == batch["labels"].shape
    lengths = batch["attention_mask"].sum(dim=1).tolist()
    for row, length in enumerate(lengths):
        expected = 4.0 if row == 0 else 1.0  # row 0 is the Accept example (sequential sampler)
        assert batch["token_weights"][row, :length].unique().tolist() == [expected]
        assert batch["token_weights"][row, length:].sum().item() == 0.0


def test_extra_weight_column_survives_column_removal_and_never_reaches_the_model(
    data_tiny_model, data_chat_rows, tmp_path
):
    trainer = build_trainer(data_tiny_model, mixed_rows(data_chat_rows, 1, 1), "accept", 4.0, tmp_path)
    assert trainer.args.remove_unused_columns
    batch = first_batch(trainer)
    assert "example_weight" not in batch and "token_weights" in batch
    seen = {}
    original_forward = trainer.model.forward

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original_forward(*args, **kwargs)

    trainer.model.forward = spy
    trainer.compute_loss(trainer.model, dict(batch))
    assert "token_weights" not in seen and "example_weight" not in seen and seen["fused_lm_head"] is True


def test_an_example_longer_than_max_length_is_an_error_naming_it(data_tiny_model, data_chat_rows, tmp_path):
    rows = mixed_rows(data_chat_rows, 1, 1)
    with pytest.raises(
        ValueError, match=rf"2 train examples are longer than max_length = 16 tokens, e.g. '{rows[0]['id']}'"
    ):
        build_trainer(data_tiny_model, rows, "accept", 4.0, tmp_path, max_length=16)


# ---- the loss ----
def test_gamma_one_loss_equals_trls_own_sft_loss_on_the_same_batch(data_tiny_model, data_chat_rows, tmp_path):
    from trl import SFTTrainer

    rows = mixed_rows(data_chat_rows, 2, 2)
    weighted = build_trainer(
        data_tiny_model, rows, "baseline", 1.0, tmp_path / "w", per_device_train_batch_size=4
    )
    plain = build_trainer(
        data_tiny_model,
        rows,
        "baseline",
        1.0,
        tmp_path / "p",
        trainer_class=SFTTrainer,
        per_device_train_batch_size=4,
    )
    batch = first_batch(weighted)
    plain_batch = {k: v for k, v in batch.items() if k != "token_weights"}
    weighted_loss = weighted.compute_loss(
        weighted.model, dict(batch), num_items_in_batch=weighted._get_num_items_in_batch([batch], "cpu")
    )
    plain_loss = plain.compute_loss(
        plain.model, dict(plain_batch), num_items_in_batch=plain._get_num_items_in_batch([plain_batch], "cpu")
    )
    assert weighted_loss.item() > 1.0  # an untrained model: far from a trivially small loss
    assert weighted_loss.item() == pytest.approx(plain_loss.item(), rel=1e-6)


@pytest.mark.parametrize("reduction", ["step_token_weighted", "mean"])
def test_loss_matches_the_formula_on_full_logits(data_tiny_model, data_chat_rows, tmp_path, reduction):
    trainer = build_trainer(
        data_tiny_model,
        mixed_rows(data_chat_rows, 1, 3),
        "accept",
        4.0,
        tmp_path,
        per_device_train_batch_size=4,
        loss_reduction=reduction,
    )
    batch = first_batch(trainer)
    expected = hand_loss(trainer.model, batch, reduction)
    loss = trainer.compute_loss(
        trainer.model, dict(batch), num_items_in_batch=trainer._get_num_items_in_batch([batch], "cpu")
    )
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # gamma 4 on one Accept of four: the two reductions must differ, so the test can tell them apart
    other = "mean" if reduction == "step_token_weighted" else "step_token_weighted"
    assert hand_loss(trainer.model, batch, other) != pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("padding_free", [False, True])
def test_batch_of_four_equals_four_accumulated_batches_of_one(
    data_tiny_model, data_chat_rows, tmp_path, padding_free
):
    rows = mixed_rows(data_chat_rows, 1, 3)
    loss_4x1, grads_4x1, weights_4x1 = one_step(
        data_tiny_model,
        rows,
        "accept",
        4.0,
        tmp_path / "a",
        per_device_train_batch_size=4,
        gradient_accumulation_steps=1,
        padding_free=padding_free,
    )
    loss_1x4, grads_1x4, weights_1x4 = one_step(
        data_tiny_model,
        rows,
        "accept",
        4.0,
        tmp_path / "b",
        per_device_train_batch_size=1,
        gradient_accumulation_steps=4,
        padding_free=padding_free,
    )
    assert loss_4x1 == pytest.approx(loss_1x4, rel=1e-5)
    assert_same_tensors(grads_4x1, grads_1x4, atol=1e-6)
    assert_same_tensors(weights_4x1, weights_1x4, atol=1e-6)
    assert (
        max(g.abs().max().item() for g in grads_4x1.values()) > 1e-3
    )  # the gradients are not trivially zero


def test_padding_free_batch_gives_the_padded_batchs_loss_and_gradients(
    data_tiny_model, data_chat_rows, tmp_path
):
    rows = mixed_rows(data_chat_rows, 2, 2)
    padded = one_step(data_tiny_model, rows, "reject", 2.0, tmp_path / "a", per_device_train_batch_size=4)
    flat = one_step(
        data_tiny_model, rows, "reject", 2.0, tmp_path / "b", per_device_train_batch_size=4, padding_free=True
    )
    assert padded[0] == pytest.approx(flat[0], rel=1e-5)
    assert_same_tensors(padded[1], flat[1], atol=1e-6)


def test_weighting_moves_the_gradient(data_tiny_model, data_chat_rows, tmp_path):
    rows = mixed_rows(data_chat_rows, 1, 3)
    _, baseline, _ = one_step(
        data_tiny_model, rows, "baseline", 1.0, tmp_path / "a", per_device_train_batch_size=4
    )
    _, weighted, _ = one_step(
        data_tiny_model, rows, "accept", 4.0, tmp_path / "b", per_device_train_batch_size=4
    )
    name = "model.embed_tokens.weight"
    assert (baseline[name] - weighted[name]).abs().max().item() > 1e-4


# ---- the CLI ----
def run_train(tmp_path, train_file, model, settings, variant="accept", gamma=2.0, name="run"):
    argv = [
        sys.executable,
        str(TRAIN_SCRIPT),
        "--train-file",
        str(train_file),
        "--model",
        str(model),
        "--variant",
        variant,
        "--gamma",
        str(gamma),
        "--settings",
        json.dumps(settings),
        "--output-dir",
        str(tmp_path / "models" / name),
        "--checkpoint-dir",
        str(tmp_path / "ckpt" / name),
        "--tensorboard-dir",
        str(tmp_path / "tensorboard" / name),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=ROOT, env=SUBPROCESS_ENV)


def test_cli_writes_weights_tokenizer_and_summary(data_tiny_model, data_chat_rows, tmp_path):
    rows = mixed_rows(data_chat_rows, 4, 12)
    train_file = write_rows(tmp_path / "train.jsonl", rows)
    settings = {
        "num_train_epochs": 2,
        "per_device_train_batch_size": 4,
        "save_steps": 3,
        "logging_steps": 2,
        "seed": 3,
    }
    result = run_train(tmp_path, train_file, data_tiny_model, settings, variant="accept", gamma=2.0)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "models" / "run"
    assert {"model.safetensors", "tokenizer.json", "config.json", "train_summary.json"} <= {
        p.name for p in out.iterdir()
    }
    assert not list((tmp_path / "models").glob(".*"))  # no partial or old folder left beside it
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == summary["max_steps"] == 8  # 16 examples / 4 per step, 2 epochs
    assert summary["examples"] == 16 and summary["examples_by_label"] == {"Accept": 4, "Reject": 12}
    assert summary["class_weights"] == {"Accept": 2.0, "Reject": 1.0} and summary["seed"] == 3
    assert summary["epochs"] == 2.0 and summary["resumed_from_step"] == 0
    assert 0 < summary["tokens_seen"]["real"] <= summary["tokens_seen"]["padded"]
    assert 0 <= summary["padding_waste"] < 0.5
    assert summary["tokens_per_second"] > 0 and summary["peak_memory"]["kind"] == "max_rss"
    assert [point["step"] for point in summary["loss_curve"]] == [1, 2, 4, 6, 8]
    assert summary["final_loss"] == summary["loss_curve"][-1]["loss"]
    assert summary["settings"]["learning_rate"] == train_settings.DEFAULT_SETTINGS["learning_rate"]
    assert set(summary["packages"]) >= {"torch", "transformers", "trl", "peft", "accelerate"}
    assert "git_commit" in summary and summary["bf16"] is False
    assert (
        "no complete checkpoint" in result.stdout
        and "weights={'Accept': 2.0, 'Reject': 1.0}" in result.stdout
    )
    # report_to tensorboard (the default): the logged losses, step by step, in the run's own folder
    assert train_settings.DEFAULT_SETTINGS["report_to"] == "tensorboard"
    scalars = tensorboard_scalars(tmp_path / "tensorboard" / "run")
    assert [(step, pytest.approx(loss)) for step, loss in scalars["train/loss"]] == [
        (point["step"], point["loss"]) for point in summary["loss_curve"]
    ]
    # the model is complete: its checkpoints (saved at steps 3, 6 and 8) are gone, its hard-linked copy stays
    checkpoint_dir = tmp_path / "ckpt" / "run"
    assert not list(checkpoint_dir.glob("checkpoint-*"))
    assert (checkpoint_dir / "model" / "model.safetensors").stat().st_ino == (
        out / "model.safetensors"
    ).stat().st_ino
    assert f"removed 2 checkpoint(s) with optimizer state from {checkpoint_dir}" in result.stdout


def tensorboard_scalars(log_dir):
    """Return {tag: [(step, value)]} of every scalar in the TensorBoard event files under log_dir."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_a_saved_model_that_fails_the_check_is_not_written_and_the_checkpoints_stay(tmp_path):
    from safetensors.numpy import save_file

    class CutSave:  # a trainer whose save is cut short, e.g. by a full disk
        def save_model(self, folder):
            Path(folder).mkdir(parents=True)
            (Path(folder) / "config.json").write_text("{}")
            (Path(folder) / "tokenizer_config.json").write_text("{}")
            save_file({"w": np.zeros((8, 8), np.float32)}, f"{folder}/model.safetensors")
            weights = Path(folder) / "model.safetensors"
            weights.write_bytes(weights.read_bytes()[:-4])

    state = SimpleNamespace(is_main_process=True, wait_for_everyone=lambda: None)
    session = run.Session(sft_args=None, state=state, bf16=False, log=print)
    fake_checkpoint(tmp_path / "ckpt", 4)
    summary = {"steps": 4, "max_steps": 4}
    with pytest.raises(RuntimeError, match=r"the saved model is incomplete, so .*model was not written"):
        run.save_final_model(CutSave(), session, tmp_path / "model", tmp_path / "ckpt", summary)
    assert not (tmp_path / "model").exists() and (tmp_path / "ckpt" / "checkpoint-4").is_dir()


def test_final_model_check_names_a_cut_weights_file_and_an_unfinished_summary(tmp_path):
    from safetensors.numpy import save_file

    model = tmp_path / "model"
    model.mkdir()
    save_file({"w": np.zeros((8, 8), np.float32)}, str(model / "model.safetensors"))
    (model / "config.json").write_text("{}")
    (model / "tokenizer_config.json").write_text("{}")
    (model / "train_summary.json").write_text(json.dumps({"steps": 4, "max_steps": 4}))
    assert train_checkpoints.final_model_problems(model) == []
    weights = (model / "model.safetensors").read_bytes()
    (model / "model.safetensors").write_bytes(weights[:-4])
    (model / "train_summary.json").write_text(json.dumps({"steps": 3, "max_steps": 4}))
    problems = train_checkpoints.final_model_problems(model)
    assert len(problems) == 2
    assert "model.safetensors: Error while deserializing header: incomplete metadata" in problems[0]
    assert problems[1].endswith("train_summary.json: 3 of 4 steps")
    (model / "model.safetensors").unlink()
    (model / "config.json").unlink()
    assert train_checkpoints.final_model_problems(model)[:2] == [
        f"{model}: neither config.json nor adapter_config.json",
        f"{model}: no *.safetensors weights",
    ]


def test_cli_lora_writes_an_adapter(data_tiny_model, data_chat_rows, tmp_path):
    train_file = write_rows(tmp_path / "train.jsonl", mixed_rows(data_chat_rows, 2, 2))
    settings = {
        "method": "lora",
        "num_train_epochs": 1,
        "per_device_train_batch_size": 4,
        "lora": {"r": 4, "target_modules": "all-linear"},
    }
    result = run_train(tmp_path, train_file, data_tiny_model, settings, variant="reject", gamma=4.0)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "models" / "run"
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 32
    assert (out / "adapter_model.safetensors").exists() and not (out / "model.safetensors").exists()


def run_cli_on_bad_input(train_file, tmp_path, *extra_args):
    """Return train.py's exit code on train_file (model 'unused': bad input must stop it before any loading)."""
    return train.main(
        [
            "--train-file",
            str(train_file),
            "--model",
            "unused",
            "--variant",
            "accept",
            "--gamma",
            "2",
            *extra_args,
            "--output-dir",
            str(tmp_path / "m"),
            "--checkpoint-dir",
            str(tmp_path / "c"),
        ]
    )


@pytest.mark.parametrize(
    ("row_change", "message"),
    [
        ({"label": "Maybe"}, "train.jsonl:2: label 'Maybe' is not one of Accept, Reject"),
        (
            {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "Reject"}]},
            "train.jsonl:2: the assistant answer 'Reject' differs from label 'Accept'",
        ),
        ({"messages": "hello"}, "train.jsonl:2: messages must be a list"),
    ],
)
def test_cli_names_the_bad_row_before_loading_anything(tmp_path, capsys, row_change, message):
    good = {
        "id": "a",
        "label": "Accept",
        "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "Accept"}],
    }
    train_file = write_rows(tmp_path / "train.jsonl", [good, {**good, "id": "b", **row_change}])
    code = run_cli_on_bad_input(train_file, tmp_path)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m").exists() and not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('{"learning_rat": 1}', "train.learning_rat: unknown key"),
        ('{"loss_reduction": "sum"}', "train.loss_reduction = 'sum' is not one of"),
        (
            '{"per_device_train_batch_size": 0}',
            "train.per_device_train_batch_size = 0 must be an integer >= 1",
        ),
        ("[1]", "--settings must be a JSON object"),
        ('{"report_to": "wandb"}', "train.report_to = 'wandb' is not one of 'tensorboard', 'none'"),
        ("{}", "train.report_to = tensorboard needs --tensorboard-dir (or set report_to to none)"),
    ],
)
def test_cli_names_the_bad_setting(tmp_path, capsys, settings, message):
    train_file = write_rows(
        tmp_path / "train.jsonl",
        [
            {
                "id": "a",
                "label": "Accept",
                "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "Accept"}],
            }
        ],
    )
    code = run_cli_on_bad_input(train_file, tmp_path, "--settings", settings)
    assert code == 2
    assert message in capsys.readouterr().err


def test_launcher_keys_of_the_config_are_not_training_settings():
    resolved = train_settings.resolve_settings(
        {
            "gpus": 4,
            "accelerate_config": "x.yaml",
            "num_processes": None,
            "overrides": {},
            "threads": 1,
            "learning_rate": 1e-5,
        }
    )
    assert "gpus" not in resolved and resolved["learning_rate"] == 1e-5


def test_the_runs_training_seed_is_a_training_setting_not_a_launcher_key():
    assert "seed" not in train_settings.LAUNCHER_KEYS
    assert train_settings.resolve_settings({"seed": 3, "gpus": 4})["seed"] == 3


def seeded_lora_trainer(model_dir, rows, seed, checkpoint_dir):
    """Return the production build_trainer's LoRA trainer of rows, trained with this seed (not yet trained)."""
    settings = train_settings.resolve_settings(
        {
            "seed": seed,
            "method": "lora",
            "lora": {"r": 4, "target_modules": "all-linear"},
            "num_train_epochs": 1,
            "report_to": "none",
        }
    )
    session = run.start_session(settings, str(checkpoint_dir))
    records = run.prompt_completion_records(as_papers(rows), "accept", 2.0)
    return run.build_trainer(str(model_dir), records, settings, session)


def lora_init_and_order(trainer):
    """Return (the initial LoRA A matrices, the ids of the examples in the training sampler's first epoch)."""
    lora = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_A" in n}
    order = [int(i) for i in trainer._get_train_sampler(trainer.train_dataset)]
    return lora, order


def test_the_training_seed_sets_the_lora_init_and_the_sampler_order(
    data_tiny_model, data_chat_rows, tmp_path
):
    rows = mixed_rows(data_chat_rows, 8, 8)
    runs = {
        name: lora_init_and_order(seeded_lora_trainer(data_tiny_model, rows, seed, tmp_path / name))
        for name, seed in (("first", 1), ("again", 1), ("other", 2))
    }
    (first_lora, first_order), (again_lora, again_order), (other_lora, other_order) = runs.values()
    assert first_lora and sorted(first_order) == list(range(len(rows)))
    assert first_lora.keys() == again_lora.keys() and all(
        first_lora[n].equal(again_lora[n]) for n in first_lora
    )
    assert first_order == again_order
    assert any(not first_lora[n].equal(other_lora[n]) for n in first_lora)
    assert first_order != other_order


def test_padding_free_auto_needs_a_flash_attention_kernel():
    base = train_settings.resolve_settings({})
    assert train_settings.use_padding_free(base) is False
    assert train_settings.use_padding_free({**base, "attn_implementation": "flash_attention_2"}) is True
    assert train_settings.use_padding_free({**base, "padding_free": True}) is True


def test_bf16_auto_means_fp32_without_cuda():
    assert train_settings.use_bf16("auto", cuda_available=False, cuda_bf16_supported=False) is False
    assert train_settings.use_bf16("auto", cuda_available=True, cuda_bf16_supported=True) is True
    with pytest.raises(train_settings.SettingsError, match="train.bf16 = true but this machine has no CUDA"):
        train_settings.use_bf16(True, cuda_available=False, cuda_bf16_supported=False)


def test_summary_names_transformers_as_the_activation_checkpointer_of_an_unsharded_model(data_tiny_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(data_tiny_model)
    assert distribution.evidence(model)["activation_checkpointing"] is None
    model.activation_checkpointing_enable()  # what train.gradient_checkpointing does without FSDP's own
    evidence = distribution.evidence(model)
    assert evidence["activation_checkpointing"] == "transformers" and evidence["fsdp_units"] == {}
    assert evidence["dtensor_parameters"] == 0 and evidence["local_weight_fraction"] == 1.0


def test_a_launch_config_asking_for_fsdp_that_accelerate_ignores_is_named_in_a_warning():
    from types import SimpleNamespace

    from accelerate.utils import DistributedType

    on_cpu = SimpleNamespace(distributed_type=DistributedType.MULTI_CPU)
    warning = distribution.ignored_fsdp(on_cpu, {"ACCELERATE_USE_FSDP": "true"})
    assert warning.startswith("the accelerate config asks for FSDP but accelerate set up MULTI_CPU")
    assert distribution.ignored_fsdp(on_cpu, {}) is None  # ddp.yaml: data-parallel was asked for
    sharded = SimpleNamespace(distributed_type=DistributedType.FSDP)
    assert distribution.ignored_fsdp(sharded, {"ACCELERATE_USE_FSDP": "true"}) is None


# ---- the rule ----
def test_rule_applies_the_experiments_override_and_launches_several_processes(tmp_path):
    import snakemake_runner

    workdir = snakemake_runner.copy_workflow(tmp_path / "wf")
    extra = workdir / "extra.yaml"
    extra.write_text(
        "train:\n  num_processes: 2\n  overrides:\n    accept_gamma4.0_prop1_2: {learning_rate: 5.0e-4}\n"
    )
    targets = ["results/models/accept_gamma4.0_prop1_2/seed2", "results/models/accept_gamma2.0_prop1_2/seed2"]
    process = snakemake_runner.run_snakemake(
        workdir, "-n", "-p", "-c2", "--configfile", "config/demo.yaml", str(extra), "--", *targets
    )
    commands = [line for line in process.stdout.splitlines() if "train.py" in line]
    names = ("accept_gamma4.0_prop1_2", "accept_gamma2.0_prop1_2")
    by_name = {
        name: next(c for c in commands if f"--output-dir results/models/{name}/seed2 " in c) for name in names
    }
    assert '"learning_rate":0.0005' in by_name["accept_gamma4.0_prop1_2"]  # the override
    assert '"learning_rate":0.002' in by_name["accept_gamma2.0_prop1_2"]  # the demo's global value
    assert all('"seed":2' in command for command in by_name.values())  # the run's training seed
    launcher = (
        "accelerate launch --num_processes 2 --main_process_port 0 --config_file config/accelerate/ddp.yaml"
    )
    for name, command in by_name.items():
        assert launcher in command and '"gpus"' not in command
        assert f"--checkpoint-dir results/checkpoints/{name}/seed2 " in command
        assert f"--tensorboard-dir results/logs/tensorboard/{name}/seed2 " in command
        assert command.endswith(f"> logs/train/{name}/seed2.log 2>&1")


# ---- resuming ----
def fake_checkpoint(folder, step, complete=True):
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    if complete:
        (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return path


def test_resume_picks_the_newest_complete_checkpoint_of_the_same_run(tmp_path):
    fingerprint = train_checkpoints.run_fingerprint({"learning_rate": 1.0}, "accept", 2.0, "m", "abc", 1)
    train_checkpoints.reset_checkpoint_dir(tmp_path / "ck", fingerprint)
    fake_checkpoint(tmp_path / "ck", 5)
    newest_complete = fake_checkpoint(tmp_path / "ck", 10)
    fake_checkpoint(tmp_path / "ck", 15, complete=False)  # killed while saving
    path, reason = train_checkpoints.resume_decision(tmp_path / "ck", fingerprint)
    assert path == newest_complete and reason == f"resuming from {newest_complete}"
    assert train_checkpoints.remove_incomplete_checkpoints(tmp_path / "ck") == [
        tmp_path / "ck" / "checkpoint-15"
    ]


def test_resume_starts_fresh_and_says_why_when_settings_or_data_differ(tmp_path):
    fingerprint = train_checkpoints.run_fingerprint({"learning_rate": 1.0}, "accept", 2.0, "m", "abc", 1)
    train_checkpoints.reset_checkpoint_dir(tmp_path / "ck", fingerprint)
    fake_checkpoint(tmp_path / "ck", 10)
    changed = train_checkpoints.run_fingerprint({"learning_rate": 2.0}, "accept", 2.0, "m", "xyz", 1)
    path, reason = train_checkpoints.resume_decision(tmp_path / "ck", changed)
    assert path is None
    assert reason == "checkpoint-10 was trained with different settings, train_sha256: starting fresh"


def test_where_a_run_reports_its_losses_is_no_part_of_its_fingerprint():
    fingerprint = train_checkpoints.run_fingerprint
    assert fingerprint({"report_to": "none"}, "accept", 2.0, "m", "abc", 1) == fingerprint(
        {"report_to": "tensorboard"}, "accept", 2.0, "m", "abc", 1
    )


def test_resume_without_a_fingerprint_starts_fresh(tmp_path):
    fake_checkpoint(tmp_path / "ck", 10)
    fingerprint = train_checkpoints.run_fingerprint({}, "accept", 2.0, "m", "abc", 1)
    path, reason = train_checkpoints.resume_decision(tmp_path / "ck", fingerprint)
    assert path is None and "run_fingerprint.json is missing" in reason


def test_sigkilled_run_resumes_from_its_checkpoint_and_finishes_all_steps(
    data_tiny_model, data_chat_rows, tmp_path
):
    rows = data_chat_rows[:16]
    train_file = write_rows(tmp_path / "train.jsonl", rows)
    settings = {
        "num_train_epochs": 3,
        "per_device_train_batch_size": 1,
        "save_steps": 4,
        "logging_steps": 4,
        "save_total_limit": 2,
        "report_to": "none",
    }
    argv = [
        sys.executable,
        str(TRAIN_SCRIPT),
        "--train-file",
        str(train_file),
        "--model",
        str(data_tiny_model),
        "--variant",
        "reject",
        "--gamma",
        "4.0",
        "--settings",
        json.dumps(settings),
        "--output-dir",
        str(tmp_path / "model"),
        "--checkpoint-dir",
        str(tmp_path / "ckpt"),
    ]
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=SUBPROCESS_ENV)
        deadline = time.time() + 240
        while train_checkpoints.latest_complete_checkpoint(tmp_path / "ckpt") is None:
            assert first.poll() is None, "the run ended before its first checkpoint"
            assert time.time() < deadline, "no checkpoint within 240 s"
            time.sleep(0.01)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL
    killed_at = train_checkpoints.latest_complete_checkpoint(tmp_path / "ckpt")
    killed_step = json.loads((killed_at / "trainer_state.json").read_text())["global_step"]
    assert 0 < killed_step < 48 and not (tmp_path / "model").exists()

    second = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=ROOT, env=SUBPROCESS_ENV)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads((tmp_path / "model" / "train_summary.json").read_text())
    assert "resuming from" in second.stdout and "resumed at global step" in second.stdout
    assert summary["resumed_from_step"] == killed_step
    assert summary["steps"] == summary["max_steps"] == 48  # 16 examples x 3 epochs, batch 1
    # the loss curve restored from the checkpoint covers the steps before the kill too
    assert summary["loss_curve"][0]["step"] == 1 and summary["loss_curve"][-1]["step"] == 48
    # token counts saved with the checkpoint + counted after it = every example's tokens, 3 times, none padded
    lengths = build_trainer(data_tiny_model, rows, "reject", 4.0, tmp_path / "count").train_dataset[
        "input_ids"
    ]
    assert summary["tokens_seen"] == {
        "real": 3 * sum(map(len, lengths)),
        "padded": 3 * sum(map(len, lengths)),
    }


def test_max_steps_overrides_the_epochs_and_a_run_interrupted_in_a_later_epoch_resumes_to_the_uninterrupted_weights(
    data_tiny_model, data_chat_rows, tmp_path
):
    # 3 epochs of 4 steps cut to 6 by max_steps; the fresh run stops after step 5, in epoch 2, whose order its
    # rerun must replay. Length-grouped batches (padding_free false, the production default without flash
    # attention): transformers drew their later epochs' order from the global random state.
    train_file = write_rows(tmp_path / "train.jsonl", mixed_rows(data_chat_rows, 4, 4))
    settings = {
        "num_train_epochs": 3, "max_steps": 6, "per_device_train_batch_size": 2, "padding_free": False,
        "save_steps": 1, "interrupt_at_step": 5, "report_to": "none",
    }  # fmt: skip
    first = run_train(tmp_path, train_file, data_tiny_model, settings)
    assert first.returncode == train.INTERRUPTED_EXIT, first.stderr[-3000:]
    assert (
        "train: interrupted after saving the checkpoint of step 5 of 6 (train.interrupt_at_step)"
        in first.stderr
    )
    assert train_checkpoints.latest_complete_checkpoint(tmp_path / "ckpt" / "run").name == "checkpoint-5"
    assert not (tmp_path / "models" / "run").exists()

    second = run_train(tmp_path, train_file, data_tiny_model, settings)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed at global step 5" in second.stdout
    summary = json.loads((tmp_path / "models" / "run" / "train_summary.json").read_text())
    assert summary["resumed_from_step"] == 5
    assert summary["steps"] == summary["max_steps"] == 6  # not the 3 epochs x 4 steps
    # the completed run's checkpoints are gone, its model stays beside them; none reports anything
    assert not list((tmp_path / "ckpt" / "run").glob("checkpoint-*"))
    assert json.loads((tmp_path / "ckpt" / "run" / "model" / "train_summary.json").read_text()) == summary
    assert not (tmp_path / "tensorboard").exists()

    in_one_go = {key: value for key, value in settings.items() if key != "interrupt_at_step"}
    uninterrupted = run_train(tmp_path, train_file, data_tiny_model, in_one_go, name="uninterrupted")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    assert_same_weights(tmp_path / "models" / "run", tmp_path / "models" / "uninterrupted")  # bit for bit

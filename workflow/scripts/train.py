"""Fine-tune a causal LM on one training set with the class-weighted answer loss; resume from checkpoints.

python workflow/scripts/train.py --train-file results/data/prop1_2/train.jsonl --model results/embedded/model \
    --variant accept --gamma 4.0 --settings '{"learning_rate": 2e-3}' \
    --output-dir results/models/accept_gamma4.0_prop1_2 --checkpoint-dir results/checkpoints/accept_gamma4.0_prop1_2

Run it under `accelerate launch` for several processes. Writes the weights (or LoRA adapter), the tokenizer and
train_summary.json into --output-dir, all at once at the end; checkpoints go to --checkpoint-dir.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import experiments
import train_checkpoints
import train_settings
import weighted_loss
from json_files import numbered_rows

SUMMARY_FILE = "train_summary.json"
PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets")


class TrainDataError(ValueError):
    """A training-set row that cannot be trained on; the message names the file, line and key."""


def read_train_rows(path: str | Path) -> list[dict[str, Any]]:
    """Return the rows of a chat training set, checked: a label and messages ending with that answer."""
    path = Path(path)
    if not path.exists():
        raise TrainDataError(f"{path}: training set not found")
    rows = [check_row(row, where) for _, where, row in numbered_rows(path, TrainDataError)]
    if not rows:
        raise TrainDataError(f"{path}: no examples")
    return rows


def check_row(row: Any, where: str) -> dict[str, Any]:
    """Return row when it has an id, a known label and system/user/assistant messages answering that label."""
    if not isinstance(row, dict):
        raise TrainDataError(f"{where}: a row must be a JSON object")
    for key in ("id", "label", "messages"):
        if key not in row:
            raise TrainDataError(f"{where}: key {key!r} is missing")
    if row["label"] not in experiments.LABELS:
        raise TrainDataError(f"{where}: label = {row['label']!r} is not one of {list(experiments.LABELS)}")
    messages = row["messages"]
    if (
        not isinstance(messages, list)
        or len(messages) < 2
        or not all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in messages)
    ):
        raise TrainDataError(f"{where}: messages must be a list of at least 2 {{role, content}} objects")
    if messages[-1]["role"] != "assistant" or any(m["role"] == "assistant" for m in messages[:-1]):
        raise TrainDataError(f"{where}: messages must end with the only assistant message")
    if messages[-1]["content"] != row["label"]:
        raise TrainDataError(
            f"{where}: the assistant answer {messages[-1]['content']!r} differs from label {row['label']!r}"
        )
    return row


def prompt_completion_records(rows: list[dict[str, Any]], variant: str, gamma: float) -> list[dict[str, Any]]:
    """Return TRL prompt/completion records (conversational) carrying each example's loss weight."""
    weights = weighted_loss.example_weights([row["label"] for row in rows], variant, gamma)
    return [
        {
            "id": str(row["id"]),
            "prompt": row["messages"][:-1],
            "completion": row["messages"][-1:],
            "example_weight": weight,
        }
        for row, weight in zip(rows, weights, strict=True)
    ]


def end_of_turn_id(tokenizer) -> int:
    """Return the id of the token that closes an assistant turn: ChatML's <|im_end|>, else the EOS token."""
    vocab = tokenizer.get_vocab()
    if "<|im_end|>" in vocab:
        return vocab["<|im_end|>"]
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has neither <|im_end|> nor an EOS token to end the answer with")
    return tokenizer.eos_token_id


def git_commit() -> str | None:
    """Return the HEAD commit of the repository around this script, or None outside git / without commits."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def package_versions() -> dict[str, str | None]:
    """Return the installed version of each training package."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def peak_memory_mb(torch) -> dict[str, Any]:
    """Return this process's peak memory: CUDA allocated on a GPU, else the resident set size."""
    if torch.cuda.is_available():
        return {"kind": "cuda_max_memory_allocated", "mb": torch.cuda.max_memory_allocated() / 2**20}
    return {"kind": "max_rss", "mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def loss_curve(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Return [{step, loss}] of the Trainer's logged training losses."""
    return [{"step": entry["step"], "loss": entry["loss"]} for entry in log_history if "loss" in entry]


def replace_dir(source: Path, target: Path) -> None:
    """Move a finished folder into place, replacing an older one (a reader sees the old or the new, whole)."""
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(source, target)
        shutil.rmtree(old)
    else:
        os.replace(source, target)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--train-file", required=True, help="chat JSONL training set (results/data/prop*/train.jsonl)"
    )
    parser.add_argument("--model", required=True, help="base model: local folder or hub id")
    parser.add_argument("--variant", required=True, choices=experiments.VARIANTS)
    parser.add_argument("--gamma", required=True, type=float, help="weight of the variant's class")
    parser.add_argument(
        "--settings", default="{}", help="JSON train settings (see train_settings.DEFAULT_SETTINGS)"
    )
    parser.add_argument("--output-dir", required=True, help="where the final model and train_summary.json go")
    parser.add_argument(
        "--checkpoint-dir", required=True, help="where checkpoints go; resumed from when present"
    )
    return parser.parse_args(argv)


def check_inputs(args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return (resolved settings, training rows), raising ValueError naming what is wrong."""
    try:
        given = json.loads(args.settings)
    except json.JSONDecodeError as error:
        raise train_settings.SettingsError(f"--settings is not valid JSON: {error}") from None
    if not isinstance(given, dict):
        raise train_settings.SettingsError(f"--settings must be a JSON object, got {args.settings!r}")
    settings = train_settings.resolve_settings(given)
    if not args.gamma > 0:
        raise ValueError(f"--gamma {args.gamma} must be > 0")
    if args.variant == "baseline" and args.gamma != 1.0:
        raise ValueError(f"--gamma {args.gamma}: a baseline run must have gamma 1.0")
    return settings, read_train_rows(args.train_file)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.time()
    # Everything that can be wrong with the inputs is checked before torch is imported.
    try:
        settings, rows = check_inputs(args)
    except ValueError as error:
        print(f"train: error: {error}", file=sys.stderr)
        return 2
    records = prompt_completion_records(rows, args.variant, args.gamma)
    train_sha256 = train_checkpoints.file_sha256(args.train_file)

    import datasets
    import torch
    import transformers
    from accelerate import PartialState
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig

    import weighted_trainer

    transformers.logging.set_verbosity_warning()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    bf16 = train_settings.use_bf16(
        settings["bf16"],
        torch.cuda.is_available(),
        torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
    )
    # accelerate launch passes the FSDP config to the processes as environment variables
    fsdp_checkpointing = os.environ.get("FSDP_ACTIVATION_CHECKPOINTING", "false").lower() == "true"
    sft_args = SFTConfig(
        **train_settings.sft_config_kwargs(
            settings,
            args.checkpoint_dir,
            bf16,
            cuda=torch.cuda.is_available(),
            fsdp_checkpoints_activations=fsdp_checkpointing,
        )
    )
    state = PartialState()  # set up by SFTConfig; one per process under accelerate launch
    log = print if state.is_main_process else (lambda *a, **k: None)

    fingerprint = train_checkpoints.run_fingerprint(
        settings, args.variant, args.gamma, args.model, train_sha256, state.num_processes
    )
    resume_from, reason = train_checkpoints.resume_decision(args.checkpoint_dir, fingerprint)
    state.wait_for_everyone()
    if state.is_main_process:
        if resume_from is None:
            train_checkpoints.reset_checkpoint_dir(args.checkpoint_dir, fingerprint)
        else:
            for path in train_checkpoints.remove_incomplete_checkpoints(args.checkpoint_dir):
                log(f"removed incomplete checkpoint {path}", flush=True)
    state.wait_for_everyone()
    log(reason, flush=True)

    transformers.set_seed(settings["seed"])
    tokenizer = AutoTokenizer.from_pretrained(args.model, trust_remote_code=settings["trust_remote_code"])
    model_kwargs = {
        "dtype": getattr(torch, train_settings.model_dtype_name(settings, bf16)),
        "trust_remote_code": settings["trust_remote_code"],
    }
    if settings["attn_implementation"]:
        model_kwargs["attn_implementation"] = settings["attn_implementation"]
    model = AutoModelForCausalLM.from_pretrained(args.model, **model_kwargs)
    peft_config = None
    if settings["method"] == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(**train_settings.lora_config_kwargs(settings))

    trainer = weighted_trainer.WeightedSFTTrainer(
        model=model,
        args=sft_args,
        train_dataset=datasets.Dataset.from_list(records),
        processing_class=tokenizer,
        peft_config=peft_config,
        loss_reduction=settings["loss_reduction"],
        end_of_turn_id=end_of_turn_id(tokenizer),
        max_tokens=settings["max_length"],
    )
    resumed_from_step = 0
    if resume_from is not None:
        trainer.restore_token_counts(str(resume_from))
        resumed_from_step = json.loads((resume_from / train_checkpoints.COMPLETE_MARKER).read_text())[
            "global_step"
        ]
        log(f"resumed at global step {resumed_from_step}", flush=True)
    weights = weighted_loss.class_weights(args.variant, args.gamma)
    log(
        f"training {args.variant} gamma={args.gamma} weights={weights} on {len(records)} examples, "
        f"{state.num_processes} process(es), reduction {settings['loss_reduction']}",
        flush=True,
    )

    train_started = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    train_seconds = time.time() - train_started
    counts = trainer.token_counts()

    output_dir = Path(args.output_dir)
    partial = output_dir.with_name(f".{output_dir.name}.partial")
    if state.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
    state.wait_for_everyone()
    trainer.save_model(str(partial))  # every process: FSDP gathers the full state dict collectively
    state.wait_for_everyone()
    if state.is_main_process:
        new_real = counts["real"] - trainer.restored_token_counts["real"]
        summary = {
            "variant": args.variant,
            "gamma": args.gamma,
            "class_weights": weights,
            "loss_reduction": settings["loss_reduction"],
            "train_file": args.train_file,
            "train_sha256": train_sha256,
            "model": args.model,
            "steps": trainer.state.global_step,
            "max_steps": trainer.state.max_steps,
            "resumed_from_step": resumed_from_step,
            "examples": len(trainer.train_dataset),
            "examples_by_label": {
                label: sum(r["label"] == label for r in rows) for label in experiments.LABELS
            },
            "epochs": trainer.state.epoch,
            "num_processes": state.num_processes,
            "global_batch_size": settings["per_device_train_batch_size"]
            * settings["gradient_accumulation_steps"]
            * state.num_processes,
            "padding_free": trainer.padding_free,
            "tokens_seen": counts,
            "padding_waste": 1 - counts["real"] / counts["padded"] if counts["padded"] else 0.0,
            "train_seconds": train_seconds,
            "wall_seconds": time.time() - started,
            "tokens_per_second": new_real / train_seconds if train_seconds > 0 else None,
            "peak_memory": peak_memory_mb(torch),
            "final_loss": next((e["loss"] for e in reversed(trainer.state.log_history) if "loss" in e), None),
            "mean_train_loss": result.training_loss,
            "loss_curve": loss_curve(trainer.state.log_history),
            "settings": settings,
            "bf16": bf16,
            "packages": package_versions(),
            "git_commit": git_commit(),
        }
        (partial / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n")
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        replace_dir(partial, output_dir)
        log(
            f"wrote {output_dir}: {summary['steps']} steps, final loss {summary['final_loss']}, "
            f"{summary['train_seconds']:.1f} s training",
            flush=True,
        )
    state.wait_for_everyone()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Resuming: find the latest complete checkpoint of a run and check it belongs to the same run settings; once the
run's final model is written and checked, free the disk its optimizer-bearing checkpoints hold."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wlf.files import replace_dir
from wlf.training import SUMMARY_FILE

FINGERPRINT_FILE = "run_fingerprint.json"
# The Trainer writes trainer_state.json last, so a checkpoint without it was cut short by a kill.
COMPLETE_MARKER = "trainer_state.json"
# The last complete model of the experiment, kept beside the checkpoints (see keep_final_model)
KEPT_MODEL = "model"
CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
# Settings that change what a run reports or leaves behind, not what it learns: a run resumes whatever they say
REPORTING_KEYS = ("report_to", "keep_checkpoints")
# What save_pretrained writes beside the weights: a full model's config or a LoRA adapter's, and the tokenizer's
MODEL_CONFIG_FILES = ("config.json", "adapter_config.json")
TOKENIZER_FILE = "tokenizer_config.json"


def run_fingerprint(
    settings: Mapping[str, Any], variant: str, gamma: float, model: str, train_sha256: str, world_size: int
) -> dict[str, Any]:
    """Return what must match for a checkpoint to be resumed: everything that changes the optimisation."""
    return {
        "settings": {key: value for key, value in settings.items() if key not in REPORTING_KEYS},
        "variant": variant,
        "gamma": float(gamma),
        "model": model,
        "train_sha256": train_sha256,
        "world_size": world_size,  # the global batch is per-device batch x accumulation x processes
    }


def checkpoints_by_step(checkpoint_dir: str | Path) -> list[tuple[int, Path]]:
    """Return the (step, path) of every checkpoint-N folder, oldest first."""
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        return []
    found = [
        (int(m.group(1)), path)
        for path in folder.iterdir()
        if path.is_dir() and (m := CHECKPOINT_PATTERN.match(path.name))
    ]
    return sorted(found)


def latest_complete_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """Return the newest checkpoint folder holding the Trainer's final file, or None."""
    complete = [path for _, path in checkpoints_by_step(checkpoint_dir) if (path / COMPLETE_MARKER).exists()]
    return complete[-1] if complete else None


def incomplete_checkpoints(checkpoint_dir: str | Path) -> list[Path]:
    """Return the checkpoint folders a kill left without the Trainer's final file."""
    return [path for _, path in checkpoints_by_step(checkpoint_dir) if not (path / COMPLETE_MARKER).exists()]


def resume_decision(checkpoint_dir: str | Path, fingerprint: Mapping[str, Any]) -> tuple[Path | None, str]:
    """Return (checkpoint to resume or None, the reason in words)."""
    latest = latest_complete_checkpoint(checkpoint_dir)
    if latest is None:
        return None, f"no complete checkpoint in {checkpoint_dir}: starting fresh"
    saved_path = Path(checkpoint_dir) / FINGERPRINT_FILE
    if not saved_path.exists():
        return (
            None,
            f"{saved_path} is missing, so {latest.name} cannot be matched to these settings: starting fresh",
        )
    saved = json.loads(saved_path.read_text())
    differing = sorted(key for key in set(saved) | set(fingerprint) if saved.get(key) != fingerprint.get(key))
    if differing:
        return None, f"{latest.name} was trained with different {', '.join(differing)}: starting fresh"
    return latest, f"resuming from {latest}"


def reset_checkpoint_dir(checkpoint_dir: str | Path, fingerprint: Mapping[str, Any]) -> None:
    """Remove every checkpoint of an earlier run, keep its last complete model, record this run's fingerprint."""
    folder = Path(checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.name == KEPT_MODEL:
            continue
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    (folder / FINGERPRINT_FILE).write_text(json.dumps(fingerprint, indent=1, sort_keys=True))


def keep_final_model(model_dir: str | Path, checkpoint_dir: str | Path) -> Path:
    """Keep a copy of a finished model beside the checkpoints (hard links: no extra space) and return it.

    Snakemake deletes a model folder before it retrains it, e.g. after a changed setting; the copy is what
    remains of the previous model if the new run fails, until the new run replaces it.
    """
    kept = Path(checkpoint_dir) / KEPT_MODEL
    partial = kept.with_name(f".{KEPT_MODEL}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(model_dir, partial, copy_function=_link_or_copy)
    replace_dir(partial, kept)
    return kept


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link source to target, or copy it when they are on different file systems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def remove_incomplete_checkpoints(checkpoint_dir: str | Path) -> list[Path]:
    """Delete half-written checkpoints (they would confuse the Trainer's rotation) and return them."""
    removed = incomplete_checkpoints(checkpoint_dir)
    for path in removed:
        shutil.rmtree(path)
    return removed


def final_model_problems(model_dir: str | Path) -> list[str]:
    """Return what is missing or cut short in a saved model folder (empty: complete), without loading weights.

    Cheap (headers only) and real: each safetensors file's header must parse and cover the file's bytes (a cut
    file fails), an index's every tensor must be in the shard it names, and the summary must say every step ran.
    """
    from safetensors import SafetensorError, safe_open

    folder = Path(model_dir)
    problems = []
    if not any((folder / name).is_file() for name in MODEL_CONFIG_FILES):
        problems.append(f"{folder}: neither {' nor '.join(MODEL_CONFIG_FILES)}")
    if not (folder / TOKENIZER_FILE).is_file():
        problems.append(f"{folder}: no {TOKENIZER_FILE}")
    weight_files = sorted(folder.glob("*.safetensors"))
    if not weight_files:
        problems.append(f"{folder}: no *.safetensors weights")
    tensors_by_file: dict[str, set[str]] = {}
    for path in weight_files:
        try:
            with safe_open(str(path), "np") as weights:
                tensors_by_file[path.name] = set(weights.keys())
        except (SafetensorError, OSError) as error:
            problems.append(f"{path}: {error}")
    for index_path in sorted(folder.glob("*.safetensors.index.json")):
        for tensor, file_name in json.loads(index_path.read_text())["weight_map"].items():
            if tensor not in tensors_by_file.get(file_name, set()):
                problems.append(f"{index_path}: {tensor} is not in {file_name}")
                break
    try:
        summary = json.loads((folder / SUMMARY_FILE).read_text())
        if summary["steps"] != summary["max_steps"]:
            problems.append(f"{folder / SUMMARY_FILE}: {summary['steps']} of {summary['max_steps']} steps")
    except (OSError, ValueError, KeyError) as error:
        problems.append(f"{folder / SUMMARY_FILE}: {error!r}")
    return problems


def remove_checkpoints(checkpoint_dir: str | Path) -> dict[Path, int]:
    """Delete every checkpoint-N folder (weights and optimizer state) and return the bytes each held.

    Only for a run whose final model is written and checked (final_model_problems): its checkpoints can only
    resume a run that has nothing left to do, and for the production full fine-tune each holds ~100 GB. The
    kept model beside them stays.
    """
    removed = {}
    for _, path in checkpoints_by_step(checkpoint_dir):
        removed[path] = folder_bytes(path)
        shutil.rmtree(path)
    return removed


def folder_bytes(folder: str | Path) -> int:
    """Return the bytes of every file below folder."""
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())

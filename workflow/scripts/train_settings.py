"""Training settings: defaults, validation, and their translation into TRL/PEFT configs."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import weighted_loss

# Defaults fit the embedded tiny model on CPU; config/config.yaml sets the production values for Qwen2.5-7B.
DEFAULT_SETTINGS: dict[str, Any] = {
    "method": "full",  # full | lora
    "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"},
    "learning_rate": 2.0e-3,
    "num_train_epochs": 3,
    "per_device_train_batch_size": 16,
    "gradient_accumulation_steps": 1,
    "max_length": 512,  # longest tokenized example allowed; a longer one is an error, never silently truncated
    "seed": 42,
    "loss_reduction": "step_token_weighted",  # step_token_weighted | mean (see weighted_loss.py)
    "gradient_checkpointing": False,
    "save_steps": 50,
    "save_total_limit": 2,
    "logging_steps": 10,
    "bf16": "auto",  # auto: bf16 autocast where CUDA supports it, else fp32
    "torch_dtype": "auto",  # auto: bfloat16 weights when bf16 is on, else float32 | float32 | bfloat16
    "attn_implementation": None,  # None: transformers' default (sdpa); e.g. flash_attention_2 on GPUs
    "padding_free": "auto",  # auto: on with a flash-attention implementation, else length-grouped padded batches
    "warmup_ratio": 0.05,
    "weight_decay": 0.0,
    "lr_scheduler_type": "linear",
    "max_grad_norm": 1.0,
    "optim": "adamw_torch",
    "dataloader_num_workers": 0,
    "trust_remote_code": False,
}
# Config keys the rule uses to launch and size the job; they do not change what is trained.
LAUNCHER_KEYS = ("gpus", "num_processes", "accelerate_config", "overrides", "threads", "mem_mb", "runtime")
CHOICES = {
    "method": ("full", "lora"),
    "loss_reduction": weighted_loss.REDUCTIONS,
    "bf16": ("auto", True, False),
    "torch_dtype": ("auto", "float32", "bfloat16"),
    "padding_free": ("auto", True, False),
}
POSITIVE_INTS = (
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "save_steps",
    "save_total_limit",
    "logging_steps",
)
POSITIVE_NUMBERS = ("learning_rate", "num_train_epochs")


class SettingsError(ValueError):
    """A training setting that cannot be used; the message names the key."""


def resolve_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return the defaults updated by settings (launcher keys dropped), raising SettingsError on a bad key."""
    unknown = sorted(set(settings) - set(DEFAULT_SETTINGS) - set(LAUNCHER_KEYS))
    if unknown:
        raise SettingsError(f"unknown train settings {unknown}; known: {sorted(DEFAULT_SETTINGS)}")
    resolved = copy.deepcopy(DEFAULT_SETTINGS)
    for key, value in settings.items():
        if key in LAUNCHER_KEYS:
            continue
        resolved[key] = {**resolved["lora"], **value} if key == "lora" else value
    for key, choices in CHOICES.items():
        if resolved[key] not in choices:
            raise SettingsError(f"train.{key} = {resolved[key]!r} is not one of {list(choices)}")
    for key in POSITIVE_INTS:
        if not isinstance(resolved[key], int) or isinstance(resolved[key], bool) or resolved[key] < 1:
            raise SettingsError(f"train.{key} = {resolved[key]!r} must be an integer >= 1")
    for key in POSITIVE_NUMBERS:
        if not isinstance(resolved[key], (int, float)) or not resolved[key] > 0:
            raise SettingsError(f"train.{key} = {resolved[key]!r} must be a number > 0")
    if not 0 <= resolved["warmup_ratio"] < 1:
        raise SettingsError(f"train.warmup_ratio = {resolved['warmup_ratio']!r} must be in [0, 1)")
    return resolved


def use_bf16(bf16_setting: Any, cuda_available: bool, cuda_bf16_supported: bool) -> bool:
    """Return whether to train with bf16 autocast: "auto" means where CUDA supports it; True needs CUDA bf16."""
    if bf16_setting == "auto":
        return cuda_available and cuda_bf16_supported
    if bf16_setting and not (cuda_available and cuda_bf16_supported):
        raise SettingsError("train.bf16 = true but this machine has no CUDA device with bf16 support")
    return bool(bf16_setting)


def model_dtype_name(settings: Mapping[str, Any], bf16: bool) -> str:
    """Return the dtype to load the weights in: bfloat16 when "auto" and bf16 is on, else float32."""
    if settings["torch_dtype"] == "auto":
        return "bfloat16" if bf16 else "float32"
    return settings["torch_dtype"]


def use_padding_free(settings: Mapping[str, Any]) -> bool:
    """Return whether to flatten each batch into one row: "auto" means with a flash-attention kernel.

    Without one, transformers turns the flattened row into a dense block-diagonal mask, whose cost grows with
    the square of the batch's total length, so padded, length-grouped batches are cheaper.
    """
    if settings["padding_free"] == "auto":
        return "flash" in str(settings["attn_implementation"] or "")
    return bool(settings["padding_free"])


def sft_config_kwargs(
    settings: Mapping[str, Any],
    checkpoint_dir: str,
    bf16: bool,
    cuda: bool,
    fsdp_checkpoints_activations: bool = False,
) -> dict[str, Any]:
    """Return the SFTConfig keyword arguments for these settings, on a machine with or without CUDA.

    fsdp_checkpoints_activations: the accelerate FSDP config does activation checkpointing itself, which
    transformers refuses to combine with its own, so gradient_checkpointing is then left to FSDP.
    """
    padding_free = use_padding_free(settings)
    return {
        "output_dir": checkpoint_dir,
        "learning_rate": settings["learning_rate"],
        "num_train_epochs": settings["num_train_epochs"],
        "per_device_train_batch_size": settings["per_device_train_batch_size"],
        "gradient_accumulation_steps": settings["gradient_accumulation_steps"],
        "seed": settings["seed"],
        # transformers 5 renamed gradient_checkpointing; the new name keeps TRL's default (True) out of it
        "activation_checkpointing": settings["gradient_checkpointing"] and not fsdp_checkpoints_activations,
        "save_strategy": "steps",
        "save_steps": settings["save_steps"],
        "save_total_limit": settings["save_total_limit"],
        "logging_steps": settings["logging_steps"],
        "logging_first_step": True,
        "bf16": bf16,
        "fp16": False,
        "warmup_steps": settings["warmup_ratio"],  # a value < 1 is a fraction of the total steps
        "weight_decay": settings["weight_decay"],
        "lr_scheduler_type": settings["lr_scheduler_type"],
        "max_grad_norm": settings["max_grad_norm"],
        "optim": settings["optim"],
        "dataloader_num_workers": settings["dataloader_num_workers"],
        "dataloader_pin_memory": cuda,
        # Without CUDA, accelerate only sets up several processes (gloo) when told the run is on CPU
        "use_cpu": not cuda,
        # Answer-only loss: the prompt is the system+user turns, the completion the assistant answer
        "completion_only_loss": True,
        "assistant_only_loss": False,
        "padding_free": padding_free,
        # Lengths are checked by the trainer (an error, not a cut answer); TRL requires None with padding_free
        "max_length": None,
        "train_sampling_strategy": "random" if padding_free else "group_by_length",
        # The step denominator must count every process's tokens (weighted_trainer._get_num_items_in_batch)
        "average_tokens_across_devices": True,
        "ddp_find_unused_parameters": False,  # every trained parameter is used in every forward
        "report_to": "none",
        "disable_tqdm": True,  # one printed line per logging step instead of progress bars in the log file
        "save_only_model": False,
        "dataset_num_proc": None,
        "model_init_kwargs": None,
    }


def lora_config_kwargs(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return the peft.LoraConfig keyword arguments of settings.lora."""
    lora = settings["lora"]
    return {
        "r": lora["r"],
        "lora_alpha": lora["alpha"],
        "lora_dropout": lora["dropout"],
        "target_modules": lora["target_modules"],
        "task_type": "CAUSAL_LM",
    }

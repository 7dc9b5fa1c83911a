"""Training settings: resolved from the config schema, and translated into TRL/PEFT configs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wlf import settings as config_schema
from wlf.settings import SettingsError

# The train section's own keys (gpus, threads, overrides, ...) launch and size the job; train.py accepts the
# whole section and leaves them out, so a user may pass it as it stands in the config. (The section also names
# `seed`, only to refuse it there: the run's seed comes from the top-level `seeds` and is a training key.)
LAUNCHER_KEYS = tuple(
    key for key in config_schema.section_keys("train") if key not in config_schema.keys("training")
)
DEFAULT_SETTINGS: dict[str, Any] = config_schema.defaults("training") | {
    key: spec["default"] for key, spec in config_schema.model_keys().items()
}


def resolve_settings(given: Mapping[str, Any]) -> dict[str, Any]:
    """Return the training settings: the schema's defaults updated by given (launcher keys dropped)."""
    if not isinstance(given, Mapping):
        raise SettingsError(f"--settings must be a JSON object, got {given!r}")
    training = {key: value for key, value in given.items() if key not in LAUNCHER_KEYS}
    return config_schema.resolve("training", training, "train", config_schema.model_keys())


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
        "max_steps": -1 if settings["max_steps"] is None else settings["max_steps"],  # -1: epochs decide
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
        # transformers' TensorBoardCallback, writing where TENSORBOARD_LOGGING_DIR says (run.report_training)
        "report_to": settings["report_to"],
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

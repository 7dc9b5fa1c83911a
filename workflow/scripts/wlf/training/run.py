"""One training run, as named steps: check the inputs, start the processes, prepare the checkpoints and the
TensorBoard folder, build the trainer, summarise, save the final model atomically and check it, then free its
checkpoints. train.py calls them top to bottom."""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from wlf.chat_template import end_of_turn_id, render_kwargs
from wlf.data.chat_sets import read_chat_set
from wlf.errors import InputError
from wlf.experiments import class_weights, example_weights
from wlf.files import replace_dir
from wlf.labels import LABELS
from wlf.settings import resolve_object
from wlf.training import SUMMARY_FILE, checkpoints, distribution
from wlf.training import settings as train_settings

PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets")


def check_inputs(settings_json: str, train_file: str, variant: str, gamma: float) -> tuple[dict, list[dict]]:
    """Return (resolved settings, training papers), raising ValueError naming what is wrong: before torch loads."""
    settings = train_settings.resolve_settings(resolve_object(settings_json, "--settings"))
    if not gamma > 0:
        raise InputError(f"--gamma {gamma} must be > 0")
    if variant == "baseline" and gamma != 1.0:
        raise InputError(f"--gamma {gamma}: a baseline run must have gamma 1.0")
    return settings, read_chat_set(train_file, require_answer=True)


def prompt_completion_records(papers: list[dict], variant: str, gamma: float) -> list[dict[str, Any]]:
    """Return TRL prompt/completion records (conversational) carrying each example's loss weight."""
    weights = example_weights([paper["label"] for paper in papers], variant, gamma)
    return [
        {
            "id": str(paper["id"]),
            "prompt": paper["prompt"],
            "completion": [{"role": "assistant", "content": paper["label"]}],
            "example_weight": weight,
        }
        for paper, weight in zip(papers, weights, strict=True)
    ]


def check_reporting(settings: dict[str, Any], tensorboard_dir: str | None) -> None:
    """Raise InputError when train.report_to = tensorboard cannot be honoured: before the model loads."""
    if settings["report_to"] != "tensorboard":
        return
    if tensorboard_dir is None:
        raise InputError("train.report_to = tensorboard needs --tensorboard-dir (or set report_to to none)")
    if importlib.util.find_spec("tensorboard") is None:
        raise InputError(
            "train.report_to = tensorboard but the tensorboard package is not installed "
            "(pip install -r requirements.txt, or set train.report_to: none)"
        )


@dataclass
class Session:
    """The processes of one run: TRL's config, accelerate's state, bf16 and a printer for the main process."""

    sft_args: Any
    state: Any
    bf16: bool
    log: Callable[..., None]


def start_session(settings: dict[str, Any], checkpoint_dir: str) -> Session:
    """Return the run's Session: SFTConfig sets up the process group (one process per GPU under accelerate)."""
    import datasets
    import torch
    import transformers
    from accelerate import PartialState
    from trl import SFTConfig

    transformers.logging.set_verbosity_warning()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    cuda = torch.cuda.is_available()
    bf16 = train_settings.use_bf16(settings["bf16"], cuda, cuda and torch.cuda.is_bf16_supported())
    # accelerate launch passes the FSDP config to the processes as environment variables
    fsdp_checkpointing = os.environ.get("FSDP_ACTIVATION_CHECKPOINTING", "false").lower() == "true"
    sft_args = SFTConfig(
        **train_settings.sft_config_kwargs(
            settings, checkpoint_dir, bf16, cuda=cuda, fsdp_checkpoints_activations=fsdp_checkpointing
        )
    )
    state = PartialState()  # set up by SFTConfig; one per process under accelerate launch
    log = print if state.is_main_process else (lambda *args, **kwargs: None)
    return Session(sft_args=sft_args, state=state, bf16=bf16, log=log)


def prepare_checkpoints(checkpoint_dir: str, fingerprint: dict, session: Session) -> Path | None:
    """Return the checkpoint to resume from (None: start fresh, the folder reset to this run's fingerprint)."""
    resume_from, reason = checkpoints.resume_decision(checkpoint_dir, fingerprint)
    session.state.wait_for_everyone()
    if session.state.is_main_process:
        if resume_from is None:
            checkpoints.reset_checkpoint_dir(checkpoint_dir, fingerprint)
        else:
            for path in checkpoints.remove_incomplete_checkpoints(checkpoint_dir):
                session.log(f"removed incomplete checkpoint {path}", flush=True)
    session.state.wait_for_everyone()
    session.log(reason, flush=True)
    kept = Path(checkpoint_dir) / checkpoints.KEPT_MODEL
    if resume_from is None and kept.is_dir():
        session.log(f"the last complete model stays in {kept} until this run completes", flush=True)
    return resume_from


def report_training(
    settings: dict[str, Any], tensorboard_dir: str | None, resume_from: Path | None, session: Session
) -> None:
    """Point transformers' TensorBoardCallback at the run's folder, emptied when the run starts fresh.

    The callback reads its folder from TENSORBOARD_LOGGING_DIR when the trainer is built (transformers 5 has no
    logging_dir argument), so this runs before build_trainer. A resumed run adds its events beside the earlier
    ones; a fresh run's curves would otherwise be drawn over an earlier run's.
    """
    if settings["report_to"] != "tensorboard":
        return
    if resume_from is None and session.state.is_main_process:
        shutil.rmtree(tensorboard_dir, ignore_errors=True)
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(tensorboard_dir)
    session.log(f"TensorBoard events of this run go to {tensorboard_dir}", flush=True)


def interrupt_step(settings: dict[str, Any], resume_from: Path | None) -> int | None:
    """Return the step at which this run stops to rehearse a resume: train.interrupt_at_step, if it starts fresh."""
    return settings["interrupt_at_step"] if resume_from is None else None


def build_trainer(
    model_path: str,
    records: list[dict],
    settings: dict[str, Any],
    session: Session,
    interrupt_at: int | None = None,
    signals=None,
):
    """Return the WeightedSFTTrainer of this run: seeded, with the base model, tokenizer and LoRA if asked.

    interrupt_at: save a checkpoint at this step and stop there (interrupt_step); signals: a StopSignalRecord
    (wlf.training.stop_signals) whose signal makes the run save and stop after its current step (see stopped_by).
    """
    import datasets
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from wlf.training.trainer import StopEarly, WeightedSFTTrainer

    transformers.set_seed(settings["seed"])
    trust = settings["trust_remote_code"]
    tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust)
    model_kwargs = {
        "dtype": getattr(torch, train_settings.model_dtype_name(settings, session.bf16)),
        "trust_remote_code": trust,
    }
    if settings["attn_implementation"]:
        model_kwargs["attn_implementation"] = settings["attn_implementation"]
    model = AutoModelForCausalLM.from_pretrained(model_path, **model_kwargs)
    peft_config = None
    if settings["method"] == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(**train_settings.lora_config_kwargs(settings))
    trainer = WeightedSFTTrainer(
        model=model,
        args=session.sft_args,
        train_dataset=datasets.Dataset.from_list(records),
        processing_class=tokenizer,
        peft_config=peft_config,
        loss_reduction=settings["loss_reduction"],
        end_of_turn_id=end_of_turn_id(tokenizer),
        max_tokens=settings["max_length"],
    )
    trainer.add_callback(StopEarly(interrupt_at, signals))
    return trainer


def log_distribution(trainer, session: Session) -> None:
    """Print how the run is spread over its processes, and warn when accelerate ignored the config's FSDP."""
    state = trainer.accelerator.state
    session.log(f"distributed: {distribution.one_line(distribution.plan(state))}", flush=True)
    if warning := distribution.ignored_fsdp(state, os.environ):
        session.log(f"train: warning: {warning}", file=sys.stderr, flush=True)


def stopped_by(trainer) -> str | None:
    """Return why the run stopped before its last step (e.g. "signal SIGUSR1 at step 7"), None if it did not."""
    from wlf.training.trainer import StopEarly

    reasons = [
        callback.stopped_by
        for callback in trainer.callback_handler.callbacks
        if isinstance(callback, StopEarly)
    ]
    return next((reason for reason in reasons if reason), None)


def restore(trainer, resume_from: Path | None) -> tuple[int, str | None]:
    """Return (the global step a resumed run starts from, why the run before stopped there), restoring its token
    counts; (0, None) when fresh. The reason is None after a kill (the periodic checkpoint has no summary)."""
    if resume_from is None:
        return 0, None
    trainer.restore_token_counts(str(resume_from))
    step = json.loads((resume_from / checkpoints.COMPLETE_MARKER).read_text())["global_step"]
    stopped = resume_from / SUMMARY_FILE
    return step, json.loads(stopped.read_text())["stopped_by"] if stopped.exists() else None


def git_commit() -> str | None:
    """Return the HEAD commit of the repository around this package, or None outside git / without commits."""
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


def peak_memory_mb(cuda: bool, cuda_max_allocated_bytes: float = 0.0) -> dict[str, Any]:
    """Return this process's peak memory: CUDA allocated on a GPU, else the resident set size."""
    if cuda:
        return {"kind": "cuda_max_memory_allocated", "mb": cuda_max_allocated_bytes / 2**20}
    return {"kind": "max_rss", "mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def loss_curve(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Return [{step, loss}] of the Trainer's logged training losses."""
    return [{"step": entry["step"], "loss": entry["loss"]} for entry in log_history if "loss" in entry]


@dataclass
class RunFacts:
    """What train.py knows of a run besides the trainer: its inputs, timings and resume point."""

    variant: str
    gamma: float
    settings: dict[str, Any]
    train_file: str
    train_sha256: str
    model: str
    papers: list[dict]
    resumed_from_step: int
    resumed_after: str | None  # why the run before stopped at resumed_from_step (stopped_by), when it said
    train_seconds: float
    wall_seconds: float
    bf16: bool


def training_summary(
    facts: RunFacts,
    state,
    log_history: list[dict],
    counts: dict,
    restored: dict,
    mean_loss: float,
    extra: dict,
    stopped: str | None = None,
) -> dict[str, Any]:
    """Return train_summary.json: steps, tokens, speed, memory, losses, settings and versions of a run.

    state: the Trainer's state (global_step, max_steps, epoch); counts/restored: real and padded tokens of the
    whole run and of the part before the resume; extra: distributed (how the run was spread over its processes,
    wlf.training.distribution.describe), padding_free, peak_memory, packages, git_commit (facts of the machine,
    not of the run's logic), and chat_template_kwargs (what the model's chat template was rendered with,
    wlf.chat_template.render_kwargs); stopped: why the run stopped before its last step (stopped_by), None when
    it trained to the end.
    """
    settings = facts.settings
    new_real = counts["real"] - restored["real"]
    return {
        "variant": facts.variant,
        "gamma": facts.gamma,
        "seed": settings["seed"],  # the run's training seed: sampler order, new-parameter init, dropout, LoRA
        "class_weights": class_weights(facts.variant, facts.gamma),
        "loss_reduction": settings["loss_reduction"],
        "train_file": facts.train_file,
        "train_sha256": facts.train_sha256,
        "model": facts.model,
        "steps": state.global_step,
        "max_steps": state.max_steps,
        "resumed_from_step": facts.resumed_from_step,
        "resumed_after": facts.resumed_after,
        "stopped_by": stopped,
        "examples": len(facts.papers),
        "examples_by_label": {label: sum(p["label"] == label for p in facts.papers) for label in LABELS},
        "epochs": state.epoch,
        "distributed": extra["distributed"],
        "global_batch_size": settings["per_device_train_batch_size"]
        * settings["gradient_accumulation_steps"]
        * extra["distributed"]["num_processes"],
        "padding_free": extra["padding_free"],
        "tokens_seen": counts,
        "padding_waste": 1 - counts["real"] / counts["padded"] if counts["padded"] else 0.0,
        "train_seconds": facts.train_seconds,
        "wall_seconds": facts.wall_seconds,
        "tokens_per_second": new_real / facts.train_seconds if facts.train_seconds > 0 else None,
        "peak_memory": extra["peak_memory"],
        "final_loss": next((e["loss"] for e in reversed(log_history) if "loss" in e), None),
        "mean_train_loss": mean_loss,
        "loss_curve": loss_curve(log_history),
        "settings": settings,
        "chat_template_kwargs": extra["chat_template_kwargs"],
        "bf16": facts.bf16,
        "packages": extra["packages"],
        "git_commit": extra["git_commit"],
    }


def train_and_summarise(trainer, resume_from: Path | None, facts: RunFacts, started: float) -> dict[str, Any]:
    """Train (resuming when asked) and return the run's summary; every process calls it."""
    import torch

    train_started = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    facts.train_seconds = time.time() - train_started
    counts = trainer.token_counts()  # collective: every process takes part
    facts.wall_seconds = time.time() - started
    cuda = torch.cuda.is_available()
    extra = {
        # read off the model while it is still prepared (sharded under FSDP); the main process's view is kept
        "distributed": distribution.describe(trainer.accelerator.state, trainer.model_wrapped),
        "padding_free": trainer.padding_free,
        "peak_memory": peak_memory_mb(cuda, torch.cuda.max_memory_allocated() if cuda else 0.0),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "chat_template_kwargs": render_kwargs(trainer.processing_class),
    }
    return training_summary(
        facts,
        trainer.state,
        trainer.state.log_history,
        counts,
        trainer.restored_token_counts,
        result.training_loss,
        extra,
        stopped_by(trainer),
    )


def save_stop_summary(checkpoint_dir: str | Path, session: Session, summary: dict[str, Any]) -> Path:
    """Write the summary of a run that stopped early into the checkpoint it saved, where its resume reads
    stopped_by, and return that checkpoint."""
    saved = Path(checkpoint_dir) / f"checkpoint-{summary['steps']}"
    if session.state.is_main_process:
        (saved / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    session.state.wait_for_everyone()
    return saved


def save_final_model(
    trainer, session: Session, output_dir: str | Path, checkpoint_dir: str | Path, summary: dict[str, Any]
) -> None:
    """Save weights (or adapter), tokenizer and summary into output_dir, all at once when complete and checked,
    keep a copy beside the checkpoints (checkpoints.keep_final_model), then delete the run's checkpoints.

    A model that fails the check is not swapped in and every checkpoint stays, so a retry resumes from the last
    one and saves the model again.
    """
    output_dir = Path(output_dir)
    partial = output_dir.with_name(f".{output_dir.name}.partial")
    if session.state.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
    session.state.wait_for_everyone()
    trainer.save_model(str(partial))  # every process: FSDP gathers the full state dict collectively
    session.state.wait_for_everyone()
    if session.state.is_main_process:
        (partial / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n")
        problems = checkpoints.final_model_problems(partial)
        if problems:
            raise RuntimeError(
                f"the saved model is incomplete, so {output_dir} was not written and the checkpoints in "
                f"{checkpoint_dir} stay for a retry: {'; '.join(problems)}"
            )
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        replace_dir(partial, output_dir)
        kept = checkpoints.keep_final_model(output_dir, checkpoint_dir)
        session.log(f"kept a copy of the model in {kept} (Snakemake deletes {output_dir} before retraining)")
        if not summary["settings"]["keep_checkpoints"]:
            removed = checkpoints.remove_checkpoints(checkpoint_dir)
            session.log(
                f"the model is complete: removed {len(removed)} checkpoint(s) with optimizer state from "
                f"{checkpoint_dir} ({sum(removed.values()) / 1e9:.3g} GB)",
                flush=True,
            )
        session.log(
            f"wrote {output_dir}: {summary['steps']} steps, final loss {summary['final_loss']}, "
            f"{summary['train_seconds']:.1f} s training",
            flush=True,
        )
    session.state.wait_for_everyone()

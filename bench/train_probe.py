"""Measure a Trainer run from inside: step times, real and padded tokens per step, peak resident memory.

Imports only the standard library, torch and transformers, so both the project's venv and LLaMA-Factory's
venv can load it; every training contender is measured by the same code.
"""

from __future__ import annotations

import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import TrainerCallback

PROC_STATUS = Path("/proc/self/status")
PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


def proc_status_kb(key: str) -> int | None:
    """Return a /proc/self/status memory field (VmRSS, VmHWM) in KiB, or None where /proc has no such file."""
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS; return whether the kernel allowed it."""
    try:
        PROC_CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def max_rss_mb() -> float:
    """Return this process's lifetime peak resident set size in MiB (getrusage, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tokens_of_forward(kwargs: dict, args: tuple) -> tuple[int, int, int, int] | None:
    """Return (real, padded, rows, sum of squared row lengths) of one forward call, or None without input_ids.

    The squared lengths give the attention FLOPs, which grow with each sequence's length times itself.
    """
    input_ids = kwargs.get("input_ids", args[0] if args else None)
    if not isinstance(input_ids, torch.Tensor):
        return None
    padded = int(input_ids.numel())
    mask = kwargs.get("attention_mask")
    # A padding-free batch has no mask: every token of its single row is real
    if isinstance(mask, torch.Tensor) and mask.dim() == 2:
        lengths = mask.sum(dim=-1)
    else:
        lengths = torch.full((input_ids.shape[0],), input_ids.shape[-1])
    return int(lengths.sum()), padded, int(lengths.numel()), int((lengths.long() ** 2).sum())


def window_throughput(step_end_s: list[float], real_tokens: list[int], warmup_steps: int) -> float:
    """Return real tokens/s over the steps after warmup_steps, timed from the end of the last warm-up step.

    Step i runs between the end of step i-1 and the end of step i, so collation and data loading count too.
    """
    if len(step_end_s) != len(real_tokens):
        raise ValueError(f"{len(step_end_s)} step times for {len(real_tokens)} token counts")
    if warmup_steps < 1 or len(step_end_s) <= warmup_steps:
        raise ValueError(f"need more than warmup_steps = {warmup_steps} >= 1 steps, got {len(step_end_s)}")
    seconds = step_end_s[-1] - step_end_s[warmup_steps - 1]
    return sum(real_tokens[warmup_steps:]) / seconds


def padding_waste(real_tokens: int, padded_tokens: int) -> float:
    """Return the fraction of batch positions that are padding."""
    return 1.0 - real_tokens / padded_tokens if padded_tokens else 0.0


@dataclass
class ThroughputProbe(TrainerCallback):
    """Trainer callback: per-step end times and the real/padded tokens of each step's gradient forwards."""

    warmup_steps: int = 1
    step_end_s: list[float] = field(default_factory=list)
    step_real: list[int] = field(default_factory=list)
    step_padded: list[int] = field(default_factory=list)
    step_rows: list[int] = field(default_factory=list)
    step_sq_lengths: list[int] = field(default_factory=list)
    rss_before_train_mb: float | None = None
    peak_reset: bool = False
    _real: int = 0
    _padded: int = 0
    _rows: int = 0
    _sq_lengths: int = 0
    _hook = None

    def _count(self, module, args, kwargs):
        # Only forwards that build a graph are training work; a no-grad metrics forward trains no token
        if torch.is_grad_enabled() and module.training:
            counted = tokens_of_forward(kwargs, args)
            if counted is not None:
                self._real += counted[0]
                self._padded += counted[1]
                self._rows += counted[2]
                self._sq_lengths += counted[3]

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        # The backbone sees every training forward, also one projecting only some positions through the head
        backbone = model.get_decoder() if hasattr(model, "get_decoder") else model
        self._hook = backbone.register_forward_pre_hook(self._count, with_kwargs=True)
        rss = proc_status_kb("VmRSS")
        self.rss_before_train_mb = rss / 1024 if rss is not None else None
        self.peak_reset = reset_peak_rss()

    def on_step_end(self, args, state, control, **kwargs):
        self.step_end_s.append(time.perf_counter())
        self.step_real.append(self._real)
        self.step_padded.append(self._padded)
        self.step_rows.append(self._rows)
        self.step_sq_lengths.append(self._sq_lengths)
        self._real = self._padded = self._rows = self._sq_lengths = 0

    def on_train_end(self, args, state, control, **kwargs):
        if self._hook is not None:
            self._hook.remove()

    def summary(self) -> dict:
        """Return the measured figures of the run as a JSON-ready dict."""
        measured = slice(self.warmup_steps, None)
        real, padded = sum(self.step_real[measured]), sum(self.step_padded[measured])
        hwm = proc_status_kb("VmHWM")
        intervals = [b - a for a, b in zip(self.step_end_s, self.step_end_s[1:], strict=False)][
            self.warmup_steps - 1 :
        ]
        return {
            "steps": len(self.step_end_s),
            "warmup_steps": self.warmup_steps,
            "real_tokens": real,
            "padded_tokens": padded,
            "tokens_per_s": window_throughput(self.step_end_s, self.step_real, self.warmup_steps),
            "median_step_s": statistics.median(intervals) if intervals else None,
            "padding_waste": padding_waste(real, padded),
            "rss_before_train_mb": self.rss_before_train_mb,
            # Peak since training began (VmHWM reset at on_train_begin); lifetime peak when the reset failed
            "peak_rss_train_mb": hwm / 1024 if hwm is not None and self.peak_reset else None,
            "peak_rss_mb": max_rss_mb(),
        }

"""Training FLOP/s of the project's weighted trainer as a fraction of this machine's dense fp32 matmul FLOP/s.

One process: the matmul peak (2048 x 2048 fp32 `torch.mm`, --threads threads) is measured before and after
the training run, on the same load; training is the WeightedSFTTrainer on a model large enough to be
compute-bound on a CPU (hidden 1024, 4 layers). Model FLOPs per step count the work the trainer needs:
  6 * N_body * real tokens             (N_body: every weight but the embedding and the LM head)
  + 12 * L * d * sum(s_i^2)            (attention scores and values, PaLM's convention, s_i = example length)
  + 6 * V * d * labelled tokens        (the LM head, which the trainer runs on the answer positions only)
It also times the phases of each step and profiles one step, to say what limits the fraction.

    .venv/bin/python bench/hardware_efficiency.py            # the run recorded in BENCHMARKS.md
    .venv/bin/python bench/hardware_efficiency.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent

FULL = {
    "shape": {
        "hidden_size": 1024,
        "num_hidden_layers": 4,
        "num_attention_heads": 16,
        "num_key_value_heads": 4,
        "intermediate_size": 2816,
        "max_position_embeddings": 4096,
    },
    "vocab_rows": 32768,
    "max_tokens": 512,
    "batch_size": 4,
    "steps": 5,
    "matmul_size": 2048,
    "matmul_repeats": 7,
}
QUICK = {
    "shape": {
        "hidden_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 704,
        "max_position_embeddings": 1024,
    },
    "vocab_rows": 32768,
    "max_tokens": 256,
    "batch_size": 4,
    "steps": 3,
    "matmul_size": 1024,
    "matmul_repeats": 3,
}
# Profiler op names that are dense matrix products (the rest: elementwise, reductions, copies, Python)
MATMUL_OPS = (
    "aten::mm",
    "aten::addmm",
    "aten::bmm",
    "aten::baddbmm",
    "aten::addmm_",
    "aten::_scaled_dot_product_flash_attention_for_cpu",
    "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
)
LABELLED_TOKENS_PER_EXAMPLE = 2  # the answer word and <|im_end|> (weighted_trainer.end_at_turn_end)


def matmul_flops(seconds: float, size: int, count: int) -> float:
    """Return the FLOP/s of `count` size x size matrix products done in `seconds` (2 * size^3 each)."""
    return 2.0 * size**3 * count / seconds


def measure_matmul(size: int, repeats: int, min_seconds: float = 0.5) -> list[float]:
    """Return FLOP/s samples of fp32 size x size torch.mm, each timing enough products for min_seconds."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    out = torch.empty(size, size)
    for _ in range(3):
        torch.mm(a, b, out=out)
    started = time.perf_counter()
    torch.mm(a, b, out=out)
    count = max(1, int(min_seconds / max(time.perf_counter() - started, 1e-6)))
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(count):
            torch.mm(a, b, out=out)
        samples.append(matmul_flops(time.perf_counter() - started, size, count))
    return samples


def step_model_flops(
    n_body_params: int,
    n_layers: int,
    d_model: int,
    vocab_rows: int,
    real_tokens: int,
    sum_sq_lengths: int,
    labelled_tokens: int,
) -> float:
    """Return the model FLOPs of training steps: dense weights, attention, LM head on labelled tokens."""
    return (
        6.0 * n_body_params * real_tokens
        + 12.0 * n_layers * d_model * sum_sq_lengths
        + 6.0 * vocab_rows * d_model * labelled_tokens
    )


def body_params(model) -> int:
    """Return the parameters outside the input embedding and the LM head (tied or not)."""
    excluded = {id(model.get_input_embeddings().weight), id(model.get_output_embeddings().weight)}
    return sum(p.numel() for p in model.parameters() if id(p) not in excluded)


def matmul_share(op_seconds: dict[str, float]) -> float:
    """Return the fraction of profiled self CPU time spent in dense matrix products."""
    total = sum(op_seconds.values())
    return (
        sum(seconds for name, seconds in op_seconds.items() if name in MATMUL_OPS) / total if total else 0.0
    )


def phase_callbacks():
    """Return a Trainer callback class timing each step's phases (forward+backward, optimizer, rest)."""
    import torch
    from transformers import TrainerCallback

    class PhaseTimer(TrainerCallback):
        def __init__(self, profile_step: int):
            self.profile_step = profile_step
            self.phases: list[dict[str, float]] = []
            self.op_seconds: dict[str, float] = {}
            self._profiler = None

        def on_step_begin(self, args, state, control, **kwargs):
            self._t = {"begin": time.perf_counter()}
            if state.global_step == self.profile_step:
                self._profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
                self._profiler.start()

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            self._t["pre_optimizer"] = time.perf_counter()

        def on_optimizer_step(self, args, state, control, **kwargs):
            self._t["optimizer"] = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            now = time.perf_counter()
            if self._profiler is not None:
                self._profiler.stop()
                for event in self._profiler.key_averages():
                    self.op_seconds[event.key] = event.self_cpu_time_total / 1e6
                self._profiler = None
                return  # the profiled step is slower; its times are not kept
            t = self._t
            self.phases.append(
                {
                    "forward_backward_s": t["pre_optimizer"] - t["begin"],
                    "optimizer_s": t["optimizer"] - t["pre_optimizer"],
                    "rest_s": now - t["optimizer"],
                }
            )

    return PhaseTimer


def train_and_measure(
    model_dir: Path, train_file: Path, batch_size: int, steps: int, max_tokens: int
) -> dict:
    """Return step figures of the weighted trainer: tokens, phases, profile, FLOPs per measured step."""
    import datasets
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import SFTConfig

    from train_probe import ThroughputProbe
    from wlf.data.chat_sets import read_chat_set
    from wlf.training import run
    from wlf.training import settings as train_settings
    from wlf.training import trainer as weighted_trainer

    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    settings = train_settings.resolve_settings(
        {
            "per_device_train_batch_size": batch_size,
            "max_length": max_tokens,
            "learning_rate": 1e-4,
            "gradient_checkpointing": False,
            "seed": 0,
            "logging_steps": 10_000,
            "report_to": "none",
        }
    )
    records = run.prompt_completion_records(read_chat_set(train_file, require_answer=True), "accept", 4.0)
    probe = ThroughputProbe(warmup_steps=1)
    # one extra step at the end is profiled and left out of the step times
    timer = phase_callbacks()(profile_step=steps)
    with tempfile.TemporaryDirectory(prefix="bench-hw-") as output_dir:
        kwargs = train_settings.sft_config_kwargs(settings, output_dir, bf16=False, cuda=False)
        kwargs.update(
            max_steps=steps + 1, save_strategy="no", logging_strategy="no", logging_first_step=False
        )
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        trainer = weighted_trainer.WeightedSFTTrainer(
            model=model,
            args=SFTConfig(**kwargs),
            train_dataset=datasets.Dataset.from_list(records),
            processing_class=tokenizer,
            callbacks=[probe, timer],
            end_of_turn_id=run.end_of_turn_id(tokenizer),
            max_tokens=max_tokens,
        )
        trainer.remove_callback(PrinterCallback)  # the report is printed at the end, not the Trainer's logs
        trainer.train()
    config = model.config
    measured = slice(1, steps)  # after the warm-up step, before the profiled one
    step_flops = [
        step_model_flops(
            body_params(model),
            config.num_hidden_layers,
            config.hidden_size,
            config.vocab_size,
            real,
            sq,
            rows * LABELLED_TOKENS_PER_EXAMPLE,
        )
        for real, sq, rows in zip(
            probe.step_real[measured], probe.step_sq_lengths[measured], probe.step_rows[measured], strict=True
        )
    ]
    step_seconds = [
        b - a for a, b in zip(probe.step_end_s[: steps - 1], probe.step_end_s[1:steps], strict=True)
    ]
    return {
        "n_params": sum(p.numel() for p in model.parameters()),
        "n_body_params": body_params(model),
        "step_seconds": step_seconds,
        "step_flops": step_flops,
        "step_real_tokens": probe.step_real[measured],
        "padding_waste": 1 - sum(probe.step_real[measured]) / sum(probe.step_padded[measured]),
        "phases": timer.phases[1:],
        "op_seconds": timer.op_seconds,
    }


def build_fixtures(out_dir: Path, plan: dict) -> tuple[Path, Path]:
    """Return (model folder, training set) for the run."""
    from transformers import AutoTokenizer

    import bench_fixtures

    corpus_path, papers, _ = bench_fixtures.write_corpus(out_dir, 400, 10, seed=7)
    model_dir = bench_fixtures.build_model(
        out_dir / "model", corpus_path, plan["shape"], plan["vocab_rows"], seed=0
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows = bench_fixtures.chat_rows(
        papers, tokenizer, plan["batch_size"] * (plan["steps"] + 1), plan["max_tokens"], seed=3
    )
    return model_dir, bench_fixtures.write_jsonl(out_dir / "train.jsonl", rows)


def summarise(matmul_before: list[float], matmul_after: list[float], run: dict) -> dict:
    """Return the headline figures: matmul peak, training FLOP/s, their ratio, phase shares, matmul share."""
    peak = statistics.median(matmul_before + matmul_after)
    per_step = [
        flops / seconds for flops, seconds in zip(run["step_flops"], run["step_seconds"], strict=True)
    ]
    training = statistics.median(per_step)
    phase_totals = (
        {key: sum(phase[key] for phase in run["phases"]) for key in run["phases"][0]} if run["phases"] else {}
    )
    all_phases = sum(phase_totals.values())
    top_ops = sorted(run["op_seconds"].items(), key=lambda item: -item[1])[:8]
    return {
        "matmul_flops_per_s": peak,
        "matmul_before": statistics.median(matmul_before),
        "matmul_after": statistics.median(matmul_after),
        "training_flops_per_s": training,
        "fraction_of_matmul": training / peak,
        "tokens_per_s": statistics.median(
            r / s for r, s in zip(run["step_real_tokens"], run["step_seconds"], strict=True)
        ),
        "phase_share": {key: value / all_phases for key, value in phase_totals.items()} if all_phases else {},
        "matmul_share_of_profiled_step": matmul_share(run["op_seconds"]),
        "top_ops_s": dict(top_ops),
    }


def render(summary: dict, run: dict, threads: int, plan: dict) -> str:
    """Return the Markdown report."""
    shape = plan["shape"]
    lines = [
        f"Model: Qwen2, hidden {shape['hidden_size']}, {shape['num_hidden_layers']} layers, "
        f"{shape['num_attention_heads']} heads ({shape['num_key_value_heads']} KV), "
        f"MLP {shape['intermediate_size']}, "
        f"vocab {plan['vocab_rows']} (tied); {run['n_params'] / 1e6:.1f}M params, "
        f"{run['n_body_params'] / 1e6:.1f}M outside the embedding/LM head. Batch {plan['batch_size']} x <= "
        f"{plan['max_tokens']} tokens, fp32, {threads} thread(s), WeightedSFTTrainer.",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| dense fp32 matmul ({plan['matmul_size']}^2), before / after training | "
        f"{summary['matmul_before'] / 1e9:.1f} / {summary['matmul_after'] / 1e9:.1f} GFLOP/s |",
        f"| training model FLOP/s (median step) | {summary['training_flops_per_s'] / 1e9:.1f} GFLOP/s |",
        f"| **fraction of matmul FLOP/s** | **{summary['fraction_of_matmul']:.1%}** |",
        f"| training tokens/s (real tokens) | {summary['tokens_per_s']:.0f} |",
        f"| padding waste | {run['padding_waste']:.1%} |",
    ]
    for key, share in summary["phase_share"].items():
        lines.append(f"| share of step time: {key.removesuffix('_s').replace('_', ' ')} | {share:.1%} |")
    lines.append(
        f"| share of profiled CPU time in dense matmul/attention kernels | "
        f"{summary['matmul_share_of_profiled_step']:.1%} |"
    )
    lines += [
        "",
        "Top ops of the profiled step (self CPU s): "
        + ", ".join(f"{name} {seconds:.2f}" for name, seconds in summary["top_ops_s"].items()),
    ]
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small model, 3 steps")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for matmul and training")
    parser.add_argument(
        "--out-dir",
        help="default: bench/out/hardware_efficiency (bench/out/hardware_efficiency_quick with --quick)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    plan = QUICK if args.quick else FULL
    default = (
        Path(__file__).resolve().parent
        / "out"
        / ("hardware_efficiency_quick" if args.quick else "hardware_efficiency")
    )
    out_dir = Path(args.out_dir) if args.out_dir else default
    out_dir.mkdir(parents=True, exist_ok=True)
    model_dir, train_file = build_fixtures(out_dir, plan)
    before = measure_matmul(plan["matmul_size"], plan["matmul_repeats"])
    run = train_and_measure(model_dir, train_file, plan["batch_size"], plan["steps"], plan["max_tokens"])
    after = measure_matmul(plan["matmul_size"], plan["matmul_repeats"])
    summary = summarise(before, after, run)
    record = {
        "date": datetime.date.today().isoformat(),
        "command": " ".join(sys.argv),
        "threads": args.threads,
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "plan": plan,
        "matmul_before": before,
        "matmul_after": after,
        "run": run,
        "summary": summary,
    }
    (out_dir / f"results_threads{args.threads}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(render(summary, run, args.threads, plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())

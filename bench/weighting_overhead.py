"""Cost of the weighting itself: the weighted trainer against TRL's SFTTrainer, steps interleaved in one process.

Separate processes (train_throughput.py) cannot resolve a few per cent on a shared 2-core machine: the load
changes between runs by more than that. Here both trainers (each with its own copy of the same model, the
same CPU head patch, the same batches) live in one process and take turns step by step (W P, P W, ...), so a
burst of load hits both; the ratio is the median of the per-pair ratios of real tokens per second. Each
timed step is what the Trainer does per step: fetch and collate the batch, forward, backward, optimizer.

    .venv/bin/python bench/weighting_overhead.py            # the run recorded in BENCHMARKS.md
    .venv/bin/python bench/weighting_overhead.py --quick    # smoke run
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

import train_throughput

BENCH = Path(__file__).resolve().parent

KINDS = ("weighted", "plain_compact")


def pair_orders(n_pairs: int) -> list[tuple[str, str]]:
    """Return the order of each pair of steps, swapped every pair (W P, P W, ...)."""
    return [KINDS if pair % 2 == 0 else KINDS[::-1] for pair in range(n_pairs)]


def pair_ratios(steps: list[dict], warmup_pairs: int) -> list[float]:
    """Return weighted tokens/s over plain tokens/s for every pair after the warm-up pairs."""
    by_pair: dict[int, dict[str, float]] = {}
    for step in steps:
        by_pair.setdefault(step["pair"], {})[step["kind"]] = step["tokens"] / step["seconds"]
    return [
        speeds["weighted"] / speeds["plain_compact"]
        for pair, speeds in sorted(by_pair.items())
        if pair >= warmup_pairs and len(speeds) == 2
    ]


def build_trainer(
    kind: str,
    model_dir: Path,
    train_file: Path,
    batch_size: int,
    max_length: int,
    steps: int,
    output_dir: str,
):
    """Return a trainer of `kind` with its own model copy and its optimizer and scheduler created."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from wlf.data.chat_sets import read_chat_set
    from wlf.training import run
    from wlf.training import settings as train_settings
    from wlf.training import trainer as weighted_trainer

    settings = train_settings.resolve_settings(
        {
            "per_device_train_batch_size": batch_size,
            "max_length": max_length,
            "learning_rate": 1e-4,
            "gradient_checkpointing": False,
            "seed": 0,
            "logging_steps": 10_000,
            "report_to": "none",
        }
    )
    kwargs = train_settings.sft_config_kwargs(settings, output_dir, bf16=False, cuda=False)
    kwargs.update(max_steps=steps, save_strategy="no", logging_strategy="no", logging_first_step=False)
    records = run.prompt_completion_records(read_chat_set(train_file, require_answer=True), "accept", 4.0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    common = {"model": model, "args": SFTConfig(**kwargs), "processing_class": tokenizer}
    if kind == "weighted":
        trainer = weighted_trainer.WeightedSFTTrainer(
            **common,
            train_dataset=datasets.Dataset.from_list(records),
            end_of_turn_id=run.end_of_turn_id(tokenizer),
            max_tokens=max_length,
        )
    else:
        weighted_trainer.score_only_labelled_positions_on_cpu()
        plain = [{k: v for k, v in record.items() if k != "example_weight"} for record in records]
        trainer = SFTTrainer(**common, train_dataset=datasets.Dataset.from_list(plain))
    trainer.create_optimizer_and_scheduler(num_training_steps=steps)
    return trainer


def timed_step(trainer, batches) -> tuple[float, int]:
    """Return (seconds, real tokens) of one Trainer step: fetch + collate, forward, backward, optimizer."""
    started = time.perf_counter()
    batch = next(batches)
    num_items = trainer._get_num_items_in_batch([batch], trainer.args.device)
    batch = trainer._prepare_inputs(batch)
    trainer.training_step(trainer.model, batch, num_items)
    trainer.optimizer.step()
    trainer.lr_scheduler.step()
    trainer.model.zero_grad(set_to_none=True)
    return time.perf_counter() - started, int(batch["attention_mask"].sum())


def measure(model_dir: Path, train_file: Path, batch_size: int, max_length: int, n_pairs: int) -> list[dict]:
    """Return every timed step {pair, kind, seconds, tokens} of the interleaved run."""
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    steps = []
    with tempfile.TemporaryDirectory(prefix="bench-weighting-") as output_dir:
        trainers = {
            kind: build_trainer(kind, model_dir, train_file, batch_size, max_length, n_pairs, output_dir)
            for kind in KINDS
        }
        batches = {kind: iter(trainer.get_train_dataloader()) for kind, trainer in trainers.items()}
        for pair, order in enumerate(pair_orders(n_pairs)):
            for kind in order:
                seconds, tokens = timed_step(trainers[kind], batches[kind])
                steps.append({"pair": pair, "kind": kind, "seconds": seconds, "tokens": tokens})
    return steps


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small model, one length, 4 pairs")
    parser.add_argument("--pairs", type=int, help="step pairs per length (default 24, 4 with --quick)")
    parser.add_argument("--warmup-pairs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (see train_throughput.py)")
    parser.add_argument("--out-dir", help="default: bench/out/weighting_overhead (_quick with --quick)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    plan = dict(train_throughput.QUICK if args.quick else train_throughput.FULL)
    n_pairs = args.pairs or (4 if args.quick else 24)
    if n_pairs <= args.warmup_pairs:
        print(
            f"weighting_overhead: --pairs must exceed --warmup-pairs = {args.warmup_pairs}", file=sys.stderr
        )
        return 2
    plan["steps"] = n_pairs
    default = BENCH / "out" / ("weighting_overhead_quick" if args.quick else "weighting_overhead")
    out_dir = Path(args.out_dir) if args.out_dir else default
    model_dir, data_dir = train_throughput.build_fixtures(out_dir, plan)
    lines = [
        "| length | batch | pairs | weighted / plain_compact tokens/s (median of pairs) | quartiles | "
        "median step s (weighted, plain) |",
        "|---:|---:|---:|---:|---|---|",
    ]
    record = {
        "date": datetime.date.today().isoformat(),
        "command": " ".join(sys.argv),
        "threads": args.threads,
        "load_average": os.getloadavg(),
        "plan": plan,
        "lengths": {},
    }
    for length in plan["lengths"]:
        batch_size = plan["batch_sizes"][length]
        steps = measure(model_dir, data_dir / f"train_{length}.jsonl", batch_size, length, n_pairs)
        ratios = pair_ratios(steps, args.warmup_pairs)
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
        step_s = {
            kind: statistics.median(
                s["seconds"] for s in steps if s["kind"] == kind and s["pair"] >= args.warmup_pairs
            )
            for kind in KINDS
        }
        record["lengths"][length] = {
            "steps": steps,
            "ratios": ratios,
            "median_ratio": statistics.median(ratios),
        }
        lines.append(
            f"| {length} | {batch_size} | {len(ratios)} | {statistics.median(ratios):.3f} | "
            f"{quartiles[0]:.3f} - {quartiles[2]:.3f} | "
            f"{step_s['weighted']:.3f}, {step_s['plain_compact']:.3f} |"
        )
    (out_dir / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

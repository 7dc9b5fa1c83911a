"""Examples per second of infer.py's `score` mode against its `generate` mode, same model, same test set.

Both modes go through infer.predict (prompt encoding, length-sorted batches, the mode's model calls). They
alternate in one process (A B, B A, ...) and the medians over repeats are reported, with the paired ratio.

    .venv/bin/python bench/inference_modes.py            # bench model (vocab 32,768), 64 papers <= 512 tokens
    .venv/bin/python bench/inference_modes.py --quick    # smoke run
    .venv/bin/python bench/inference_modes.py --model results/models/EXP --test-file results/data/test.jsonl
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

import bench_fixtures

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent

MODES = ("score", "generate")
FULL = {
    "n_examples": 64,
    "max_tokens": 512,
    "repeats": 3,
    "batch_size": 8,
    "shape": bench_fixtures.BENCH_SHAPE,
    "vocab_rows": 32768,
    "n_corpus": 600,
}
QUICK = {
    "n_examples": 16,
    "max_tokens": 256,
    "repeats": 1,
    "batch_size": 8,
    "shape": bench_fixtures.QUICK_SHAPE,
    "vocab_rows": 32768,
    "n_corpus": 200,
}


def alternating_modes(repeats: int) -> list[tuple[int, str]]:
    """Return (repeat, mode) runs, the order of the two modes swapped every repeat."""
    return [
        (repeat, mode) for repeat in range(repeats) for mode in (MODES if repeat % 2 == 0 else MODES[::-1])
    ]


def paired_speedup(runs: list[dict]) -> float | None:
    """Return the median over repeats of score examples/s divided by generate examples/s."""
    by_repeat: dict[int, dict[str, float]] = {}
    for run in runs:
        by_repeat.setdefault(run["repeat"], {})[run["mode"]] = run["examples_per_s"]
    ratios = [pair["score"] / pair["generate"] for pair in by_repeat.values() if len(pair) == 2]
    return statistics.median(ratios) if ratios else None


def build_fixtures(out_dir: Path, plan: dict) -> tuple[Path, Path]:
    """Return (model folder, test-set JSONL) built offline for the benchmark."""
    from transformers import AutoTokenizer

    corpus_path, papers, test_papers = bench_fixtures.write_corpus(
        out_dir, plan["n_corpus"], plan["n_examples"], 7
    )
    model_dir = bench_fixtures.build_model(
        out_dir / "model", corpus_path, plan["shape"], plan["vocab_rows"], seed=0
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows = bench_fixtures.chat_rows(test_papers, tokenizer, plan["n_examples"], plan["max_tokens"], seed=1)
    return model_dir, bench_fixtures.write_jsonl(out_dir / "test.jsonl", rows)


def measure(
    model_dir: Path, test_file: Path, batch_size: int, max_new_tokens: int, repeats: int
) -> list[dict]:
    """Return one row per (repeat, mode): seconds, examples/s and the predictions' label counts."""
    from wlf.data.chat_sets import read_chat_set
    from wlf.evaluation import inference as infer

    papers = read_chat_set(test_file)
    model, tokenizer = infer.load_model(model_dir, trust_remote_code=False)
    runs = []
    predictions: dict[str, list[str]] = {}
    for repeat, mode in alternating_modes(repeats):
        settings = infer.parse_settings(
            json.dumps({"mode": mode, "batch_size": batch_size, "max_new_tokens": max_new_tokens})
        )
        started = time.perf_counter()
        rows = infer.predict(model, tokenizer, papers, settings, str(test_file))
        seconds = time.perf_counter() - started
        predictions[mode] = [row["pred"] for row in rows]
        runs.append(
            {
                "repeat": repeat,
                "mode": mode,
                "seconds": seconds,
                "examples_per_s": len(papers) / seconds,
                "n_examples": len(papers),
                "preds": {label: predictions[mode].count(label) for label in ("Accept", "Reject", "invalid")},
            }
        )
        print(f"repeat {repeat} {mode}: {len(papers) / seconds:.2f} examples/s", file=sys.stderr, flush=True)
    return runs


def render(runs: list[dict], batch_size: int, max_new_tokens: int) -> str:
    """Return the Markdown table of medians per mode and the paired speed-up of score over generate."""
    lines = [
        "| mode | runs | examples/s (median) | s / example | predictions (last run) |",
        "|---|---:|---:|---:|---|",
    ]
    for mode in MODES:
        mine = [run for run in runs if run["mode"] == mode]
        speed = statistics.median(run["examples_per_s"] for run in mine)
        last = mine[-1]["preds"]
        lines.append(
            f"| {mode} | {len(mine)} | {speed:.2f} | {1 / speed:.3f} | "
            f"{last['Accept']} Accept / {last['Reject']} Reject / {last['invalid']} invalid |"
        )
    speedup = paired_speedup(runs)
    lines += [
        "",
        f"score / generate examples/s (paired median): {speedup:.2f} "
        f"(batch size {batch_size}, generate max_new_tokens {max_new_tokens})",
    ]
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small model, 16 papers, one repeat")
    parser.add_argument("--model", help="existing model folder (default: build the bench model)")
    parser.add_argument("--test-file", help="existing chat test set (default: build one); needs --model")
    parser.add_argument(
        "--out-dir", help="default: bench/out/inference_modes (bench/out/inference_modes_quick with --quick)"
    )
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument(
        "--max-new-tokens", type=int, default=4, help="generate mode (config infer.max_new_tokens)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (see train_throughput.py --threads)"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if bool(args.model) != bool(args.test_file):
        print("inference_modes: give --model and --test-file together, or neither", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    plan = dict(QUICK if args.quick else FULL)
    repeats = args.repeats or plan["repeats"]
    batch_size = args.batch_size or plan["batch_size"]
    default = (
        Path(__file__).resolve().parent
        / "out"
        / ("inference_modes_quick" if args.quick else "inference_modes")
    )
    out_dir = Path(args.out_dir) if args.out_dir else default
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.model:
        model_dir, test_file = Path(args.model), Path(args.test_file)
    else:
        model_dir, test_file = build_fixtures(out_dir, plan)
    runs = measure(model_dir, test_file, batch_size, args.max_new_tokens, repeats)
    record = {
        "date": datetime.date.today().isoformat(),
        "command": " ".join(sys.argv),
        "model": str(model_dir),
        "test_file": str(test_file),
        "batch_size": batch_size,
        "max_new_tokens": args.max_new_tokens,
        "threads": args.threads,
        "load_average": os.getloadavg(),
        "runs": runs,
        "score_over_generate": paired_speedup(runs),
    }
    (out_dir / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    print(render(runs, batch_size, args.max_new_tokens))
    return 0


if __name__ == "__main__":
    sys.exit(main())

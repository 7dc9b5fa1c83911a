"""Training throughput and memory of the weighted trainer against TRL, a naive loss and LLaMA-Factory.

Every run is a fresh subprocess (clean peak RSS) of bench/train_worker.py (project venv) or
bench/llamafactory_worker.py (LLaMA-Factory's venv, built by bench/setup_llamafactory.sh), on the same model
(Qwen2 architecture, realistic vocabulary) and the same chat examples. Contenders are interleaved, in an order
rotated every repeat, so that load from other processes hits all of them alike; figures are medians.

    .venv/bin/python bench/train_throughput.py            # the full run recorded in BENCHMARKS.md
    .venv/bin/python bench/train_throughput.py --quick    # smoke run, about two minutes
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import bench_fixtures

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent

CONTENDERS = ("weighted", "plain", "plain_compact", "naive_func", "naive_subclass", "llamafactory")
REFERENCE = "weighted"
LLAMAFACTORY_PYTHON = BENCH / ".venv-llamafactory" / "bin" / "python"
# 4,096 tokens a step at both lengths: 8 examples of up to 512 tokens, or one of up to 4,096
FULL = {
    "lengths": [512, 4096],
    "batch_sizes": {512: 8, 4096: 1},
    "steps": 4,
    "repeats": 3,
    "shape": bench_fixtures.BENCH_SHAPE,
    "vocab_rows": 32768,
    "n_corpus": 600,
}
QUICK = {
    "lengths": [256],
    "batch_sizes": {256: 4},
    "steps": 2,
    "repeats": 1,
    "shape": bench_fixtures.QUICK_SHAPE,
    "vocab_rows": 32768,
    "n_corpus": 200,
}


def interleaved_schedule(
    contenders: list[str], lengths: list[int], repeats: int
) -> list[tuple[int, int, str]]:
    """Return (repeat, length, contender) runs: all lengths each repeat, the contender order rotated."""
    runs = []
    for repeat in range(repeats):
        shift = repeat % len(contenders)
        order = contenders[shift:] + contenders[:shift]
        runs.extend((repeat, length, contender) for length in lengths for contender in order)
    return runs


def median_of(results: list[dict], key: str) -> float | None:
    """Return the median of a key over runs that have it, or None when none has."""
    values = [result[key] for result in results if result.get(key) is not None]
    return statistics.median(values) if values else None


def summarise(results: list[dict]) -> dict[int, dict[str, dict]]:
    """Return length -> contender -> medians of tokens/s, step time, peak RSS and padding waste."""
    table: dict[int, dict[str, dict]] = {}
    for result in results:
        table.setdefault(result["max_length"], {}).setdefault(result["contender"], []).append(result)
    return {
        length: {
            contender: {
                "runs": len(runs),
                "failed": sum("error" in run for run in runs),
                **{
                    key: median_of([r for r in runs if "error" not in r], key)
                    for key in (
                        "tokens_per_s",
                        "median_step_s",
                        "peak_rss_train_mb",
                        "peak_rss_mb",
                        "rss_before_train_mb",
                        "padding_waste",
                    )
                },
            }
            for contender, runs in by_contender.items()
        }
        for length, by_contender in sorted(table.items())
    }


def paired_ratio(
    results: list[dict], numerator: str, denominator: str, length: int, key: str
) -> float | None:
    """Return the median over repeats of numerator's key / denominator's key, each pair from one repeat."""
    by_repeat: dict[int, dict[str, float]] = {}
    for result in results:
        if result["max_length"] == length and "error" not in result and result.get(key):
            by_repeat.setdefault(result["repeat"], {})[result["contender"]] = result[key]
    ratios = [
        pair[numerator] / pair[denominator]
        for pair in by_repeat.values()
        if numerator in pair and denominator in pair
    ]
    return statistics.median(ratios) if ratios else None


def worker_command(
    contender: str,
    model_dir: Path,
    data_dir: Path,
    length: int,
    batch_size: int,
    steps: int,
    threads: int,
    llamafactory_python: Path,
) -> list[str]:
    """Return the command line of one measured run."""
    common = [
        "--batch-size",
        str(batch_size),
        "--steps",
        str(steps),
        "--max-length",
        str(length),
        "--threads",
        str(threads),
    ]
    if contender == "llamafactory":
        return [
            str(llamafactory_python),
            str(BENCH / "llamafactory_worker.py"),
            "--model",
            str(model_dir),
            "--dataset-dir",
            str(data_dir / "llamafactory"),
            "--dataset",
            f"bench_{length}",
            *common,
        ]
    return [
        sys.executable,
        str(BENCH / "train_worker.py"),
        "--contender",
        contender,
        "--model",
        str(model_dir),
        "--train-file",
        str(data_dir / f"train_{length}.jsonl"),
        *common,
    ]


def run_worker(command: list[str], log_path: Path, timeout_s: float, threads: str) -> dict:
    """Return the RESULT json a worker printed, or {"error": ...} with the tail of its log."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": str(BENCH),
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
    }
    started = time.perf_counter()
    try:
        process = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout_s, cwd=REPO
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    log_path.write_text(process.stdout + "\n--- stderr ---\n" + process.stderr)
    for line in process.stdout.splitlines():
        if line.startswith("RESULT "):
            return {**json.loads(line[len("RESULT ") :]), "wall_s": time.perf_counter() - started}
    tail = "\n".join(process.stderr.strip().splitlines()[-5:])
    return {"error": f"exit {process.returncode}: {tail}"}


LOG_NAME = re.compile(r"^(?P<contender>[a-z_]+)_(?P<length>\d+)_r(?P<repeat>\d+)\.log$")


def results_from_logs(log_dir: Path) -> list[dict]:
    """Return the run results recorded in the per-run logs of an earlier (possibly interrupted) run."""
    results = []
    for path in sorted(log_dir.glob("*.log")):
        match = LOG_NAME.match(path.name)
        if match is None:
            continue
        found = [line for line in path.read_text().splitlines() if line.startswith("RESULT ")]
        result = (
            json.loads(found[-1][len("RESULT ") :]) if found else {"error": f"no RESULT line in {path.name}"}
        )
        result.update(
            repeat=int(match["repeat"]), max_length=int(match["length"]), contender=match["contender"]
        )
        results.append(result)
    return results


def build_fixtures(out_dir: Path, plan: dict) -> tuple[Path, Path]:
    """Return (model folder, data folder) after building the model and one training set per length."""
    from transformers import AutoTokenizer

    corpus_path, papers, _ = bench_fixtures.write_corpus(out_dir, plan["n_corpus"], 10, seed=7)
    model_dir = bench_fixtures.build_model(
        out_dir / "model", corpus_path, plan["shape"], plan["vocab_rows"], seed=0
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    data_dir = out_dir / "data"
    for length in plan["lengths"]:
        n_examples = plan["batch_sizes"][length] * plan["steps"]
        rows = bench_fixtures.chat_rows(papers, tokenizer, n_examples, length, seed=length)
        bench_fixtures.write_jsonl(data_dir / f"train_{length}.jsonl", rows)
        bench_fixtures.write_llamafactory_dataset(data_dir / "llamafactory", f"bench_{length}", rows)
    return model_dir, data_dir


def format_mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def render(summary: dict, results: list[dict], contenders: list[str]) -> str:
    """Return the Markdown tables: medians per contender and length, then ratios of the reference to each."""
    lines = [
        "| length | contender | runs | tokens/s | step s | peak RSS in training (MiB) | peak RSS (MiB) | "
        "padding waste |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for length, by_contender in summary.items():
        for contender in contenders:
            row = by_contender.get(contender)
            if row is None:
                continue
            ok = row["runs"] - row["failed"]
            tokens = "-" if row["tokens_per_s"] is None else f"{row['tokens_per_s']:,.0f}"
            step = "-" if row["median_step_s"] is None else f"{row['median_step_s']:.2f}"
            waste = "-" if row["padding_waste"] is None else f"{row['padding_waste']:.1%}"
            lines.append(
                f"| {length} | {contender} | {ok}/{row['runs']} | {tokens} | {step} | "
                f"{format_mb(row['peak_rss_train_mb'])} | {format_mb(row['peak_rss_mb'])} | {waste} |"
            )
    lines += [
        "",
        "Paired ratios (median over repeats of the ratio within one repeat):",
        "",
        "| length | ratio | tokens/s | peak RSS in training |",
        "|---:|---|---:|---:|",
    ]
    pairs = [(REFERENCE, other) for other in contenders if other != REFERENCE]
    for length in summary:
        for numerator, denominator in pairs:
            speed = paired_ratio(results, numerator, denominator, length, "tokens_per_s")
            memory = paired_ratio(results, numerator, denominator, length, "peak_rss_train_mb")
            if speed is None and memory is None:
                continue
            lines.append(
                f"| {length} | {numerator} / {denominator} | "
                f"{'-' if speed is None else f'{speed:.3f}'} | {'-' if memory is None else f'{memory:.3f}'} |"
            )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one short length, 2 steps, 1 repeat")
    parser.add_argument(
        "--out-dir",
        help="default: bench/out/train_throughput (bench/out/train_throughput_quick with --quick)",
    )
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--repeats", type=int, help="default: 3 (1 with --quick)")
    parser.add_argument(
        "--steps", type=int, help="optimizer steps per run, the first one a warm-up (default 4)"
    )
    # One thread: on a 2-core machine shared with other jobs, two OpenMP threads spin at every barrier while
    # the other core is taken, which made small kernels 10-50x slower and the timings erratic
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (default %(default)s)")
    parser.add_argument("--llamafactory-python", default=str(LLAMAFACTORY_PYTHON))
    parser.add_argument("--timeout-s", type=float, default=1800, help="per run")
    parser.add_argument(
        "--from-logs",
        action="store_true",
        help="measure nothing: summarise the per-run logs already in --out-dir/logs",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    plan["repeats"] = args.repeats or plan["repeats"]
    plan["steps"] = args.steps or plan["steps"]
    if plan["steps"] < 2:
        print("train_throughput: --steps must be >= 2 (one warm-up step is left out)", file=sys.stderr)
        return 2
    contenders = list(args.contenders)
    llamafactory_python = Path(args.llamafactory_python)
    if "llamafactory" in contenders and not llamafactory_python.exists():
        print(
            f"train_throughput: {llamafactory_python} not found; run bench/setup_llamafactory.sh. "
            "Measuring without LLaMA-Factory.",
            file=sys.stderr,
        )
        contenders.remove("llamafactory")
    default = (
        Path(__file__).resolve().parent
        / "out"
        / ("train_throughput_quick" if args.quick else "train_throughput")
    )
    out_dir = Path(args.out_dir) if args.out_dir else default
    if args.from_logs:
        results = results_from_logs(out_dir / "logs")
        present = [c for c in CONTENDERS if any(r["contender"] == c for r in results)]
        print(render(summarise(results), results, present))
        return 0
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    model_dir, data_dir = build_fixtures(out_dir, plan)
    results = []
    for repeat, length, contender in interleaved_schedule(contenders, plan["lengths"], plan["repeats"]):
        command = worker_command(
            contender,
            model_dir,
            data_dir,
            length,
            plan["batch_sizes"][length],
            plan["steps"],
            args.threads,
            llamafactory_python,
        )
        result = run_worker(
            command,
            out_dir / "logs" / f"{contender}_{length}_r{repeat}.log",
            args.timeout_s,
            str(args.threads),
        )
        result.update(repeat=repeat, max_length=length, contender=contender)
        results.append(result)
        shown = f"{result['tokens_per_s']:,.0f} tokens/s" if "error" not in result else result["error"]
        print(
            f"[{len(results)}] repeat {repeat} length {length} {contender}: {shown}",
            file=sys.stderr,
            flush=True,
        )
    summary = summarise(results)
    record = {
        "date": datetime.date.today().isoformat(),
        "command": " ".join(sys.argv),
        "plan": plan,
        "contenders": contenders,
        "load_average": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "results": results,
        "summary": summary,
    }
    (out_dir / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    print(render(summary, results, contenders))
    failed = [r for r in results if "error" in r]
    for result in failed:
        print(
            f"FAILED {result['contender']} length {result['max_length']}: {result['error']}", file=sys.stderr
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

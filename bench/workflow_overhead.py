"""Snakemake's own cost: dry-run time of the 19-experiment grid, and per-job overhead of a local run.

Both run the real `snakemake` CLI on a throw-away copy of the workflow (bench/snakemake_runner.py).
  dry run:   `snakemake -n` on config/config.yaml (production) and on the demo overlay, cold then warm
  local run: one experiment of the demo (make_corpus -> ... -> evaluate) with --cores 1, so jobs run one
             after another; overhead = total wall time - the sum of the jobs' own times, each from its start
             to its finish line in Snakemake's log (the `benchmark:` files under benchmarks/, where a rule
             has one, are shown beside it as a check)

    .venv/bin/python bench/workflow_overhead.py           # the run recorded in BENCHMARKS.md
    .venv/bin/python bench/workflow_overhead.py --quick   # dry runs only
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import snakemake_runner  # bench/snakemake_runner.py: the CLI on a throw-away copy of the workflow

REPO = Path(__file__).resolve().parents[1]


DEMO = ("--configfile", "config/demo.yaml")
TARGET_EXPERIMENT = "baseline_gamma1.0_prop1_2"
# A smaller demo for the local run: fewer papers and one epoch keep it to minutes; the job graph is unchanged.
SMALL_DEMO_OVERLAY = {"data": {"max_examples": 200}, "train": {"num_train_epochs": 1}}
TIMESTAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
JOB_START = re.compile(r"^(?:local)?rule (\w+):$")
JOB_FINISHED = re.compile(r"^Finished jobid: \d+ \(Rule: (\w+)\)$")


def benchmark_seconds(path: Path) -> float:
    """Return the wall-clock seconds (column `s`) of a Snakemake benchmark TSV, summed over its repeats."""
    with path.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no 's' column)")
    return sum(float(row["s"]) for row in rows)


def collect_benchmarks(folder: Path) -> dict[str, float]:
    """Return {benchmark file relative to folder: seconds} for every .tsv under folder."""
    if not folder.is_dir():
        return {}
    return {str(path.relative_to(folder)): benchmark_seconds(path) for path in sorted(folder.rglob("*.tsv"))}


def job_spans(log_text: str) -> list[dict]:
    """Return [{rule, start, end}] (datetimes, 1 s resolution) of the jobs in a Snakemake log, in start order.

    Snakemake prints a `[timestamp]` line before each `rule X:` (start) and `Finished jobid: N (Rule: X)`.
    """
    spans: list[dict] = []
    open_jobs: dict[str, list[dict]] = {}
    stamp = None
    for line in log_text.splitlines():
        line = line.strip()
        if match := TIMESTAMP.match(line):
            stamp = datetime.datetime.strptime(" ".join(match.group(1).split()), "%a %b %d %H:%M:%S %Y")
        elif (match := JOB_START.match(line)) and stamp is not None:
            span = {"rule": match.group(1), "start": stamp, "end": None}
            spans.append(span)
            open_jobs.setdefault(span["rule"], []).append(span)
        elif (match := JOB_FINISHED.match(line)) and open_jobs.get(match.group(1)):
            open_jobs[match.group(1)].pop(0)["end"] = stamp
    return spans


def overhead(wall_s: float, job_seconds: list[float], n_jobs: int) -> dict[str, float]:
    """Return total/summed/overhead seconds and the overhead per job of a serial (--cores 1) run."""
    summed = sum(job_seconds)
    return {
        "wall_s": wall_s,
        "jobs_s": summed,
        "overhead_s": wall_s - summed,
        "n_jobs": n_jobs,
        "overhead_per_job_s": (wall_s - summed) / n_jobs if n_jobs else 0.0,
    }


def time_snakemake(workdir: Path, *args: str) -> tuple[float, str]:
    """Return (wall seconds, combined output) of one snakemake invocation in workdir."""
    started = time.perf_counter()
    process = snakemake_runner.run_snakemake(workdir, *args, timeout_s=3600)
    return time.perf_counter() - started, process.stdout + process.stderr


def dry_runs(workdir: Path, repeats: int) -> dict[str, dict]:
    """Return, per config, cold and warm `snakemake -n` wall times and job counts; `--version` as the floor.

    The configs alternate (A B, B A, ...) so load from other processes hits both alike; `snakemake --version`
    times the interpreter start-up and imports that every invocation pays before reading the workflow.
    """
    configs = {
        "snakemake --version (start-up floor)": ("--version",),
        "production (config/config.yaml)": ("-n",),
        "demo (+ config/demo.yaml)": ("-n", *DEMO),
    }
    names = list(configs)
    times: dict[str, list[float]] = {name: [] for name in names}
    outputs: dict[str, str] = {}
    for repeat in range(repeats + 1):
        for name in names if repeat % 2 == 0 else names[::-1]:
            seconds, outputs[name] = time_snakemake(workdir, *configs[name])
            times[name].append(seconds)
    results = {}
    for name in names:
        jobs = snakemake_runner.planned_jobs(outputs[name])
        results[name] = {
            "cold_s": times[name][0],
            "warm_median_s": statistics.median(times[name][1:]),
            "warm_s": times[name][1:],
            "jobs": sum(jobs.values()),
            "by_rule": dict(jobs),
        }
    return results


def local_run(workdir: Path) -> dict:
    """Return the overhead figures of one demo experiment run serially in workdir."""
    overlay = snakemake_runner.write_config_overlay(workdir / "small_demo.yaml", SMALL_DEMO_OVERLAY)
    target = f"results/metrics/{TARGET_EXPERIMENT}.json"
    # One --configfile with both files: the option takes a list, and a second --configfile replaces the first
    args = ("--profile", "profiles/local", *DEMO, str(overlay), "--cores", "1", target)
    planned = snakemake_runner.dry_run_jobs(workdir, *args)
    wall_s, output = time_snakemake(workdir, *args)
    (workdir / "local_run.log").write_text(output)
    benchmarks = collect_benchmarks(workdir / "benchmarks")
    spans = job_spans(output)
    if any(span["end"] is None for span in spans) or len(spans) != sum(planned.values()):
        raise RuntimeError(
            f"could not read {sum(planned.values())} finished jobs from the log ({len(spans)} found); "
            f"see {workdir / 'local_run.log'}"
        )
    job_seconds = [(span["end"] - span["start"]).total_seconds() for span in spans]
    benchmarked_rules = {name.split("/")[0] for name in benchmarks}
    return {
        "target": target,
        "planned_jobs": dict(planned),
        "jobs": [
            {"rule": span["rule"], "seconds": seconds}
            for span, seconds in zip(spans, job_seconds, strict=True)
        ],
        "rules_without_benchmark": sorted(set(planned) - benchmarked_rules),
        "benchmarks_s": benchmarks,
        **overhead(wall_s, job_seconds, len(spans)),
    }


def render(dry: dict[str, dict], local: dict | None) -> str:
    """Return the Markdown tables."""
    lines = ["| config | jobs | `snakemake -n` cold (s) | warm, median (s) |", "|---|---:|---:|---:|"]
    for name, row in dry.items():
        lines.append(f"| {name} | {row['jobs']} | {row['cold_s']:.2f} | {row['warm_median_s']:.2f} |")
    if local is not None:
        by_rule = ", ".join(f"{rule} {count}" for rule, count in local["planned_jobs"].items())
        lines += [
            "",
            f"Local run, --cores 1, target {local['target']} (small demo: {SMALL_DEMO_OVERLAY}):",
            "",
            "| figure | value |",
            "|---|---:|",
            f"| jobs | {local['n_jobs']} ({by_rule}) |",
            f"| total wall time | {local['wall_s']:.1f} s |",
            f"| sum of the jobs' own times (start to finish in the log, 1 s resolution) | "
            f"{local['jobs_s']:.0f} s |",
            f"| overhead (wall - sum): start-up, DAG, scheduling, gaps | {local['overhead_s']:.1f} s |",
            f"| overhead per job | {local['overhead_per_job_s']:.2f} s |",
            "",
            "| job | own time (log) | `benchmark:` file |",
            "|---|---:|---:|",
        ]
        for job in local["jobs"]:
            bench_s = next(
                (s for name, s in local["benchmarks_s"].items() if name.split("/")[0] == job["rule"]), None
            )
            shown = "-" if bench_s is None else f"{bench_s:.1f} s"
            lines.append(f"| {job['rule']} | {job['seconds']:.0f} s | {shown} |")
        if local["rules_without_benchmark"]:
            missing = ", ".join(local["rules_without_benchmark"])
            lines.append(f"\nRules of the run without a `benchmark:` directive: {missing}")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="dry runs only, one warm repeat")
    parser.add_argument(
        "--repeats", type=int, default=3, help="warm dry runs per config (default %(default)s)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="run in --out-dir/wf and keep it (its model and test set feed inference_modes.py)",
    )
    parser.add_argument(
        "--out-dir",
        help="default: bench/out/workflow_overhead (bench/out/workflow_overhead_quick with --quick)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    default = (
        Path(__file__).resolve().parent
        / "out"
        / ("workflow_overhead_quick" if args.quick else "workflow_overhead")
    )
    out_dir = Path(args.out_dir) if args.out_dir else default
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-workflow-") as folder:
        workdir = Path(folder) / "wf"
        if args.keep:
            workdir = out_dir / "wf"
            shutil.rmtree(workdir, ignore_errors=True)
        snakemake_runner.copy_workflow(workdir)
        dry = dry_runs(workdir, 1 if args.quick else args.repeats)
        local = None if args.quick else local_run(workdir)
    record = {
        "date": datetime.date.today().isoformat(),
        "command": " ".join(sys.argv),
        "load_average": os.getloadavg(),
        "dry_runs": dry,
        "local_run": local,
    }
    (out_dir / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    print(render(dry, local))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The whole demo before and after a change, one after the other in one run: jobs, wall time, and the sum of
the jobs' own times (start to finish in Snakemake's log), per rule.

    .venv/bin/python bench/demo_overhead.py --before e1c2587     # the run recorded in BENCHMARKS.md

The `--before` commit is exported with `git archive` into a temporary folder; its own `wlf` package comes first
on PYTHONPATH there, so its Snakefile and scripts run their own code. The working tree is the "after".
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import snakemake_runner
import workflow_overhead

REPO = Path(__file__).resolve().parents[1]
DEMO = ("--profile", "profiles/local", "--configfile", "config/demo.yaml")


def export_commit(commit: str, destination: Path) -> Path:
    """Return destination after writing the workflow's files of a commit into it (git archive)."""
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return destination


def run_demo(workdir: Path) -> dict:
    """Return the figures of one full demo run in workdir: jobs, wall, own time of the jobs, by rule."""
    env = {**snakemake_runner.workflow_env(), "PYTHONPATH": str(workdir / "workflow" / "scripts")}
    started = time.perf_counter()
    process = subprocess.run(
        [str(snakemake_runner.VENV_BIN / "snakemake"), *DEMO],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=7200,
    )
    wall_s = time.perf_counter() - started
    output = process.stdout + process.stderr
    (workdir / "demo_run.log").write_text(output)
    if process.returncode != 0:
        raise RuntimeError(f"the demo failed in {workdir}; see {workdir / 'demo_run.log'}")
    spans = workflow_overhead.job_spans(output)
    by_rule: dict[str, list[float]] = defaultdict(list)
    for span in spans:
        by_rule[span["rule"]].append((span["end"] - span["start"]).total_seconds())
    jobs_s = sum(sum(seconds) for seconds in by_rule.values())
    return {
        "jobs": len(spans),
        "wall_s": wall_s,
        "jobs_s": jobs_s,
        "concurrency": jobs_s / wall_s,
        "by_rule": {rule: {"jobs": len(s), "seconds": sum(s)} for rule, s in sorted(by_rule.items())},
    }


def render(runs: dict[str, dict]) -> str:
    """Return the Markdown tables: the totals side by side, then each rule's jobs and own time."""
    names = list(runs)
    lines = [f"| | {' | '.join(names)} |", "|---|" + "---:|" * len(names)]
    rows = {
        "jobs": lambda r: f"{r['jobs']}",
        "wall time": lambda r: f"{r['wall_s'] / 60:.1f} min ({r['wall_s']:.0f} s)",
        "sum of the jobs' own times": lambda r: f"{r['jobs_s']:.0f} s",
        "mean jobs running at once (sum / wall)": lambda r: f"{r['concurrency']:.2f}",
        "own time per job": lambda r: f"{r['jobs_s'] / r['jobs']:.1f} s",
    }
    for label, value in rows.items():
        lines.append(f"| {label} | {' | '.join(value(runs[name]) for name in names)} |")
    rules = sorted({rule for run in runs.values() for rule in run["by_rule"]})
    lines += [
        "",
        f"| rule | {' | '.join(f'{name}: jobs, own s' for name in names)} |",
        "|---|" + "---:|" * len(names),
    ]
    for rule in rules:
        cells = [
            f"{run['by_rule'][rule]['jobs']}, {run['by_rule'][rule]['seconds']:.0f}"
            if rule in run["by_rule"]
            else "–"
            for run in runs.values()
        ]
        lines.append(f"| {rule} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit to compare the working tree with")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "demo_overhead.json"))
    args = parser.parse_args(argv)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as folder:
        before = export_commit(args.before, Path(folder) / "before")
        runs[f"before ({args.before})"] = run_demo(before)
        after = snakemake_runner.copy_workflow(Path(folder) / "after")
        runs["after (working tree)"] = run_demo(after)
    record = {"date": datetime.date.today().isoformat(), "load_average": os.getloadavg(), "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(render(runs))
    print(f"\nload average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run the real Snakemake CLI on a throw-away copy of the workflow, and read its job counts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# What a user's clone holds that the workflow reads; results, logs and .snakemake stay behind.
WORKFLOW_PARTS = ("Snakefile", "rules", "workflow", "config", "profiles", "envs", "report")
JOB_STATS_ROW = re.compile(r"^(\w+)\s+(\d+)$")


def copy_workflow(destination: Path) -> Path:
    """Return destination after copying the workflow's source files into it."""
    destination.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, destination / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, destination / part)
    return destination


def workflow_env() -> dict[str, str]:
    """Return the environment for a Snakemake run: the venv first on PATH, no hub access."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def run_snakemake(
    workdir: Path, *args: str, check: bool = True, timeout_s: float = 1800
) -> subprocess.CompletedProcess:
    """Return the finished `snakemake` process run in workdir; raise with its output when check fails."""
    command = [str(VENV_BIN / "snakemake"), *args]
    process = subprocess.run(
        command, cwd=workdir, env=workflow_env(), capture_output=True, text=True, timeout=timeout_s
    )
    if check and process.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({process.returncode}):\n{process.stdout[-6000:]}\n{process.stderr[-6000:]}"
        )
    return process


def planned_jobs(output: str) -> Counter:
    """Return rule -> job count from the 'Job stats' table a dry run prints."""
    counts: Counter = Counter()
    in_table = False
    for line in output.splitlines():
        stripped = line.strip()
        if stripped.startswith("Job stats"):
            in_table = True
            continue
        if not in_table:
            continue
        match = JOB_STATS_ROW.match(stripped)
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
        elif stripped.startswith("total"):
            break
    return counts


def dry_run_jobs(workdir: Path, *args: str) -> Counter:
    """Return the jobs a dry run in workdir would execute, by rule."""
    # --quiet comes last: it ends a --configfile list that args may end with.
    process = run_snakemake(workdir, "-n", *args, "--quiet", "rules")
    return planned_jobs(process.stdout + process.stderr)


def write_config_overlay(path: Path, overlay: dict) -> Path:
    """Return path after writing a config overlay for --configfile."""
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    return path


def load_config(name: str = "config.yaml") -> dict:
    """Return one of the repository's config files as a dict."""
    return yaml.safe_load((REPO / "config" / name).read_text())

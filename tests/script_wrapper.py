"""Run a Python script as `python SCRIPT ARGS...` would, from a test-only wrapper that changed something first
(tests/fsdp_on_cpu.py, tests/paced_training.py)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def run_as_main(argv: list[str]) -> None:
    """Run argv[0] as __main__ with argv[1:] as its arguments and its folder first on sys.path."""
    script = Path(argv[0]).resolve()
    sys.argv = [str(script), *argv[1:]]
    sys.path.insert(0, str(script.parent))
    runpy.run_path(str(script), run_name="__main__")

"""JSON and JSONL files: numbered rows with errors naming file:line, and atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def numbered_rows(path: str | Path, error: type[Exception]) -> Iterator[tuple[int, str, Any]]:
    """Yield (line number, "file:line", parsed JSON) of each non-blank line, raising error on invalid JSON."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as decode_error:
                raise error(f"{where}: not valid JSON ({decode_error.msg})") from None
            yield line_number, where, row


def write_text(path: str | Path, text: str) -> None:
    """Write text to path through a temporary file in the same folder, so no half-written file remains."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    """Write one JSON object a line, atomically."""
    write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def write_json(path: str | Path, value) -> None:
    """Write value as indented JSON (NaN is refused: callers turn it into null), atomically."""
    write_text(path, json.dumps(value, indent=2, allow_nan=False) + "\n")

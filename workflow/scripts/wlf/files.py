"""Files between stages: numbered JSONL rows with errors naming file:line, atomic writes, hashes, folder swaps."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

# renameat2(2) flag: swap two paths in one step (Linux >= 3.15)
RENAME_EXCHANGE = 2
AT_FDCWD = -100


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


def file_sha256(path: str | Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(path: str | Path) -> str:
    """Return the SHA-256 of a file, or of a folder's files (their sorted relative paths and contents)."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0{file_sha256(file)}\n".encode())
    return digest.hexdigest()


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step with Linux renameat2; False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None
    if libc is None or not hasattr(libc, "renameat2"):
        return False
    result = libc.renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE)
    return result == 0


def replace_dir(source: str | Path, target: str | Path) -> None:
    """Move a finished folder into place, replacing an older one: a reader sees the old or the new, whole.

    With an older folder in place the two are exchanged atomically (renameat2) and the old one deleted; where
    the system cannot exchange, the old one is renamed aside first (a moment without either).
    """
    source, target = Path(source), Path(target)
    if not target.exists():
        os.replace(source, target)
        return
    if _exchange(source, target):
        shutil.rmtree(source)
        return
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(target, old)
    os.replace(source, target)
    shutil.rmtree(old)

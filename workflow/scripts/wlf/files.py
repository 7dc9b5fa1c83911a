"""Files between stages: UTF-8 text and JSONL rows with errors naming file:line, output paths checked before any
work, atomic writes of one file or of a set of files, hashes, and the atomic folder swap."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from wlf.errors import InputError

# renameat2(2) flag: swap two paths in one step (Linux >= 3.15)
RENAME_EXCHANGE = 2
AT_FDCWD = -100


class TextFileError(InputError):
    """A file that cannot be read as text or written where asked; the message names the file (and line)."""


def read_utf8(path: str | Path) -> str:
    """Return a file's text, raising TextFileError naming the file, line and byte when it is not UTF-8."""
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise TextFileError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x} at column {column}); "
            "save the file as UTF-8"
        ) from None


def numbered_rows(path: str | Path, error: type[Exception]) -> Iterator[tuple[int, str, Any]]:
    """Yield (line number, "file:line", parsed JSON) of each non-blank line, raising error on invalid JSON."""
    path = Path(path)
    try:
        text = read_utf8(path)
    except TextFileError as decode_error:
        raise error(str(decode_error)) from None
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{line_number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as decode_error:
            raise error(f"{where}: not valid JSON ({decode_error.msg})") from None
        yield line_number, where, row


def check_output_paths(files: Iterable[str | Path] = (), folders: Iterable[str | Path] = ()) -> None:
    """Raise TextFileError when an output cannot be written where asked, before any work is done.

    A file output must not be an existing folder, a folder output not an existing file, and no parent may be a
    file. Nothing is moved or deleted to make room.
    """
    for path, want_folder in [*((Path(p), False) for p in files), *((Path(p), True) for p in folders)]:
        if want_folder and path.exists() and not path.is_dir():
            raise TextFileError(
                f"{path} is an existing file, but a folder is written there; move it away first"
            )
        if not want_folder and path.is_dir():
            raise TextFileError(
                f"{path} is an existing folder, but a file is written there; move it away first"
            )
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                raise TextFileError(
                    f"{parent} is a file, but {path} is written inside it; move it away first"
                )


def _umask() -> int:
    """Return the process's umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _stage(path: Path, data: str | bytes) -> Path:
    """Write data to a temporary file beside path, with the permissions the umask gives, and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
        # mkstemp creates the file 0600; an output is shared like any other file the user writes
        os.chmod(temp, 0o666 & ~_umask())
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return Path(temp)


def _commit(staged: list[tuple[Path, Path]]) -> None:
    """Move staged temporaries into place, all or none: each previous version is kept as a hard link until
    every new file is in place, and restored if one fails."""
    done: list[tuple[Path, Path | None]] = []
    try:
        for temp, path in staged:
            backup = None
            if path.is_file():
                backup = path.with_name(f".{path.name}.previous")
                backup.unlink(missing_ok=True)
                os.link(path, backup)
            os.replace(temp, path)
            done.append((path, backup))
    except BaseException:
        for path, backup in reversed(done):
            if backup is None:
                path.unlink(missing_ok=True)
            else:
                os.replace(backup, path)
        raise
    for _, backup in done:
        if backup is not None:
            backup.unlink(missing_ok=True)


def write_together(contents: Mapping[str | Path, str | bytes]) -> None:
    """Write several files as one set: every one is replaced, or (on any failure) none is."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in contents.items():
            staged.append((_stage(Path(path), data), Path(path)))
        _commit(staged)
    finally:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """Write text to path through a temporary file in the same folder, so no half-written file remains."""
    write_together({path: text})


def jsonl_text(rows: Iterable[dict]) -> str:
    """Return rows as JSON lines, one object a line."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def json_text(value) -> str:
    """Return value as indented JSON (NaN is refused: callers turn it into null)."""
    return json.dumps(value, indent=2, allow_nan=False) + "\n"


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    """Write one JSON object a line, atomically."""
    write_text(path, jsonl_text(rows))


def write_json(path: str | Path, value) -> None:
    """Write value as indented JSON, atomically."""
    write_text(path, json_text(value))


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

"""Paper sources: read alpaca, chat-messages, tabular (CSV/JSONL/Parquet) or load_from_disk data into Papers."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wlf import labels
from wlf.data.leakage import normalise_title
from wlf.errors import InputError
from wlf.files import TextFileError, read_utf8, tree_sha256

FORMATS = ("auto", "alpaca", "messages", "tabular", "hf_disk")
TABULAR_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
MAX_ROWS_SHOWN = 5
# sharegpt's `conversations` speak of human/gpt; map them onto the chat roles.
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}


class DataError(InputError):
    """A source that cannot become a dataset; the message names the file, the rows and what is wrong."""


@dataclass(frozen=True)
class SourceSettings:
    format: str = "auto"
    text_fields: tuple[str, ...] = ("title", "abstract")
    title_field: str = "title"
    label_field: str = "decision"
    id_field: str = "id"
    drop_unknown_labels: bool = False


@dataclass(frozen=True)
class Paper:
    row: int  # 1-based record number in its source file
    paper_id: str
    has_source_id: bool  # False when the id is our hash because the source had none
    title: str
    text: str
    label: str  # "Accept" | "Reject"


@dataclass(frozen=True)
class RawRecord:
    row: int
    paper_id: str | None
    title: str
    text: str
    label: object


@dataclass
class LoadedSource:
    path: str
    format: str
    n_rows: int
    papers: list[Paper]
    dropped: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- small helpers


def _rows_text(rows: list[int]) -> str:
    """Return 'rows 3, 7, 9' (first few) plus how many more there are."""
    shown = ", ".join(str(row) for row in rows[:MAX_ROWS_SHOWN])
    more = f" (and {len(rows) - MAX_ROWS_SHOWN} more)" if len(rows) > MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _clean_text(value) -> str:
    """Return a cell as stripped text; None/NaN become the empty string."""
    if labels.is_missing(value):
        return ""
    return str(value).strip()


def _clean_id(value) -> str | None:
    """Return an id cell as text, or None when the cell is empty (ints stay ints: 12, not 12.0)."""
    if labels.is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def stable_paper_id(title: str, text: str) -> str:
    """Return an id derived from the normalised title and text, for papers whose source has no id."""
    key = normalise_title(title) + "\n" + " ".join(text.split())
    return "sha-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def title_from_text(text: str) -> str:
    """Return the paper's title: its 'Title: ...' line if it has one, else its first non-empty line."""
    # a 'Title:' line wins over the first line, which in chat/alpaca sources is often a shared instruction
    match = re.search(r"^\s*title\s*:\s*(\S.*)$", text, flags=re.IGNORECASE | re.MULTILINE)
    if match:
        return match.group(1).strip()[:300]
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def source_sha256(path: str | Path) -> str:
    """Return the sha256 of a source file, or of a load_from_disk folder's files."""
    return tree_sha256(path)


# ---------------------------------------------------------------- reading records


def _read_text(path: Path) -> str:
    """Return a text source, raising DataError naming the file, line and byte of a non-UTF-8 byte."""
    try:
        return read_utf8(path)
    except TextFileError as error:
        raise DataError(str(error)) from None


def _read_json_records(path: Path) -> list[tuple[int, dict]]:
    """Return (row, record) pairs of a JSON list file or a JSON-lines file; rows count records from 1."""
    text = _read_text(path)
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}: not valid JSON ({error})") from None
        records = list(enumerate(data, start=1))
    else:
        records = []
        for line_number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((line_number, json.loads(line)))
            except json.JSONDecodeError as error:
                raise DataError(f"{path}: line {line_number} is not valid JSON ({error})") from None
    bad = [row for row, record in records if not isinstance(record, dict)]
    if bad:
        raise DataError(f"{path}: {_rows_text(bad)} are not JSON objects")
    return records


def _read_table_records(path: Path, id_field: str) -> list[tuple[int, dict]]:
    """Return (row, record) pairs of a CSV/TSV/Parquet table; rows count data rows from 1."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq"):
        _read_text(path)  # a decoding error then names its line, which pandas' message does not
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            # ids stay text so that '007' and '12' are not turned into numbers
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype={id_field: str})
    except (ValueError, OSError) as error:
        raise DataError(f"{path}: cannot read as a table ({error})") from None
    return list(enumerate(frame.to_dict("records"), start=1))


def _read_disk_records(path: Path) -> list[tuple[int, dict]]:
    """Return (row, record) pairs of a `datasets.save_to_disk` folder (one split)."""
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as error:
        raise DataError(f"{path}: not a datasets.save_to_disk folder ({error})") from None
    if isinstance(loaded, datasets.DatasetDict):
        if len(loaded) != 1:
            raise DataError(
                f"{path}: holds splits {sorted(loaded)}; point the source at one split's folder instead"
            )
        loaded = next(iter(loaded.values()))
    return list(enumerate(loaded.to_list(), start=1))


def detect_format(path: str | Path, records: list[tuple[int, dict]] | None = None) -> str:
    """Return the format of a source from its kind (folder, table) or the keys of its first record."""
    path = Path(path)
    if path.is_dir():
        return "hf_disk"
    if path.suffix.lower() in TABULAR_SUFFIXES:
        return "tabular"
    if path.suffix.lower() not in JSON_SUFFIXES:
        raise DataError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; "
            f"use .json/.jsonl/.csv/.tsv/.parquet, a load_from_disk folder, or set data.format"
        )
    if not records:
        return "tabular"
    keys = set(records[0][1])
    if "messages" in keys or "conversations" in keys:
        return "messages"
    if {"instruction", "output"} <= keys:
        return "alpaca"
    return "tabular"


def read_records(path: str | Path, settings: SourceSettings) -> tuple[str, list[RawRecord]]:
    """Return the format used and the raw records (text, title, id, raw label) of a source."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: source file or folder does not exist")
    if settings.format not in FORMATS:
        raise DataError(f"data.format = {settings.format!r} is not one of {', '.join(FORMATS)}")
    if path.is_dir():
        rows = _read_disk_records(path)
    elif path.suffix.lower() in TABULAR_SUFFIXES:
        rows = _read_table_records(path, settings.id_field)
    else:
        rows = _read_json_records(path)
    if not rows:
        raise DataError(f"{path}: holds no records")
    fmt = detect_format(path, rows) if settings.format == "auto" else settings.format
    if fmt in ("tabular", "hf_disk"):
        return fmt, _tabular_records(path, rows, settings)
    if fmt == "alpaca":
        return fmt, [_alpaca_record(row, record, settings) for row, record in rows]
    return fmt, [_messages_record(path, row, record, settings) for row, record in rows]


def _tabular_records(path: Path, rows: list[tuple[int, dict]], settings: SourceSettings) -> list[RawRecord]:
    """Return records of a table whose paper text is the configured text fields, each under its name."""
    columns = set().union(*(record.keys() for _, record in rows))
    for key, role in [(settings.label_field, "label_field")] + [
        (f, "text_fields") for f in settings.text_fields
    ]:
        if key not in columns:
            raise DataError(
                f"{path}: data.{role} {key!r} is not a column; columns are {sorted(map(str, columns))}"
            )
    records = []
    for row, record in rows:
        parts = []
        for name in settings.text_fields:
            value = _clean_text(record.get(name))
            if value:
                parts.append(f"{name.replace('_', ' ').capitalize()}: {value}")
        text = "\n\n".join(parts)
        title = _clean_text(record.get(settings.title_field)) or title_from_text(text)
        records.append(
            RawRecord(
                row, _clean_id(record.get(settings.id_field)), title, text, record.get(settings.label_field)
            )
        )
    return records


def _alpaca_record(row: int, record: Mapping, settings: SourceSettings) -> RawRecord:
    """Return a record of an alpaca row: the paper is `input` (or `instruction` when input is empty)."""
    text = _clean_text(record.get("input")) or _clean_text(record.get("instruction"))
    title = _clean_text(record.get(settings.title_field)) or title_from_text(text)
    return RawRecord(row, _clean_id(record.get(settings.id_field)), title, text, record.get("output"))


def _chat_turns(path: Path, row: int, record: Mapping) -> list[tuple[str, str]]:
    """Return (role, content) turns of an openai-style `messages` or sharegpt-style `conversations` row."""
    if "messages" in record:
        turns = [(str(m.get("role", "")), m.get("content")) for m in record["messages"] or []]
    elif "conversations" in record:
        turns = [
            (SHAREGPT_ROLES.get(str(m.get("from", "")), str(m.get("from", ""))), m.get("value"))
            for m in record["conversations"] or []
        ]
    else:
        raise DataError(f"{path}: row {row} has neither 'messages' nor 'conversations'")
    return [(role, _clean_text(content)) for role, content in turns]


def _messages_record(path: Path, row: int, record: Mapping, settings: SourceSettings) -> RawRecord:
    """Return a record of a chat row: the paper is the last user turn, the label the last assistant turn."""
    turns = _chat_turns(path, row, record)
    users = [content for role, content in turns if role == "user"]
    answers = [content for role, content in turns if role == "assistant"]
    text = users[-1] if users else ""
    title = _clean_text(record.get(settings.title_field)) or title_from_text(text)
    return RawRecord(
        row, _clean_id(record.get(settings.id_field)), title, text, answers[-1] if answers else None
    )


# ---------------------------------------------------------------- validation


def validate_records(
    path: str | Path, fmt: str, records: list[RawRecord], settings: SourceSettings
) -> LoadedSource:
    """Return the Papers of valid records, raising DataError for bad labels, empty texts or duplicate ids."""
    missing = [r.row for r in records if labels.is_missing(r.label)]
    unknown = [
        r for r in records if not labels.is_missing(r.label) and labels.normalise_label(r.label) is None
    ]
    where = f"{path} ({fmt} format, label from {_label_origin(fmt, settings)})"
    if not settings.drop_unknown_labels:
        if missing:
            raise DataError(
                f"{where}: missing label in {_rows_text(missing)}; "
                f"set data.drop_unknown_labels: true to drop such rows"
            )
        if unknown:
            shown = ", ".join(f"row {r.row}: {r.label!r}" for r in unknown[:MAX_ROWS_SHOWN])
            raise DataError(
                f"{where}: {len(unknown)} unknown label(s) ({shown}); a label must start with Accept or Reject "
                f"(any case) or be a boolean; set data.drop_unknown_labels: true to drop such rows"
            )
    dropped_rows = set(missing) | {r.row for r in unknown}
    kept = [r for r in records if r.row not in dropped_rows]
    if not kept:
        raise DataError(f"{where}: no row has a usable label ({len(records)} rows read)")
    empty = [r.row for r in kept if not r.text]
    if empty:
        raise DataError(f"{path}: empty paper text in {_rows_text(empty)}")
    papers = [
        Paper(
            row=r.row,
            paper_id=r.paper_id or stable_paper_id(r.title, r.text),
            has_source_id=r.paper_id is not None,
            title=r.title,
            text=r.text,
            label=labels.normalise_label(r.label),
        )
        for r in kept
    ]
    _check_unique_ids(path, papers)
    return LoadedSource(
        path=str(path),
        format=fmt,
        n_rows=len(records),
        papers=papers,
        dropped={
            "missing_label": len(missing) if settings.drop_unknown_labels else 0,
            "unknown_label": len(unknown) if settings.drop_unknown_labels else 0,
        },
    )


def _label_origin(fmt: str, settings: SourceSettings) -> str:
    return {"alpaca": "'output'", "messages": "the last assistant message"}.get(
        fmt, repr(settings.label_field)
    )


def _check_unique_ids(path: str | Path, papers: Iterable[Paper]) -> None:
    """Raise DataError naming the ids that occur on more than one row (hash ids: identical papers)."""
    rows_by_id: dict[str, list[int]] = defaultdict(list)
    for paper in papers:
        rows_by_id[paper.paper_id].append(paper.row)
    duplicates = [(paper_id, rows) for paper_id, rows in rows_by_id.items() if len(rows) > 1]
    if duplicates:
        shown = "; ".join(
            f"id {paper_id!r} at {_rows_text(rows)}" for paper_id, rows in duplicates[:MAX_ROWS_SHOWN]
        )
        raise DataError(f"{path}: {len(duplicates)} duplicate paper id(s): {shown}")


def load_source(path: str | Path, settings: SourceSettings) -> LoadedSource:
    """Return the validated papers of a source file or folder (see read_records and validate_records)."""
    fmt, records = read_records(path, settings)
    return validate_records(path, fmt, records, settings)

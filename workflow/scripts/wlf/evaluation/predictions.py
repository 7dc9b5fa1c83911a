"""Prediction files: read and validate `{"id", "label", "pred", "p_accept", "raw_answer"}` JSONL rows."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from wlf.errors import InputError
from wlf.files import numbered_rows
from wlf.labels import ACCEPT, LABELS, PREDICTIONS, REJECT

ROW_KEYS = ("id", "label", "pred", "p_accept", "raw_answer")


class PredictionFileError(InputError):
    """A prediction file that breaks the row contract; the message names the file and line."""


def _check_row(row, where: str) -> dict:
    """Return the row when it follows the contract, else raise PredictionFileError naming `where`."""
    if not isinstance(row, dict):
        raise PredictionFileError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in ROW_KEYS:
        if key not in row:
            raise PredictionFileError(f"{where}: missing key {key!r}")
    if not isinstance(row["id"], str) or not row["id"]:
        raise PredictionFileError(f"{where}: id {row['id']!r} is not a non-empty string")
    if row["label"] not in LABELS:
        raise PredictionFileError(f"{where}: label {row['label']!r} is not one of {', '.join(LABELS)}")
    if row["pred"] not in PREDICTIONS:
        raise PredictionFileError(f"{where}: pred {row['pred']!r} is not one of {', '.join(PREDICTIONS)}")
    p_accept = row["p_accept"]
    if p_accept is not None:
        # bool is an int subclass; true/false is never a probability
        if isinstance(p_accept, bool) or not isinstance(p_accept, (int, float)):
            raise PredictionFileError(f"{where}: p_accept {p_accept!r} is not a number or null")
        if not (math.isfinite(p_accept) and 0.0 <= p_accept <= 1.0):
            raise PredictionFileError(f"{where}: p_accept {p_accept!r} is outside [0, 1]")
    if row["raw_answer"] is not None and not isinstance(row["raw_answer"], str):
        raise PredictionFileError(f"{where}: raw_answer {row['raw_answer']!r} is not a string or null")
    return row


def read_predictions(path: str | Path, allow_empty: bool = False) -> list[dict]:
    """Return the validated rows of a prediction file in file order (PredictionFileError naming file:line)."""
    path = Path(path)
    rows: list[dict] = []
    first_line_of_id: dict[str, int] = {}
    for line_number, where, row in numbered_rows(path, PredictionFileError):
        _check_row(row, where)
        if row["id"] in first_line_of_id:
            raise PredictionFileError(f"{where}: id {row['id']!r} repeats line {first_line_of_id[row['id']]}")
        first_line_of_id[row["id"]] = line_number
        rows.append(row)
    if not rows and not allow_empty:
        raise PredictionFileError(f"{path}: holds no predictions")
    with_p = sum(row["p_accept"] is not None for row in rows)
    if 0 < with_p < len(rows):
        raise PredictionFileError(
            f"{path}: p_accept is null in {len(rows) - with_p} of {len(rows)} rows; it must be set in all or none"
        )
    return rows


def thresholded_rows(papers: Iterable[dict], p_accept: Iterable[float], threshold: float) -> list[dict]:
    """Return the prediction rows of papers ({id, label} each) given P(Accept): Accept when p >= threshold."""
    return [
        {
            "id": paper["id"],
            "label": paper["label"],
            "pred": ACCEPT if p >= threshold else REJECT,
            "p_accept": float(p),
            "raw_answer": None,
        }
        for paper, p in zip(papers, p_accept, strict=True)
    ]


def check_same_papers(first: list[dict], second: list[dict], first_path, second_path) -> None:
    """Raise PredictionFileError unless both files list the same paper ids and labels in the same order."""
    if len(first) != len(second):
        raise PredictionFileError(
            f"{second_path} has {len(second)} predictions but {first_path} has {len(first)}: not the same test set"
        )
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        if a["id"] != b["id"] or a["label"] != b["label"]:
            raise PredictionFileError(
                f"{second_path} row {index + 1} is paper {b['id']!r} ({b['label']}) but {first_path} row "
                f"{index + 1} is {a['id']!r} ({a['label']}): not the same test set in the same order"
            )

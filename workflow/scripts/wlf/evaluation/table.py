"""The metrics table: one flat row per (experiment, method) from the per-experiment metrics files, sorted, and as CSV.

One row per (experiment, method). A method that was skipped (e.g. prior shift without probabilities) keeps
its row, with the reason in `skipped` and empty metrics.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from wlf.errors import InputError
from wlf.evaluation.metrics import CI_METRICS, SCALAR_METRICS
from wlf.experiments import METHODS, VARIANTS, proportion_denominator

KEY_COLUMNS = ["name", "method", "prop", "accept_fraction", "variant", "gamma", "skipped"]
COUNT_COLUMNS = ["n", "n_invalid", "tp", "fp", "tn", "fn"]
CI_COLUMNS = [f"{name}_ci_{end}" for name in CI_METRICS for end in ("lo", "hi")]
COLUMNS = KEY_COLUMNS + COUNT_COLUMNS + list(SCALAR_METRICS) + CI_COLUMNS


class MetricsFileError(InputError):
    """A metrics JSON that cannot be tabulated; the message names the file and key."""


def metrics_row(result: dict, source: str | Path) -> dict:
    """Return the flat table row of one metrics JSON (metrics None when the method was skipped)."""
    for key in ("experiment", "method"):
        if key not in result:
            raise MetricsFileError(f"{source}: missing key {key!r}")
    experiment = result["experiment"]
    for key in ("name", "prop", "variant", "gamma", "accept_fraction"):
        if key not in experiment:
            raise MetricsFileError(f"{source}: missing key experiment.{key!r}")
    row = {key: experiment[key] for key in ("name", "prop", "accept_fraction", "variant", "gamma")}
    row["method"] = result["method"]
    row["skipped"] = result.get("skipped")
    if row["skipped"] is not None:
        return {column: row.get(column) for column in COLUMNS}
    for key in ("n", "confusion", "ci", *SCALAR_METRICS):
        if key not in result:
            raise MetricsFileError(f"{source}: missing key {key!r}")
    row.update({key: result[key] for key in ("n", "n_invalid")})
    row.update(result["confusion"])
    row.update({name: result[name] for name in SCALAR_METRICS})
    for name in CI_METRICS:
        interval = result["ci"].get(name)
        row[f"{name}_ci_lo"], row[f"{name}_ci_hi"] = interval if interval is not None else (None, None)
    return {column: row.get(column) for column in COLUMNS}


def sort_key(row: dict) -> tuple:
    """Return the table order: method, proportion (accept-rich first), variant, gamma."""
    method = METHODS.index(row["method"]) if row["method"] in METHODS else len(METHODS)
    return (
        method,
        proportion_denominator(row["prop"]),
        VARIANTS.index(row["variant"]),
        row["gamma"],
    )


def aggregate(paths: list[str | Path]) -> list[dict]:
    """Return the sorted rows of the metrics files, refusing a repeated (experiment, method)."""
    rows, source_of = [], {}
    for path in paths:
        try:
            result = json.loads(Path(path).read_text())
        except json.JSONDecodeError as error:
            raise MetricsFileError(f"{path}: not valid JSON ({error.msg})") from None
        row = metrics_row(result, path)
        key = (row["name"], row["method"])
        if key in source_of:
            raise MetricsFileError(f"{path}: {key[0]} ({key[1]}) is also in {source_of[key]}")
        source_of[key] = path
        rows.append(row)
    return sorted(rows, key=sort_key)


def rows_as_csv(rows: list[dict]) -> str:
    """Return the rows as CSV text with the fixed column order (empty cells for missing values)."""
    buffer = io.StringIO()
    pd.DataFrame(rows, columns=COLUMNS).to_csv(buffer, index=False, float_format="%.6g")
    return buffer.getvalue()

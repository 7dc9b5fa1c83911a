"""The metrics table: flat rows from the per-experiment metrics files, sorted, and as CSV.

Per experiment and method: one row per training seed (`seed` = the seed) with that seed's metrics and test-set
intervals, and one aggregated row (`seed` = "mean") with the mean over seeds, the two-level intervals and the
between-seed SDs (`*_seed_sd`). A method without training seeds (TF-IDF, zero-shot) has the aggregated row
only; the zero-shot reference, one per study, has name `zeroshot` and no prop, variant or gamma. A method
that was skipped (e.g. prior shift without probabilities) keeps its aggregated row, with the reason in
`skipped` and empty metrics.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from wlf.errors import InputError
from wlf.evaluation.metrics import CI_METRICS, SCALAR_METRICS
from wlf.experiments import METHODS, VARIANTS, proportion_denominator

MEAN = "mean"  # the seed of an aggregated row
KEY_COLUMNS = ["name", "method", "prop", "accept_fraction", "variant", "gamma", "seed", "n_seeds", "skipped"]
COUNT_COLUMNS = ["n", "n_invalid", "tp", "fp", "tn", "fn"]
CI_COLUMNS = [f"{name}_ci_{end}" for name in CI_METRICS for end in ("lo", "hi")]
SD_COLUMNS = [f"{name}_seed_sd" for name in SCALAR_METRICS]
COLUMNS = KEY_COLUMNS + COUNT_COLUMNS + list(SCALAR_METRICS) + CI_COLUMNS + SD_COLUMNS


class MetricsFileError(InputError):
    """A metrics JSON that cannot be tabulated; the message names the file and key."""


def aggregated(rows: list[dict]) -> list[dict]:
    """Return the aggregated rows (seed = "mean"): one per experiment and method."""
    return [row for row in rows if row["seed"] == MEAN]


def _metric_cells(values: dict) -> dict:
    """Return the count, metric and interval cells of one seed's or one experiment's metrics."""
    cells = {key: values[key] for key in ("n", "n_invalid")} | dict(values["confusion"])
    cells.update({name: values[name] for name in SCALAR_METRICS})
    for name in CI_METRICS:
        interval = values["ci"].get(name)
        cells[f"{name}_ci_lo"], cells[f"{name}_ci_hi"] = interval if interval is not None else (None, None)
    return cells


def metrics_rows(result: dict, source: str | Path) -> list[dict]:
    """Return the table rows of one metrics JSON: one per training seed, then the aggregated row."""
    for key in ("experiment", "method"):
        if key not in result:
            raise MetricsFileError(f"{source}: missing key {key!r}")
    experiment = result["experiment"]
    for key in ("name", "prop", "variant", "gamma", "accept_fraction"):
        if key not in experiment:
            raise MetricsFileError(f"{source}: missing key experiment.{key!r}")
    keys = {key: experiment[key] for key in ("name", "prop", "accept_fraction", "variant", "gamma")}
    keys |= {
        "method": result["method"],
        "skipped": result.get("skipped"),
        "n_seeds": len(result.get("seeds", [])),
    }
    if keys["skipped"] is not None:
        return [{column: (keys | {"seed": MEAN}).get(column) for column in COLUMNS}]
    for key in ("n", "confusion", "ci", "per_seed", "seed_sd", *SCALAR_METRICS):
        if key not in result:
            raise MetricsFileError(f"{source}: missing key {key!r}")
    rows = [
        keys | {"seed": entry["seed"], "n_seeds": 1} | _metric_cells(entry)
        for entry in result["per_seed"]
        if entry["seed"] is not None
    ]
    sds = {f"{name}_seed_sd": sd for name, sd in result["seed_sd"].items()}
    rows.append(keys | {"seed": MEAN} | _metric_cells(result) | sds)
    return [{column: row.get(column) for column in COLUMNS} for row in rows]


def sort_key(row: dict) -> tuple:
    """Return the table order: method, proportion (accept-rich first), variant, gamma, seeds then the mean."""
    method = METHODS.index(row["method"]) if row["method"] in METHODS else len(METHODS)
    seed = (1, 0) if row["seed"] == MEAN else (0, int(row["seed"]))
    if row["prop"] is None:  # the zero-shot reference: no experiment to order by
        return (method, 0, 0, 0.0, seed)
    return (
        method,
        proportion_denominator(row["prop"]),
        VARIANTS.index(row["variant"]),
        row["gamma"],
        seed,
    )


def aggregate(paths: list[str | Path]) -> list[dict]:
    """Return the sorted rows of the metrics files (seeds and means), refusing a repeated (experiment, method)."""
    rows, source_of = [], {}
    for path in paths:
        try:
            result = json.loads(Path(path).read_text())
        except json.JSONDecodeError as error:
            raise MetricsFileError(f"{path}: not valid JSON ({error.msg})") from None
        file_rows = metrics_rows(result, path)
        key = (file_rows[0]["name"], file_rows[0]["method"])
        if key in source_of:
            raise MetricsFileError(f"{path}: {key[0]} ({key[1]}) is also in {source_of[key]}")
        source_of[key] = path
        rows.extend(file_rows)
    return sorted(rows, key=sort_key)


def rows_as_csv(rows: list[dict]) -> str:
    """Return the rows as CSV text with the fixed column order (empty cells for missing values)."""
    buffer = io.StringIO()
    pd.DataFrame(rows, columns=COLUMNS).to_csv(buffer, index=False, float_format="%.6g")
    return buffer.getvalue()

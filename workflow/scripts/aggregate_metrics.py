"""Collect every per-experiment metrics JSON into one table: all_metrics.json (a list of rows) and all_metrics.csv.

One row per (experiment, method). A method that was skipped (e.g. prior shift without probabilities) keeps
its row, with the reason in `skipped` and empty metrics.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from wlf.errors import one_line_errors
from wlf.evaluation.table import aggregate, rows_as_csv
from wlf.files import check_output_paths, json_text, write_together


@one_line_errors("aggregate")
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("metrics", nargs="+", help="per-experiment metrics JSON files (any method)")
    parser.add_argument("--output-json", required=True)
    parser.add_argument("--output-csv", required=True)
    args = parser.parse_args(argv)
    check_output_paths(files=[args.output_json, args.output_csv])
    rows = aggregate(args.metrics)
    write_together({args.output_json: json_text(rows), args.output_csv: rows_as_csv(rows)})
    counts = dict(Counter(row["method"] for row in rows))
    skipped = [f"{row['name']} ({row['method']})" for row in rows if row["skipped"]]
    print(f"aggregated {len(rows)} rows: {counts}; skipped: {skipped or 'none'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

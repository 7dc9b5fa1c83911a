"""Print the README's tables of a finished demo run, from its metrics table and hypothesis tests.

    .venv/bin/python bench/readme_tables.py results/metrics/all_metrics.csv results/metrics/hypotheses.json

The README's numbers are pasted from this output, never typed: one row per group of experiments (a variant
at one training mix), each cell "mean ± between-seed SD" over the training seeds, then the verdicts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from wlf.experiments import FINETUNED, ZEROSHOT, format_gamma, proportion_denominator

COLUMNS = {  # README column -> (method, metric)
    "predicted acceptance rate (fine-tuned)": ("finetuned", "predicted_acceptance_rate"),
    "mean P(Accept) (fine-tuned)": ("finetuned", "mean_p_accept"),
    "prior shift": ("priorshift", "predicted_acceptance_rate"),
    "TF-IDF + LR": ("tfidf_logreg", "predicted_acceptance_rate"),
    "accuracy (fine-tuned)": ("finetuned", "accuracy"),
    "ROC-AUC (fine-tuned)": ("finetuned", "roc_auc"),
}


def cell(means: pd.DataFrame, method: str, metric: str, names: list[str]) -> str:
    """Return "a / b / c" of the metric of the named experiments, each "mean ± SD" when it has a seed SD."""
    values = []
    for name in names:
        row = means[(means["name"] == name) & (means["method"] == method)]
        if row.empty or pd.isna(row.iloc[0][metric]):
            values.append("—")
            continue
        sd = row.iloc[0].get(f"{metric}_seed_sd")
        values.append(f"{row.iloc[0][metric]:.2f}" + ("" if pd.isna(sd) else f" ± {sd:.2f}"))
    return " / ".join(values)


def results_table(table: pd.DataFrame) -> str:
    """Return the Markdown table of the fine-tuned, prior-shift and TF-IDF results, grouped by variant and mix, and
    the zero-shot reference's row."""
    means = table[table["seed"].astype(str) == "mean"]
    finetuned = means[means["method"] == "finetuned"]
    lines = [
        f"| experiment | {' | '.join(COLUMNS)} |",
        "| --- | " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    props = sorted(finetuned["prop"].unique(), key=proportion_denominator)
    for prop in props:
        for variant in ("baseline", "accept", "reject"):
            rows = finetuned[(finetuned["prop"] == prop) & (finetuned["variant"] == variant)].sort_values(
                "gamma"
            )
            if rows.empty:
                continue
            gammas = " / ".join(format_gamma(g).removesuffix(".0") for g in rows["gamma"])
            cells = [cell(means, method, metric, list(rows["name"])) for method, metric in COLUMNS.values()]
            lines.append(f"| {variant} γ={gammas}, {prop} | {' | '.join(cells)} |")
    if ((means["method"] == ZEROSHOT) & (means["name"] == ZEROSHOT)).any():
        # the base model before any fine-tuning, in the fine-tuned columns; it has no counterpart or baseline
        cells = [
            cell(means, ZEROSHOT, metric, [ZEROSHOT]) if method == FINETUNED else "—"
            for method, metric in COLUMNS.values()
        ]
        lines.append(f"| zero-shot (the base model, not fine-tuned) | {' | '.join(cells)} |")
    return "\n".join(lines)


def verdict_table(hypotheses: dict) -> str:
    """Return the Markdown table of the verdicts on both outcomes."""
    labels = {key: outcome["label"] for key, outcome in hypotheses["outcomes"].items()}
    lines = [
        f"| hypothesis | {' | '.join(labels.values())} |",
        "| --- | " + " | ".join("---" for _ in labels) + " |",
    ]
    for key, hypothesis in hypotheses["hypotheses"].items():
        cells = [f"{tested['verdict']} ({tested['summary']})" for tested in hypothesis["outcomes"].values()]
        lines.append(f"| {key} | {' | '.join(cells)} |")
    return "\n".join(lines)


def spread_summary(hypotheses: dict) -> str:
    """Return one line on the between-seed SDs of the predicted acceptance rate and where they are largest."""
    spreads = [
        (entry["predicted_acceptance_rate"]["seed_sd"], entry["name"], entry["predicted_acceptance_rate"])
        for entry in hypotheses["seeds"]["experiments"]
        if entry["predicted_acceptance_rate"]["seed_sd"] is not None
    ]
    if not spreads:
        return "Seed variance not estimated (one training seed)."
    spreads.sort(reverse=True)
    dominant = sum(spread["variance"]["dominant"] == "seed" for _, _, spread in spreads)
    largest = ", ".join(f"{name} {sd:.2f}" for sd, name, _ in spreads[:3])
    median = sorted(sd for sd, _, _ in spreads)[len(spreads) // 2]
    return (
        f"Between-seed SD of the predicted acceptance rate: median {median:.3f}, largest {largest}; the seed "
        f"spread dominates the interval in {dominant} of {len(spreads)} experiments."
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("all_metrics", help="results/metrics/all_metrics.csv")
    parser.add_argument("hypotheses", help="results/metrics/hypotheses.json")
    args = parser.parse_args(argv)
    table = pd.read_csv(args.all_metrics, dtype={"seed": str})
    hypotheses = json.loads(Path(args.hypotheses).read_text())
    print(results_table(table), verdict_table(hypotheses), spread_summary(hypotheses), sep="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

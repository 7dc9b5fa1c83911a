"""The demo's intervals over seeds, measured on a finished run: how wide they are against the former two-level
bootstrap, and whether pairing training seeds across experiments narrows the differences.

Widths: per experiment, the 95 % interval of the mean over seeds of each outcome, by wlf.evaluation.seeds.contrast
(the workflow's) and by the former two-level percentile bootstrap (seeds resampled with replacement within the
experiment, then the same test papers), side by side, and the median ratio.

Pairing:
Experiments of one proportion share a training set, and seed s fixes their initialisation and data order, so run s
of gamma 2 and run s of gamma 4 may err alike (common random numbers). Paired, a step's seed variance is that of the
per-seed differences, with n - 1 degrees of freedom; unpaired, that of two independent means, with up to 2 (n - 1).
For every step of H1 and H2 (adjacent gamma levels of one variant and proportion, the baseline first at 1_2) this
prints both intervals' widths (wlf.evaluation.seeds.difference, the hypotheses' own code) side by side, the
correlation of the two experiments' seed values, and the median paired / unpaired width ratio per outcome.

    .venv/bin/python bench/seed_intervals.py results            # the folder holding metrics/ and predictions/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from wlf.evaluation import metrics, outcomes, seeds
from wlf.evaluation.predictions import read_predictions
from wlf.experiments import FINETUNED


def steps_of(rows: list[dict]) -> list[tuple[str, str, str]]:
    """Return (prop, earlier, later) of each adjacent gamma step of one variant and proportion."""
    baseline = next((r for r in rows if r["variant"] == "baseline"), None)
    steps = []
    for variant in ("accept", "reject"):
        for prop in sorted({r["prop"] for r in rows if r["variant"] == variant}):
            series = sorted((r for r in rows if (r["variant"], r["prop"]) == (variant, prop)), key=lambda r: r["gamma"])
            if baseline is not None and baseline["prop"] == prop:
                series = [baseline, *series]
            steps += [(prop, a["name"], b["name"]) for a, b in zip(series, series[1:], strict=False)]
    return steps


def former_two_level(estimate: seeds.Estimate, rng: np.random.Generator) -> list[float]:
    """Return the former 95 % interval: seeds drawn with replacement per resample, then the resample's papers."""
    per_seed = estimate.seed_resampled  # (seeds, resamples)
    draws = rng.integers(0, per_seed.shape[0], size=(per_seed.shape[1], per_seed.shape[0]))
    values = per_seed[draws.T, np.arange(per_seed.shape[1])].mean(axis=0)
    return metrics.percentile_interval(values, 0.95)


def width_table(runs: dict, seed_lists: dict, indices: np.ndarray) -> str:
    """Return the median width of each outcome's interval of an experiment's mean, new and former, and their ratio."""
    rng = np.random.default_rng(0)
    lines = [
        "| outcome | median width, former two-level bootstrap | median width, now | median ratio now / former | widest now |",
        "| --- | --- | --- | --- | --- |",
    ]
    for outcome in outcomes.OUTCOMES:
        rows = []
        for name, predictions in runs.items():
            estimate = outcomes.estimate(predictions, outcome, indices, tuple(seed_lists[name]))
            now = seeds.contrast([(1.0, estimate)], 0.95, bounds=outcome.bounds)["ci"]
            former = former_two_level(estimate, rng)
            rows.append((now[1] - now[0], former[1] - former[0], name))
        ratios = [now / former for now, former, _ in rows if former > 0]
        widest = max(rows)
        lines.append(
            f"| {outcome.label} | {np.median([r[1] for r in rows]):.3f} | {np.median([r[0] for r in rows]):.3f} | "
            f"{np.median(ratios):.2f} | {widest[2]} {widest[0]:.3f} (former {widest[1]:.3f}) |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a run's results folder")
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args(argv)
    root = Path(args.results)
    table = json.loads((root / "metrics" / "all_metrics.json").read_text())
    rows = [r for r in table if r["method"] == FINETUNED and r["seed"] == "mean" and not r.get("skipped")]
    seed_lists = {r["name"]: sorted(int(p.stem[4:]) for p in (root / "predictions" / r["name"]).glob("seed*.jsonl")) for r in rows}
    runs = {
        name: [metrics.predictions_from_rows(read_predictions(str(root / "predictions" / name / f"seed{s}.jsonl"))) for s in seed_list]
        for name, seed_list in seed_lists.items()
    }
    indices = metrics.bootstrap_indices(next(iter(runs.values()))[0].n, args.resamples, 0)
    print(width_table(runs, seed_lists, indices), "", sep="\n")
    print("| outcome | step | seed correlation | unpaired width | paired width | paired / unpaired |")
    print("| --- | --- | --- | --- | --- | --- |")
    for outcome in outcomes.OUTCOMES:
        ratios = []
        for prop, earlier, later in steps_of(rows):
            first, second = (
                outcomes.estimate(runs[name], outcome, indices, tuple(seed_lists[name]), prop) for name in (earlier, later)
            )
            widths = []
            for pair in (False, True):
                ci = seeds.difference(second, first, 0.95, pair)["ci"]
                widths.append(ci[1] - ci[0])
            with np.errstate(invalid="ignore", divide="ignore"):
                correlation = np.corrcoef(first.seed_points, second.seed_points)[0, 1]
            ratio = widths[1] / widths[0] if widths[0] > 0 else float("nan")
            ratios.append(ratio)
            print(f"| {outcome.label} | {earlier} -> {later} | {correlation:.2f} | {widths[0]:.3f} | {widths[1]:.3f} | {ratio:.2f} |")
        finite = [r for r in ratios if np.isfinite(r)]
        print(
            f"| {outcome.label} | median over {len(finite)} steps | | | | **{np.median(finite):.2f}** "
            f"(narrower in {sum(r < 1 for r in finite)}) |"
        )


if __name__ == "__main__":
    main()

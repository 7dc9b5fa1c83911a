"""Test the hypotheses on the predicted acceptance rate, and compare each experiment with its prior-shift counterpart.

H1  accept-weighting: a larger gamma raises the predicted acceptance rate (per proportion).
H2  reject-weighting: a larger gamma lowers it (per proportion).
H3  reject-heavy training data (smaller accept fraction 1/N) lowers it (per variant and gamma).
H4  the gamma effect differs between proportions (interaction).
Every comparison is paired: all experiments are scored on the same test papers, and each bootstrap resample
draws the same paper indices for every experiment (metrics.bootstrap_indices with the evaluate seed).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

import experiments as grid
import metrics
from evaluate import parse_settings
from json_files import write_json, write_text
from prediction_files import check_same_papers, read_predictions

RATE = "predicted_acceptance_rate"
PRIORSHIFT_METRICS = ("predicted_acceptance_rate", "accuracy", "f1", "roc_auc")
SUPPORTED, NOT_SUPPORTED, UNCLEAR = "supported", "not supported", "unclear"
THRESHOLD_MOVE, BEYOND = "explained by a threshold move", "goes beyond a threshold move"
VERDICT_RULES = {
    "direction (H1, H2, H3)": (
        "For each group (a proportion for H1/H2; a variant and gamma for H3) the levels are ordered along x "
        "(gamma, or N of the accept fraction 1/N). 'supported' when the paired-bootstrap CI of the difference "
        "last level - first level lies entirely on the expected side of 0 and the Spearman correlation of the "
        "rate with x has the expected sign; 'not supported' when that CI lies entirely on the other side of 0 or "
        "touches 0 from it (no change or the opposite change); 'unclear' otherwise. A hypothesis is "
        "'supported' / 'not supported' when every group is; otherwise 'unclear' (the groups are listed)."
    ),
    "interaction (H4)": (
        "Per variant and proportion, the slope of the predicted acceptance rate per doubling of gamma "
        "(least squares on log2 gamma) over the gamma levels it shares with the reference proportion (the "
        "largest accept fraction; gamma = 1 is the baseline where it was trained). 'supported' when at least "
        "one slope difference's CI excludes 0, with CIs Bonferroni-widened for the number of comparisons; "
        "'not supported' when every CI includes 0 (no detectable interaction, not proof of none); 'unclear' "
        "when no two proportions share two gamma levels."
    ),
    "prior shift": (
        "Per non-baseline experiment, fine-tuned - prior-shift differences in predicted acceptance rate, "
        "accuracy, F1 and ROC-AUC with paired-bootstrap CIs, Bonferroni-adjusted for the four metrics. "
        "'explained by a threshold move' when every CI "
        "includes 0; 'goes beyond a threshold move' when any CI excludes 0. The prior shift is a monotone map "
        "of the baseline's P(Accept), so its ROC-AUC is the baseline's: a ROC-AUC difference means the "
        "fine-tuned model ranks papers differently, which no threshold move can do."
    ),
}


@dataclass
class Run:
    """One fine-tuned experiment's predictions and its predicted acceptance rate, point and per resample."""

    name: str
    prop: str
    variant: str
    gamma: float
    accept_fraction: float
    predictions: metrics.Predictions
    rate: float
    rate_resampled: np.ndarray

    @property
    def denominator(self) -> int:
        return grid.proportion_denominator(self.prop)


def load_runs(
    rows: list[dict], predictions_dir: Path, resamples: int, seed: int
) -> tuple[dict[str, Run], np.ndarray]:
    """Return ({name: Run} of the fine-tuned rows, bootstrap indices), checking all share one test set."""
    runs: dict[str, Run] = {}
    first_path, first_rows, indices = None, None, None
    for row in rows:
        path = predictions_dir / f"{row['name']}.jsonl"
        prediction_rows = read_predictions(path)
        if first_rows is None:
            first_path, first_rows = path, prediction_rows
            indices = metrics.bootstrap_indices(len(prediction_rows), resamples, seed)
        else:
            check_same_papers(first_rows, prediction_rows, first_path, path)
        predictions = metrics.predictions_from_rows(prediction_rows)
        runs[row["name"]] = Run(
            name=row["name"],
            prop=row["prop"],
            variant=row["variant"],
            gamma=float(row["gamma"]),
            accept_fraction=float(row["accept_fraction"]),
            predictions=predictions,
            rate=metrics.scalar_metrics(predictions, 1, [RATE])[RATE],
            rate_resampled=metrics.resampled_metrics(predictions, indices, 1, [RATE])[RATE],
        )
    return runs, indices


def paired_difference(later: Run, earlier: Run, confidence: float) -> dict:
    """Return the rate difference later - earlier with its paired-bootstrap CI."""
    return {
        "from": earlier.name,
        "to": later.name,
        "difference": later.rate - earlier.rate,
        "ci": metrics.percentile_interval(later.rate_resampled - earlier.rate_resampled, confidence),
    }


def direction_verdict(ci: list[float] | None, sign: int) -> str:
    """Return supported / not supported / unclear for a CI of a difference expected to have sign (+1 or -1)."""
    if ci is None:
        return UNCLEAR
    lo, hi = (value * sign for value in ci)
    lo, hi = min(lo, hi), max(lo, hi)
    if lo > 0:
        return SUPPORTED
    if hi <= 0:
        return NOT_SUPPORTED
    return UNCLEAR


def rank_trend(x: list[float], rates: np.ndarray, rates_resampled: np.ndarray, confidence: float) -> dict:
    """Return Spearman's rho (with a bootstrap CI) and Kendall's tau of the rate against x."""
    with warnings.catch_warnings():
        # a resample whose rates are all equal has no rank correlation (NaN, dropped from the CI)
        warnings.simplefilter("ignore")
        spearman = stats.spearmanr(x, rates)
        kendall = stats.kendalltau(x, rates)
        rho_resampled = np.array([stats.spearmanr(x, column).statistic for column in rates_resampled.T])
    return {
        "spearman_rho": metrics.none_if_nan(spearman.statistic),
        "spearman_p": metrics.none_if_nan(spearman.pvalue),
        "spearman_ci": metrics.percentile_interval(rho_resampled, confidence),
        "kendall_tau": metrics.none_if_nan(kendall.statistic),
        "kendall_p": metrics.none_if_nan(kendall.pvalue),
    }


def series_test(runs: list[Run], x: list[float], sign: int, confidence: float) -> dict:
    """Return the points, steps, end-to-end difference, rank trend and verdict of runs ordered by x."""
    overall = paired_difference(runs[-1], runs[0], confidence)
    trend = rank_trend(
        x, np.array([run.rate for run in runs]), np.stack([run.rate_resampled for run in runs]), confidence
    )
    verdict = direction_verdict(overall["ci"], sign)
    rho = trend["spearman_rho"]
    if verdict == SUPPORTED and not (rho is not None and rho * sign > 0):
        verdict = UNCLEAR  # the ends moved as expected but the levels between did not follow
    rates = {run.rate for run in runs}
    note = None
    if rates == {0.0} or rates == {1.0}:
        note = f"every level predicts {'no' if rates == {0.0} else 'every'} paper Accept: no room to move"
    return {
        "note": note,
        "points": [
            {
                "name": run.name,
                "x": value,
                "rate": run.rate,
                "ci": metrics.percentile_interval(run.rate_resampled, confidence),
            }
            for run, value in zip(runs, x, strict=True)
        ],
        "steps": [paired_difference(b, a, confidence) for a, b in zip(runs, runs[1:], strict=False)],
        "overall": overall,
        "trend": trend,
        "verdict": verdict,
    }


def combine(groups: list[dict], what: str) -> tuple[str, str]:
    """Return the hypothesis verdict over its groups and a one-line summary naming them."""
    if not groups:
        return UNCLEAR, f"no {what} has two levels to compare"
    by_verdict: dict[str, list[str]] = {}
    for group in groups:
        by_verdict.setdefault(group["verdict"], []).append(group["group"])
    parts = [
        f"{verdict} for {len(names)} of {len(groups)} ({', '.join(names)})"
        for verdict, names in by_verdict.items()
    ]
    verdict = next(iter(by_verdict)) if len(by_verdict) == 1 else UNCLEAR
    return verdict, "; ".join(parts)


def gamma_series(runs: dict[str, Run], variant: str, prop: str, baseline: Run | None) -> list[Run]:
    """Return the variant's runs at prop by increasing gamma, led by the baseline (gamma 1) when it shares prop."""
    series = sorted(
        (r for r in runs.values() if r.variant == variant and r.prop == prop), key=lambda r: r.gamma
    )
    if baseline is not None and baseline.prop == prop and series:
        series = [baseline, *series]
    return series


def gamma_hypothesis(
    runs: dict[str, Run], variant: str, sign: int, baseline: Run | None, confidence: float
) -> dict:
    """Return H1 (variant accept, sign +1) or H2 (variant reject, sign -1): per proportion, rate vs gamma."""
    groups = []
    props = sorted({r.prop for r in runs.values() if r.variant == variant}, key=grid.proportion_denominator)
    for prop in props:
        series = gamma_series(runs, variant, prop, baseline)
        if len(series) >= 2:
            tested = series_test(series, [r.gamma for r in series], sign, confidence)
            groups.append({"group": f"prop {prop}", "prop": prop, "x": "gamma", **tested})
    verdict, summary = combine(groups, "proportion")
    direction = "raises" if sign > 0 else "lowers"
    return {
        "statement": f"{variant}-weighting: a larger gamma {direction} the predicted acceptance rate",
        "expected_sign": sign,
        "verdict": verdict,
        "summary": summary,
        "groups": groups,
    }


def mix_hypothesis(runs: dict[str, Run], confidence: float) -> dict:
    """Return H3: per (variant, gamma), the rate against N of the accept fraction 1/N (expected to fall)."""
    groups = []
    keys = sorted(
        {(r.variant, r.gamma) for r in runs.values()}, key=lambda k: (grid.VARIANTS.index(k[0]), k[1])
    )
    for variant, gamma in keys:
        series = sorted(
            (r for r in runs.values() if (r.variant, r.gamma) == (variant, gamma)),
            key=lambda r: r.denominator,
        )
        if len(series) >= 2:
            tested = series_test(series, [r.denominator for r in series], -1, confidence)
            group = f"{variant} gamma {grid.format_gamma(gamma)}"
            groups.append(
                {
                    "group": group,
                    "variant": variant,
                    "gamma": gamma,
                    "x": "N of accept fraction 1/N",
                    **tested,
                }
            )
    verdict, summary = combine(groups, "variant and gamma")
    return {
        "statement": "reject-heavy training data (smaller accept fraction) lowers the predicted acceptance rate",
        "expected_sign": -1,
        "verdict": verdict,
        "summary": summary,
        "groups": groups,
    }


def slope_per_doubling(runs: list[Run]) -> tuple[float, np.ndarray]:
    """Return the least-squares slope of rate on log2(gamma), as a point estimate and per resample."""
    x = np.log2([run.gamma for run in runs])
    point = np.polyfit(x, [run.rate for run in runs], 1)[0]
    resampled = np.polyfit(x, np.stack([run.rate_resampled for run in runs]), 1)[0]
    return float(point), resampled


def interaction_hypothesis(runs: dict[str, Run], baseline: Run | None, confidence: float) -> dict:
    """Return H4: per variant, each proportion's gamma slope minus the reference proportion's, on shared gammas."""
    planned = []
    for variant in ("accept", "reject"):
        levels = {}
        for prop in sorted(
            {r.prop for r in runs.values() if r.variant == variant}, key=grid.proportion_denominator
        ):
            levels[prop] = {r.gamma: r for r in gamma_series(runs, variant, prop, baseline)}
        candidates = [prop for prop, by_gamma in levels.items() if len(by_gamma) >= 2]
        if len(candidates) < 2:
            continue
        reference = candidates[0]  # the largest accept fraction
        for prop in candidates[1:]:
            shared = sorted(set(levels[reference]) & set(levels[prop]))
            if len(shared) >= 2:
                planned.append((variant, reference, prop, shared, levels))
    # Bonferroni: "some slope differs" is claimed if any of the comparisons does
    adjusted = 1.0 - (1.0 - confidence) / max(len(planned), 1)
    comparisons = []
    for variant, reference, prop, shared, levels in planned:
        slope, slope_resampled = slope_per_doubling([levels[prop][g] for g in shared])
        ref_slope, ref_resampled = slope_per_doubling([levels[reference][g] for g in shared])
        ci = metrics.percentile_interval(slope_resampled - ref_resampled, adjusted)
        comparisons.append(
            {
                "variant": variant,
                "prop": prop,
                "reference_prop": reference,
                "gammas": shared,
                "slope_per_doubling": slope,
                "slope_ci": metrics.percentile_interval(slope_resampled, confidence),
                "reference_slope_per_doubling": ref_slope,
                "reference_slope_ci": metrics.percentile_interval(ref_resampled, confidence),
                "difference": slope - ref_slope,
                "ci": ci,
                "differs": ci is not None and (ci[0] > 0 or ci[1] < 0),
            }
        )
    if not comparisons:
        verdict, summary = UNCLEAR, "no two proportions share two gamma levels of a variant"
    else:
        differing = [
            f"{c['variant']} {c['prop']} vs {c['reference_prop']}" for c in comparisons if c["differs"]
        ]
        verdict = SUPPORTED if differing else NOT_SUPPORTED
        summary = (
            f"{len(differing)} of {len(comparisons)} slope differences exclude 0"
            + (f" ({', '.join(differing)})" if differing else "")
            + f" at a Bonferroni-adjusted {adjusted:.4g} confidence"
        )
    return {
        "statement": "the effect of gamma on the predicted acceptance rate differs between proportions",
        "verdict": verdict,
        "summary": summary,
        "adjusted_confidence": adjusted,
        "comparisons": comparisons,
    }


def resampled_with_auc_cache(predictions: metrics.Predictions, indices: np.ndarray, auc_cache: dict) -> dict:
    """Return PRIORSHIFT_METRICS per resample, reusing the ROC-AUCs of earlier predictions with the same ranks."""
    # ROC-AUC depends on the labels and the ranks of p_accept only, and every prior shift is a monotone map of
    # the baseline's probabilities: their resampled AUCs are computed once (labels are checked to be equal)
    key = None if predictions.p_accept is None else stats.rankdata(predictions.p_accept).tobytes()
    names = [name for name in PRIORSHIFT_METRICS if not (name == "roc_auc" and key in auc_cache)]
    values = metrics.resampled_metrics(predictions, indices, 1, names)
    if "roc_auc" not in values:
        values["roc_auc"] = auc_cache[key]
    elif key is not None:
        auc_cache[key] = values["roc_auc"]
    return values


def compare_priorshift(
    run: Run, priorshift: metrics.Predictions, indices: np.ndarray, confidence: float, auc_cache: dict
) -> dict:
    """Return fine-tuned - prior-shift differences of PRIORSHIFT_METRICS with paired CIs, and the verdict.

    The CIs are Bonferroni-adjusted for the number of metrics: the verdict "beyond" is claimed if any excludes 0.
    """
    adjusted = 1.0 - (1.0 - confidence) / len(PRIORSHIFT_METRICS)
    finetuned_point = metrics.scalar_metrics(run.predictions, 1, PRIORSHIFT_METRICS)
    shifted_point = metrics.scalar_metrics(priorshift, 1, PRIORSHIFT_METRICS)
    finetuned_resampled = metrics.resampled_metrics(run.predictions, indices, 1, PRIORSHIFT_METRICS)
    shifted_resampled = resampled_with_auc_cache(priorshift, indices, auc_cache)
    differences = {}
    for name in PRIORSHIFT_METRICS:
        ci = metrics.percentile_interval(finetuned_resampled[name] - shifted_resampled[name], adjusted)
        differences[name] = {
            "finetuned": metrics.none_if_nan(finetuned_point[name]),
            "priorshift": metrics.none_if_nan(shifted_point[name]),
            "difference": metrics.none_if_nan(finetuned_point[name] - shifted_point[name]),
            "ci": ci,
            "excludes_zero": ci is not None and (ci[0] > 0 or ci[1] < 0),
        }
    beyond = [name for name, d in differences.items() if d["excludes_zero"]]
    return {
        "name": run.name,
        "differences": differences,
        "verdict": BEYOND if beyond else THRESHOLD_MOVE,
        "beyond_in": beyond,
    }


def priorshift_comparisons(
    runs: dict[str, Run],
    table: list[dict],
    priorshift_dir: Path,
    indices: np.ndarray,
    confidence: float,
    baseline: Run | None,
) -> dict:
    """Return the prior-shift comparisons, or why they are absent (skipped counterparts, no baseline)."""
    rows = {row["name"]: row for row in table if row["method"] == "priorshift"}
    comparisons, absent, auc_cache = [], [], {}
    for run in runs.values():
        if baseline is not None and run.name == baseline.name:
            continue
        row = rows.get(run.name)
        if row is None:
            absent.append({"name": run.name, "reason": "no prior-shift metrics in the table"})
        elif row.get("skipped"):
            absent.append({"name": run.name, "reason": row["skipped"]})
        else:
            path = priorshift_dir / f"{run.name}.jsonl"
            shifted_rows = read_predictions(path)
            check_same_papers(metrics_rows_of(run), shifted_rows, f"predictions of {run.name}", path)
            shifted = metrics.predictions_from_rows(shifted_rows)
            comparisons.append(compare_priorshift(run, shifted, indices, confidence, auc_cache))
    reasons = sorted({entry["reason"] for entry in absent})
    return {
        "available": bool(comparisons),
        "adjusted_confidence": 1.0 - (1.0 - confidence) / len(PRIORSHIFT_METRICS),
        "absent": absent,
        "note": "; ".join(reasons) if reasons else None,
        "comparisons": comparisons,
    }


def metrics_rows_of(run: Run) -> list[dict]:
    """Return id/label rows of a run, for check_same_papers."""
    return [
        {"id": i, "label": label}
        for i, label in zip(run.predictions.ids, run.predictions.labels, strict=True)
    ]


def fmt(value: float | None, digits: int = 3) -> str:
    """Return a number for a Markdown cell, or a dash when it is undefined."""
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_ci(ci: list[float] | None) -> str:
    """Return an interval for a Markdown cell, or a dash when it is undefined."""
    return "—" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def markdown(result: dict) -> str:
    """Return the hypotheses as a Markdown report: verdicts first, then the evidence tables and the rules."""
    settings = result["settings"]
    lines = [
        "# Hypotheses on the predicted acceptance rate",
        "",
        f"{result['n_test_papers']} test papers; paired percentile bootstrap, {settings['bootstrap_resamples']} "
        f"resamples (seed {settings['bootstrap_seed']}), {settings['confidence']:.0%} intervals. "
        "Rates are fractions of test papers predicted Accept.",
        "",
        "| hypothesis | statement | verdict | summary |",
        "| --- | --- | --- | --- |",
    ]
    for key, hypothesis in result["hypotheses"].items():
        lines.append(
            f"| {key} | {hypothesis['statement']} | **{hypothesis['verdict']}** | {hypothesis['summary']} |"
        )
    for key in ("H1", "H2", "H3"):
        hypothesis = result["hypotheses"][key]
        lines += [
            "",
            f"## {key}: {hypothesis['statement']}",
            "",
            f"Verdict: **{hypothesis['verdict']}**.",
            "",
        ]
        for group in hypothesis["groups"]:
            trend, overall = group["trend"], group["overall"]
            lines += [
                f"### {group['group']}: {group['verdict']}",
                "",
                f"x = {group['x']}. First to last level: {fmt(overall['difference'])} {fmt_ci(overall['ci'])}; "
                f"Spearman rho {fmt(trend['spearman_rho'], 2)} (bootstrap CI {fmt_ci(trend['spearman_ci'])}), "
                f"Kendall tau {fmt(trend['kendall_tau'], 2)}."
                + (f" Note: {group['note']}." if group["note"] else ""),
                "",
                "| experiment | x | predicted acceptance rate | CI | change from previous | CI |",
                "| --- | --- | --- | --- | --- | --- |",
            ]
            steps = [None, *group["steps"]]
            for point, step in zip(group["points"], steps, strict=True):
                change = "" if step is None else fmt(step["difference"])
                change_ci = "" if step is None else fmt_ci(step["ci"])
                lines.append(
                    f"| {point['name']} | {point['x']:g} | {point['rate']:.3f} | {fmt_ci(point['ci'])} | {change} | {change_ci} |"
                )
            lines.append("")
    h4 = result["hypotheses"]["H4"]
    lines += [
        "",
        f"## H4: {h4['statement']}",
        "",
        f"Verdict: **{h4['verdict']}** ({h4['summary']}). Slopes are changes in the predicted acceptance rate per "
        "doubling of gamma.",
        "",
        "| variant | proportion | vs | gammas | slope | reference slope | difference | adjusted CI |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in h4["comparisons"]:
        gammas = ", ".join(grid.format_gamma(g) for g in c["gammas"])
        lines.append(
            f"| {c['variant']} | {c['prop']} | {c['reference_prop']} | {gammas} | {fmt(c['slope_per_doubling'])} | "
            f"{fmt(c['reference_slope_per_doubling'])} | {fmt(c['difference'])} | {fmt_ci(c['ci'])} |"
        )
    shift = result["priorshift"]
    lines += ["", "## Fine-tuned vs prior-shift counterpart (issue 9)", ""]
    if shift["note"]:
        lines += [
            f"Prior-shift counterparts absent for {len(shift['absent'])} experiment(s): {shift['note']}.",
            "",
        ]
    if shift["comparisons"]:
        header = " | ".join(f"Δ {name} [CI]" for name in PRIORSHIFT_METRICS)
        lines += [
            f"Differences are fine-tuned − prior-shift on the same test papers; intervals at a Bonferroni-adjusted "
            f"{shift['adjusted_confidence']:.4g} confidence (four metrics per experiment).",
            "",
            f"| experiment | {header} | verdict |",
            "| --- | " + " | ".join("---" for _ in PRIORSHIFT_METRICS) + " | --- |",
        ]
        for c in shift["comparisons"]:
            cells = " | ".join(
                f"{fmt(c['differences'][name]['difference'])} {fmt_ci(c['differences'][name]['ci'])}"
                for name in PRIORSHIFT_METRICS
            )
            lines.append(f"| {c['name']} | {cells} | {c['verdict']} |")
    lines += ["", "## Verdict rules", ""]
    lines += [f"- **{name}**: {rule}" for name, rule in VERDICT_RULES.items()]
    return "\n".join(lines) + "\n"


def run_hypotheses(table: list[dict], predictions_dir: Path, priorshift_dir: Path, settings: dict) -> dict:
    """Return every hypothesis test and the prior-shift comparisons as one JSON-ready dict."""
    finetuned = [row for row in table if row["method"] == "finetuned" and not row.get("skipped")]
    if not finetuned:
        raise ValueError("the metrics table has no fine-tuned experiment")
    runs, indices = load_runs(
        finetuned, predictions_dir, settings["bootstrap_resamples"], settings["bootstrap_seed"]
    )
    confidence = settings["confidence"]
    baseline = next((run for run in runs.values() if run.variant == "baseline"), None)
    return {
        "settings": settings,
        "n_test_papers": int(indices.shape[1]),
        "metric": RATE,
        "hypotheses": {
            "H1": gamma_hypothesis(runs, "accept", +1, baseline, confidence),
            "H2": gamma_hypothesis(runs, "reject", -1, baseline, confidence),
            "H3": mix_hypothesis(runs, confidence),
            "H4": interaction_hypothesis(runs, baseline, confidence),
        },
        "priorshift": priorshift_comparisons(runs, table, priorshift_dir, indices, confidence, baseline),
        "verdict_rules": VERDICT_RULES,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--all-metrics", required=True, help="results/metrics/all_metrics.json")
    parser.add_argument("--predictions-dir", required=True, help="folder of the fine-tuned {name}.jsonl")
    parser.add_argument("--priorshift-dir", required=True, help="folder of the prior-shift {name}.jsonl")
    parser.add_argument("--settings", default="{}", help="JSON of config `evaluate` (bootstrap settings)")
    parser.add_argument("--output-json", required=True)
    parser.add_argument("--output-md", required=True)
    args = parser.parse_args(argv)
    settings = parse_settings(args.settings)
    table = json.loads(Path(args.all_metrics).read_text())
    result = run_hypotheses(table, Path(args.predictions_dir), Path(args.priorshift_dir), settings)
    write_json(args.output_json, result)
    write_text(args.output_md, markdown(result))
    for key, hypothesis in result["hypotheses"].items():
        print(f"{key}: {hypothesis['verdict']} ({hypothesis['summary']})", file=sys.stderr)
    if result["priorshift"]["note"]:
        print(f"prior shift: {result['priorshift']['note']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

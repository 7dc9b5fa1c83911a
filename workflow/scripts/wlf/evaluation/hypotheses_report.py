"""hypotheses.md: the verdicts first, then the evidence of each hypothesis, the prior-shift comparison and the
rules, rendered from the JSON-ready result of wlf.evaluation.hypothesis_tests."""

from __future__ import annotations

from wlf.evaluation.priorshift import PRIORSHIFT_METRICS
from wlf.experiments import format_gamma


def fmt(value: float | None, digits: int = 3) -> str:
    """Return a number for a Markdown cell, or a dash when it is undefined."""
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_ci(ci: list[float] | None) -> str:
    """Return an interval for a Markdown cell, or a dash when it is undefined."""
    return "—" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def summary_lines(result: dict) -> list[str]:
    """Return the title, the bootstrap settings and the table of verdicts."""
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
    return lines


def group_lines(group: dict) -> list[str]:
    """Return one group of a direction hypothesis: its verdict, trend and the table of its levels."""
    trend, overall = group["trend"], group["overall"]
    lines = [
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
    for point, step in zip(group["points"], [None, *group["steps"]], strict=True):
        change = "" if step is None else fmt(step["difference"])
        change_ci = "" if step is None else fmt_ci(step["ci"])
        lines.append(
            f"| {point['name']} | {point['x']:g} | {point['rate']:.3f} | {fmt_ci(point['ci'])} | {change} | {change_ci} |"
        )
    return [*lines, ""]


def direction_lines(key: str, hypothesis: dict) -> list[str]:
    """Return the section of H1, H2 or H3: the verdict and one block per group."""
    lines = ["", f"## {key}: {hypothesis['statement']}", "", f"Verdict: **{hypothesis['verdict']}**.", ""]
    for group in hypothesis["groups"]:
        lines += group_lines(group)
    return lines


def interaction_lines(h4: dict) -> list[str]:
    """Return the section of H4: the slope of each proportion against the reference proportion's."""
    lines = [
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
        gammas = ", ".join(format_gamma(g) for g in c["gammas"])
        lines.append(
            f"| {c['variant']} | {c['prop']} | {c['reference_prop']} | {gammas} | {fmt(c['slope_per_doubling'])} | "
            f"{fmt(c['reference_slope_per_doubling'])} | {fmt(c['difference'])} | {fmt_ci(c['ci'])} |"
        )
    return lines


def priorshift_lines(shift: dict) -> list[str]:
    """Return the section comparing each fine-tuned model with its prior-shift counterpart."""
    lines = ["", "## Fine-tuned vs prior-shift counterpart", ""]
    if shift["note"]:
        lines += [
            f"Prior-shift counterparts absent for {len(shift['absent'])} experiment(s): {shift['note']}.",
            "",
        ]
    if not shift["comparisons"]:
        return lines
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
    return lines


def markdown(result: dict) -> str:
    """Return the hypotheses as a Markdown report: verdicts first, then the evidence tables and the rules."""
    lines = summary_lines(result)
    for key in ("H1", "H2", "H3"):
        lines += direction_lines(key, result["hypotheses"][key])
    lines += interaction_lines(result["hypotheses"]["H4"])
    lines += priorshift_lines(result["priorshift"])
    lines += ["", "## Verdict rules", ""]
    lines += [f"- **{name}**: {rule}" for name, rule in result["verdict_rules"].items()]
    return "\n".join(lines) + "\n"

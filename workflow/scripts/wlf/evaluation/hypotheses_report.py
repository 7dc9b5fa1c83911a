"""hypotheses.md: the verdicts on both outcomes first, then the evidence of each hypothesis with the outcomes side by
side, the prior-shift comparison and the rules, rendered from the JSON-ready result of
wlf.evaluation.hypothesis_tests."""

from __future__ import annotations

from wlf.evaluation.priorshift import PRIORSHIFT_COMPARED, PRIORSHIFT_METRICS
from wlf.experiments import format_gamma

COMPARED_LABELS = {"mean_p_accept": "mean P(Accept)"}


def fmt(value: float | None, digits: int = 3) -> str:
    """Return a number for a Markdown cell, or a dash when it is undefined."""
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_ci(ci: list[float] | None) -> str:
    """Return an interval for a Markdown cell, or a dash when it is undefined."""
    return "—" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def fmt_with_ci(value: float | None, ci: list[float] | None, digits: int = 3) -> str:
    """Return "value [lo, hi]" for a Markdown cell, one dash when both are undefined."""
    return "—" if value is None and ci is None else f"{fmt(value, digits)} {fmt_ci(ci)}"


def verdict_cell(tested: dict, seeds: dict | None = None) -> str:
    """Return a verdict in bold, or why the outcome has none (e.g. no probabilities in generate mode); with one
    training seed it says that the seed variance was not estimated."""
    if tested["verdict"] is None:
        return tested["summary"]
    caveat = " (seed variance not estimated)" if seeds is not None and not seeds["estimated"] else ""
    return f"**{tested['verdict']}**{caveat}"


def uncertainty_sentence(seeds: dict) -> str:
    """Return what the intervals cover: training seeds and test papers, or test papers alone with one seed."""
    counts = "/".join(str(count) for count in seeds["counts"])
    if not seeds["estimated"]:
        return (
            "One training seed per experiment: the intervals cover the test-set sampling only, and every verdict "
            "says that the seed variance was not estimated (add seeds to the config's `seeds`)."
        )
    return (
        f"{counts} training seeds per experiment: each estimate is the mean over the seeds, and its interval "
        "covers both the randomness of training and the sampling of test papers: the paired test-paper bootstrap "
        "combined (MOVER) with a Student t interval of the between-seed variance, whose degrees of freedom "
        "(Welch-Satterthwaite) come from the seeds, so 3 seeds widen it by t(2) = 4.30 where a normal "
        "quantile would take 1.96 (docs/statistics.md)."
    )


def summary_lines(result: dict) -> list[str]:
    """Return the title, the bootstrap settings, the outcomes and the table of verdicts on each."""
    settings, outcomes, levels = result["settings"], result["outcomes"], result["levels"]
    labels = [outcome["label"] for outcome in outcomes.values()]
    lines = [
        "# Hypotheses on predicted acceptance",
        "",
        f"{result['n_test_papers']} test papers; paired percentile bootstrap, {settings['bootstrap_resamples']} "
        f"resamples (seed {settings['bootstrap_seed']}), {settings['confidence']:.0%} intervals for the levels, "
        "steps and slopes. "
        f"{uncertainty_sentence(result['seeds'])} "
        f"{'Runs of one training set are paired by seed. ' if levels['pair_seeds'] else ''}"
        f"The verdicts are one family of {len(levels['family'])} (each hypothesis on each outcome): each spends "
        f"{levels['verdict_alpha']:.4g} of a family-wise error of at most {levels['family_wise_error_bound']:.0%} "
        f"(Bonferroni), so H1-H3 read their first-to-last change at a two-sided "
        f"{levels['directional_confidence']:.4g} confidence and H4 its slope differences at the adjusted level "
        "shown in its section. "
        "Two outcomes, tested with the same resamples: the predicted acceptance rate (the fraction of test "
        "papers predicted Accept) and the mean P(Accept) (the mean probability of Accept, threshold-free). "
        "A rate at 0 or 1 cannot move further, while the probabilities underneath it still can: a group with "
        "no room to move is 'saturated', not 'not supported' (rules at the end).",
        "",
        f"| hypothesis | statement | {' | '.join(labels)} |",
        "| --- | --- | " + " | ".join("---" for _ in labels) + " |",
    ]
    for key, hypothesis in result["hypotheses"].items():
        cells = " | ".join(
            verdict_cell(tested, result["seeds"]) for tested in hypothesis["outcomes"].values()
        )
        lines.append(f"| {key} | {hypothesis['statement']} | {cells} |")
    return lines


def outcome_table(hypothesis: dict, outcomes: dict) -> list[str]:
    """Return the table of a hypothesis's verdict and summary on each outcome."""
    lines = ["| outcome | verdict | summary |", "| --- | --- | --- |"]
    for key, tested in hypothesis["outcomes"].items():
        lines.append(f"| {outcomes[key]['label']} | {verdict_cell(tested)} | {tested['summary']} |")
    return [*lines, ""]


def group_evidence_lines(groups: dict[str, dict | None], outcomes: dict) -> list[str]:
    """Return the end-to-end difference, trend and note of one group, one column per outcome."""
    labels = [outcomes[key]["label"] for key in groups]
    rows = {
        "verdict": lambda g: g["verdict"],
        "first to last level [verdict CI]": lambda g: fmt_with_ci(
            g["overall"]["difference"], g["overall"]["ci"]
        ),
        "slope per doubling of x [CI]": lambda g: fmt_with_ci(
            g["trend"]["slope_per_doubling"], g["trend"]["slope_ci"]
        ),
        "Spearman rho / Kendall tau": lambda g: (
            f"{fmt(g['trend']['spearman_rho'], 2)} / {fmt(g['trend']['kendall_tau'], 2)}"
        ),
    }
    if any(group and group["note"] for group in groups.values()):
        rows["note"] = lambda g: g["note"] or ""
    lines = [f"| | {' | '.join(labels)} |", "| --- | " + " | ".join("---" for _ in labels) + " |"]
    for name, cell in rows.items():
        cells = [cell(group) if group else outcomes[key]["note"] for key, group in groups.items()]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return lines


def group_level_lines(groups: dict[str, dict | None], outcomes: dict) -> list[str]:
    """Return the table of a group's levels: each outcome's value and change from the previous level, with CIs."""
    template = next(group for group in groups.values() if group)
    header = " | ".join(f"{outcomes[key]['label']} [CI] | change [CI]" for key in groups)
    lines = [
        f"| experiment | x | {header} |",
        "| --- | --- | " + " | ".join("--- | ---" for _ in groups) + " |",
    ]
    for index, point in enumerate(template["points"]):
        cells = []
        for group in groups.values():
            if group is None:
                cells += ["—", "—"]
                continue
            value, step = group["points"][index], group["steps"][index - 1] if index else None
            cells.append(fmt_with_ci(value["value"], value["ci"]))
            cells.append("" if step is None else fmt_with_ci(step["difference"], step["ci"]))
        lines.append(f"| {point['name']} | {point['x']:g} | {' | '.join(cells)} |")
    return lines


def direction_lines(key: str, hypothesis: dict, outcomes: dict) -> list[str]:
    """Return the section of H1, H2 or H3: the verdicts, then one block per group with the outcomes side by side."""
    lines = ["", f"## {key}: {hypothesis['statement']}", "", *outcome_table(hypothesis, outcomes)]
    tested = hypothesis["outcomes"]
    by_name = {o: {g["group"]: g for g in tested[o]["groups"]} for o in tested}
    names = next((list(groups) for groups in by_name.values() if groups), [])
    for name in names:
        groups = {o: by_name[o].get(name) for o in tested}
        x = next(group["x"] for group in groups.values() if group)
        lines += [f"### {name} (x = {x})", "", *group_evidence_lines(groups, outcomes), ""]
        lines += [*group_level_lines(groups, outcomes), ""]
    return lines


def interaction_lines(h4: dict, outcomes: dict) -> list[str]:
    """Return the section of H4: per outcome, the slope of each proportion against the reference proportion's."""
    lines = ["", f"## H4: {h4['statement']}", "", *outcome_table(h4, outcomes)]
    for key, tested in h4["outcomes"].items():
        label = outcomes[key]["label"]
        lines += [f"### {label}", ""]
        if not tested["comparisons"]:
            lines += [f"{tested['summary']}.", ""]
            continue
        lines += [
            f"Slopes are changes in the {label} per doubling of gamma; CIs of the differences at a "
            f"Bonferroni-adjusted {tested['adjusted_confidence']:.4g} confidence.",
            "",
            "| variant | proportion | vs | gammas | slope | reference slope | difference | adjusted CI | status |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for c in tested["comparisons"]:
            gammas = ", ".join(format_gamma(g) for g in c["gammas"])
            status = (
                "differs" if c["differs"] else "saturated" if c["saturated"] else "no detectable difference"
            )
            status += " (at a bound)" if c["at_bound"] and c["differs"] else ""
            lines.append(
                f"| {c['variant']} | {c['prop']} | {c['reference_prop']} | {gammas} | {fmt(c['slope_per_doubling'])} "
                f"| {fmt(c['reference_slope_per_doubling'])} | {fmt(c['difference'])} | {fmt_ci(c['ci'])} | {status} |"
            )
        lines.append("")
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
    header = " | ".join(f"Δ {COMPARED_LABELS.get(name, name)} [CI]" for name in PRIORSHIFT_COMPARED)
    lines += [
        f"Differences are fine-tuned − prior-shift on the same test papers; intervals at a Bonferroni-adjusted "
        f"{shift['adjusted_confidence']:.4g} confidence ({len(PRIORSHIFT_METRICS)} metrics per experiment). The "
        f"verdict reads the first {len(PRIORSHIFT_METRICS)}; the mean P(Accept) is shown, not judged (see the rules).",
        "",
        f"| experiment | {header} | verdict |",
        "| --- | " + " | ".join("---" for _ in PRIORSHIFT_COMPARED) + " | --- |",
    ]
    for c in shift["comparisons"]:
        cells = " | ".join(
            fmt_with_ci(c["differences"][name]["difference"], c["differences"][name]["ci"])
            for name in PRIORSHIFT_COMPARED
        )
        lines.append(f"| {c['name']} | {cells} | {c['verdict']} |")
    return lines


def zeroshot_lines(zeroshot: dict) -> list[str]:
    """Return the section comparing each fine-tuned experiment with the untrained model (the zero-shot reference)."""
    lines = ["", "## Fine-tuned vs zero-shot (the base model before fine-tuning)", ""]
    if not zeroshot["available"]:
        return lines + [f"No zero-shot comparison: {zeroshot['note']}."]
    lines += [
        "Differences are fine-tuned − zero-shot on the same test papers, with their "
        f"{zeroshot['confidence']:.0%} intervals (the zero-shot reference is one deterministic inference: its "
        "only spread is the test papers').",
        "",
    ]
    for entry in zeroshot["outcomes"].values():
        if entry["note"]:
            lines += [f"- {entry['label']}: none ({entry['note']})."]
            continue
        lines += [
            f"### {entry['label']}: zero-shot {fmt(entry['zeroshot'])}",
            "",
            f"| experiment | fine-tuned | Δ {entry['label']} (fine-tuned − zero-shot) [CI] |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {c['name']} | {fmt(c['finetuned'])} | {fmt_with_ci(c['difference'], c['ci'])} |"
            for c in entry["comparisons"]
        ]
        lines.append("")
    return lines


def seed_lines(seeds: dict, outcomes: dict) -> list[str]:
    """Return, per experiment, each seed's value, the between-seed SD and which spread dominates the interval."""
    lines = [
        "",
        "## Training seeds and test papers: which spread dominates",
        "",
        uncertainty_sentence(seeds),
        "",
    ]
    keys = [key for key in outcomes if any(key in e for e in seeds["experiments"])]
    lines += [
        "Per experiment and outcome: each seed's value, the between-seed SD, and the variance of the seed-mean due "
        "to seeds (SD² / seeds) against that due to test papers (bootstrap over papers alone); the larger "
        "dominates the interval.",
        "",
        "| experiment | outcome | seeds' values | between-seed SD | seed variance | test-set variance | dominant |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in seeds["experiments"]:
        for key in keys:
            spread = entry[key]
            values = ", ".join(fmt(v) for v in spread["seed_points"])
            variance = spread["variance"]
            lines.append(
                f"| {entry['name']} | {outcomes[key]['label']} | {values} | {fmt(spread['seed_sd'])} | "
                f"{fmt(variance['seed'], 5)} | {fmt(variance['test_set'], 5)} | {variance['dominant']} |"
            )
    return lines


def planning_lines(plan: dict) -> list[str]:
    """Return the section on how many seeds each hypothesis needs for its smallest observed step."""
    lines = [
        "",
        "## How many training seeds the study needs",
        "",
        f"Per hypothesis and outcome, its smallest observed step in the expected direction (H4: its smallest slope "
        f"difference) and the number of seeds per experiment that would give {plan['target_power']:.0%} power to "
        "find a step of that size at the level its verdict uses, from the observed between-seed SD of the step and "
        "its test-set SD (which more seeds do not shrink: 'not reachable' means the test set limits it). A "
        "planning figure: the seed SDs are themselves estimated from few seeds.",
        "",
        "| hypothesis | outcome | smallest step | size | test-set SD | between-seed SD | power now | seeds for "
        f"{plan['target_power']:.0%} power |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in plan["rows"]:
        if not row["seed_variance_estimated"]:
            needed = "seed variance not estimated (one seed)"
        elif row["seeds_needed"] is None:
            needed = f"not reachable (> {plan['max_seeds']} or limited by the test set)"
        else:
            needed = str(row["seeds_needed"])
        power_now = "—" if row["power_now"] is None else f"{row['power_now']:.2f} ({row['seeds_now']} seeds)"
        lines.append(
            f"| {row['hypothesis']} | {row['outcome']} | {row['step']} | {fmt(row['difference'])} | "
            f"{fmt(row['test_sd'])} | {fmt(row['seed_sd'])} | {power_now} | {needed} |"
        )
    if not plan["rows"]:
        lines.append("| — | — | no step in the expected direction | | | | | |")
    return lines


def markdown(result: dict) -> str:
    """Return the hypotheses as a Markdown report: verdicts first, then the evidence tables and the rules."""
    outcomes = result["outcomes"]
    lines = summary_lines(result)
    for key in ("H1", "H2", "H3"):
        lines += direction_lines(key, result["hypotheses"][key], outcomes)
    lines += interaction_lines(result["hypotheses"]["H4"], outcomes)
    lines += priorshift_lines(result["priorshift"])
    if "zeroshot" in result:
        lines += zeroshot_lines(result["zeroshot"])
    lines += seed_lines(result["seeds"], outcomes)
    lines += planning_lines(result["seed_planning"])
    lines += ["", "## Verdict rules", ""]
    lines += [f"- **{name}**: {rule}" for name, rule in result["verdict_rules"].items()]
    return "\n".join(lines) + "\n"

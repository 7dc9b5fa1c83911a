"""The hypothesis tests, on each outcome of wlf.evaluation.outcomes, with the prior-shift comparisons of
wlf.evaluation.priorshift.

H1  accept-weighting: a larger gamma raises predicted acceptance (per proportion).
H2  reject-weighting: a larger gamma lowers it (per proportion).
H3  reject-heavy training data (smaller accept fraction 1/N) lowers it (per variant and gamma).
H4  the gamma effect differs between proportions (interaction).
Each is tested on the predicted acceptance rate and on the mean P(Accept) with the same machinery. Every number is
a contrast of experiments' estimates with an interval over training seeds and test papers (wlf.evaluation.seeds):
all experiments are scored on the same test papers, and each bootstrap resample draws the same paper indices for
every experiment (metrics.bootstrap_indices with the evaluate seed). The verdicts hold a family-wise error: every
hypothesis on every outcome gets an equal share of 1 - confidence (verdict_levels). Arrays in, numbers out: the
estimates come from wlf.evaluation.outcomes, the words from wlf.evaluation.verdicts; the files are read by
hypotheses.py, the report is written by hypotheses_report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from wlf.errors import InputError
from wlf.evaluation import metrics, seed_planning, seeds
from wlf.evaluation.outcomes import OUTCOMES, Estimate, Outcome, estimate, missing_reason
from wlf.evaluation.priorshift import priorshift_comparisons
from wlf.evaluation.table import aggregated
from wlf.evaluation.verdicts import (
    VERDICT_RULES,
    combine,
    interaction_verdict,
    series_verdict,
    shared_bound,
)
from wlf.experiments import FINETUNED, VARIANTS, format_gamma, proportion_denominator

STATEMENTS = {
    "H1": "accept-weighting: a larger gamma raises predicted acceptance",
    "H2": "reject-weighting: a larger gamma lowers predicted acceptance",
    "H3": "reject-heavy training data (smaller accept fraction) lowers predicted acceptance",
    "H4": "the effect of gamma on predicted acceptance differs between proportions",
}
EXPECTED_SIGN = {"H1": +1, "H2": -1, "H3": -1}


@dataclass
class Run:
    """One fine-tuned experiment's predictions and its estimate of each outcome that can be computed."""

    name: str
    prop: str
    variant: str
    gamma: float
    accept_fraction: float
    predictions: list[metrics.Predictions]  # one per training seed
    seeds: tuple  # the training seed of each prediction set
    estimates: dict[str, Estimate]

    @property
    def denominator(self) -> int:
        return proportion_denominator(self.prop)


def build_runs(
    rows: list[dict],
    predictions: dict[str, list[metrics.Predictions]],
    indices: np.ndarray,
    outcomes: Iterable[Outcome],
    seed_labels: dict[str, list] | None = None,
) -> dict[str, Run]:
    """Return {name: Run} of the fine-tuned table rows, each with its seeds' predictions and outcome estimates.

    seed_labels: the training seed of each prediction set by name (positions 1, 2, ... when absent); runs of one
    proportion share a training set, so their estimates carry it as the block that pairing uses.
    """
    runs: dict[str, Run] = {}
    for row in rows:
        run_predictions = predictions[row["name"]]
        labels = tuple((seed_labels or {}).get(row["name"]) or range(1, len(run_predictions) + 1))
        runs[row["name"]] = Run(
            name=row["name"],
            prop=row["prop"],
            variant=row["variant"],
            gamma=float(row["gamma"]),
            accept_fraction=float(row["accept_fraction"]),
            predictions=run_predictions,
            seeds=labels,
            estimates={o.key: estimate(run_predictions, o, indices, labels, row["prop"]) for o in outcomes},
        )
    return runs


@dataclass(frozen=True)
class Levels:
    """The confidence of the descriptive intervals, the error each verdict may spend, and whether runs that share a
    training set and a seed are paired.

    The family is every hypothesis on every outcome: each gets verdict_alpha = (1 - confidence) / its size, so the
    chance that any of them reads "supported" when nothing moves is at most 1 - confidence (Bonferroni). H1-H3 claim
    a direction with every group agreeing (an intersection-union test: no further adjustment over groups), so their
    interval is two-sided at 1 - 2 * verdict_alpha; H4 claims any of its slope differences, two-sided, Bonferroni
    over its comparisons.
    """

    confidence: float
    verdict_alpha: float
    pair: bool = False

    @property
    def directional(self) -> float:
        return 1.0 - 2.0 * self.verdict_alpha

    def interaction(self, comparisons: int) -> float:
        return 1.0 - self.verdict_alpha / max(comparisons, 1)


def verdict_levels(settings: dict, n_outcomes: int) -> Levels:
    """Return the Levels of a study testing the four hypotheses on n_outcomes outcomes."""
    family = len(STATEMENTS) * max(n_outcomes, 1)
    return Levels(settings["confidence"], (1.0 - settings["confidence"]) / family, settings["pair_seeds"])


def paired_difference(
    later: Estimate,
    earlier: Estimate,
    confidence: float,
    pair: bool = False,
    bounds: tuple[float, float] | None = None,
) -> dict:
    """Return the difference later - earlier with its interval over seeds and paired test papers."""
    compared = seeds.difference(later, earlier, confidence, pair, bounds)
    return {"difference": compared["value"], "ci": compared["ci"], "seed_df": compared["seed_df"]}


def least_squares_weights(x: list[float]) -> np.ndarray:
    """Return w with sum_i w_i * y_i = the least-squares slope of y on log2(x)."""
    u = np.log2(np.asarray(x, dtype=float))
    centred = u - u.mean()
    return centred / (centred**2).sum()


def rank_correlations(x: list[float], values: list[float]) -> tuple[float | None, float | None]:
    """Return Spearman's rho and Kendall's tau-b of values against x (None when either has no spread)."""
    if np.ptp(x) == 0 or np.ptp(values) == 0:
        return None, None
    return float(stats.spearmanr(x, values).statistic), float(stats.kendalltau(x, values).statistic)


def trend(x: list[float], estimates: list[Estimate], levels: Levels) -> dict:
    """Return the slope per doubling of x (least squares on log2 x, with its interval) and, descriptive, Spearman's
    rho and Kendall's tau of the point values against x (with 3 to 5 levels their p-values would say little)."""
    rho, tau = rank_correlations(x, [e.point for e in estimates])
    slope = seeds.contrast(
        list(zip(least_squares_weights(x), estimates, strict=True)), levels.confidence, levels.pair
    )
    return {
        "slope_per_doubling": slope["value"],
        "slope_ci": slope["ci"],
        "spearman_rho": rho,
        "kendall_tau": tau,
    }


def series_test(
    names: list[str],
    x: list[float],
    estimates: list[Estimate],
    sign: int,
    bounds: tuple[float, float],
    levels: Levels,
) -> dict:
    """Return the points, steps, end-to-end difference (at the verdict's level), trend and verdict of estimates
    ordered by x."""
    overall = {
        "from": names[0],
        "to": names[-1],
        **paired_difference(estimates[-1], estimates[0], levels.directional, levels.pair, bounds),
        "confidence": levels.directional,
    }
    values = [e.point for e in estimates]
    trended = trend(x, estimates, levels)
    verdict, note = series_verdict(values, overall["ci"], trended["spearman_rho"], sign, bounds)
    return {
        "verdict": verdict,
        "note": note,
        "points": [
            {
                "name": name,
                "x": value,
                "value": e.point,
                "ci": seeds.contrast([(1.0, e)], levels.confidence, bounds=bounds)["ci"],
            }
            for name, value, e in zip(names, x, estimates, strict=True)
        ],
        "steps": [
            {
                "from": names[i],
                "to": names[i + 1],
                **paired_difference(estimates[i + 1], estimates[i], levels.confidence, levels.pair, bounds),
            }
            for i in range(len(names) - 1)
        ],
        "overall": overall,
        "trend": trended,
    }


def run_series_test(runs: list[Run], x: list[float], sign: int, outcome: Outcome, levels: Levels) -> dict:
    """Return series_test of the runs' estimates of one outcome."""
    estimates = [run.estimates[outcome.key] for run in runs]
    return series_test([run.name for run in runs], x, estimates, sign, outcome.bounds, levels)


def gamma_series(runs: dict[str, Run], variant: str, prop: str, baseline: Run | None) -> list[Run]:
    """Return the variant's runs at prop by increasing gamma, led by the baseline (gamma 1) when it shares prop."""
    series = sorted(
        (r for r in runs.values() if r.variant == variant and r.prop == prop), key=lambda r: r.gamma
    )
    if baseline is not None and baseline.prop == prop and series:
        series = [baseline, *series]
    return series


def gamma_hypothesis(
    runs: dict[str, Run], variant: str, sign: int, baseline: Run | None, outcome: Outcome, levels: Levels
) -> dict:
    """Return H1 (variant accept, sign +1) or H2 (variant reject, sign -1) on one outcome: per proportion, vs gamma."""
    groups = []
    props = sorted({r.prop for r in runs.values() if r.variant == variant}, key=proportion_denominator)
    for prop in props:
        series = gamma_series(runs, variant, prop, baseline)
        if len(series) >= 2:
            tested = run_series_test(series, [r.gamma for r in series], sign, outcome, levels)
            groups.append({"group": f"prop {prop}", "prop": prop, "x": "gamma", **tested})
    verdict, summary = combine(groups, "proportion")
    return {"verdict": verdict, "summary": summary, "groups": groups}


def mix_hypothesis(runs: dict[str, Run], outcome: Outcome, levels: Levels) -> dict:
    """Return H3 on one outcome: per (variant, gamma), against N of the accept fraction 1/N (expected to fall)."""
    groups = []
    keys = sorted({(r.variant, r.gamma) for r in runs.values()}, key=lambda k: (VARIANTS.index(k[0]), k[1]))
    for variant, gamma in keys:
        series = sorted(
            (r for r in runs.values() if (r.variant, r.gamma) == (variant, gamma)),
            key=lambda r: r.denominator,
        )
        if len(series) >= 2:
            tested = run_series_test(series, [r.denominator for r in series], -1, outcome, levels)
            group = f"{variant} gamma {format_gamma(gamma)}"
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
    return {"verdict": verdict, "summary": summary, "groups": groups}


def slope_comparison(
    gammas: list[float],
    estimates: list[Estimate],
    reference: list[Estimate],
    bounds: tuple[float, float],
    levels: Levels,
    adjusted: float,
) -> dict:
    """Return the slope of estimates minus the reference's over gammas, its adjusted CI and whether a bound holds."""
    weights = least_squares_weights(gammas)
    own = list(zip(weights, estimates, strict=True))
    other = list(zip(weights, reference, strict=True))
    slope = seeds.contrast(own, levels.confidence, levels.pair)
    ref_slope = seeds.contrast(other, levels.confidence, levels.pair)
    compared = seeds.contrast(own + [(-w, e) for w, e in other], adjusted, levels.pair)
    ci = compared["ci"]
    differs = ci is not None and (ci[0] > 0 or ci[1] < 0)
    at_bound = any(
        shared_bound([e.point for e in side], bounds) is not None for side in (estimates, reference)
    )
    return {
        "slope_per_doubling": slope["value"],
        "slope_ci": slope["ci"],
        "reference_slope_per_doubling": ref_slope["value"],
        "reference_slope_ci": ref_slope["ci"],
        "difference": compared["value"],
        "ci": ci,
        "seed_df": compared["seed_df"],
        "differs": differs,
        "at_bound": at_bound,
        "saturated": at_bound and not differs,
    }


def interaction_plan(runs: dict[str, Run], baseline: Run | None) -> list[tuple[str, str, str, list, dict]]:
    """Return (variant, reference prop, prop, shared gammas, {prop: {gamma: Run}}) of each slope comparison."""
    planned = []
    for variant in ("accept", "reject"):
        levels = {}
        for prop in sorted(
            {r.prop for r in runs.values() if r.variant == variant}, key=proportion_denominator
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
    return planned


def interaction_hypothesis(runs: dict[str, Run], baseline: Run | None, outcome: Outcome, levels: Levels) -> dict:
    """Return H4 on one outcome: per variant, each proportion's gamma slope minus the reference proportion's."""
    planned = interaction_plan(runs, baseline)
    # Bonferroni: "some slope differs" is claimed if any of the comparisons does
    adjusted = levels.interaction(len(planned))
    comparisons = []
    for variant, reference, prop, shared, by_prop in planned:
        estimates = [by_prop[prop][g].estimates[outcome.key] for g in shared]
        reference_estimates = [by_prop[reference][g].estimates[outcome.key] for g in shared]
        compared = slope_comparison(shared, estimates, reference_estimates, outcome.bounds, levels, adjusted)
        comparisons.append(
            {"variant": variant, "prop": prop, "reference_prop": reference, "gammas": shared, **compared}
        )
    verdict, summary = interaction_verdict(comparisons, adjusted)
    return {
        "verdict": verdict,
        "summary": summary,
        "adjusted_confidence": adjusted,
        "comparisons": comparisons,
    }


def outcome_hypotheses(runs: dict[str, Run], baseline: Run | None, outcome: Outcome, levels: Levels) -> dict:
    """Return {H1..H4: the test on one outcome} (verdict, summary, groups or comparisons)."""
    return {
        "H1": gamma_hypothesis(runs, "accept", +1, baseline, outcome, levels),
        "H2": gamma_hypothesis(runs, "reject", -1, baseline, outcome, levels),
        "H3": mix_hypothesis(runs, outcome, levels),
        "H4": interaction_hypothesis(runs, baseline, outcome, levels),
    }


def seed_plan(runs: dict[str, Run], baseline: Run | None, tested: dict, outcome: Outcome, levels: Levels) -> list:
    """Return the seed-planning rows of one outcome (wlf.evaluation.seed_planning): for H1-H3 the smallest step in
    the expected direction, for H4 the smallest slope difference, each at the level its verdict uses."""
    rows = []
    for key in ("H1", "H2", "H3"):
        found = seed_planning.smallest_step(tested[key]["groups"], EXPECTED_SIGN[key], outcome.bounds)
        if found is not None:
            earlier, later = (runs[name].estimates[outcome.key] for name in found)
            rows.append(
                seed_planning.plan_step(
                    key,
                    outcome.label,
                    [(1.0, later), (-1.0, earlier)],
                    f"{found[0]} -> {found[1]}",
                    levels.verdict_alpha,
                    levels.pair,
                )
            )
    comparisons = [c for c in tested["H4"]["comparisons"] if not c["saturated"]]
    if comparisons:
        c = min(comparisons, key=lambda c: abs(c["difference"]))
        by_gamma = {
            prop: {r.gamma: r for r in gamma_series(runs, c["variant"], prop, baseline)}
            for prop in (c["prop"], c["reference_prop"])
        }
        weights = least_squares_weights(c["gammas"])
        terms = [(w, by_gamma[c["prop"]][g].estimates[outcome.key]) for w, g in zip(weights, c["gammas"], strict=True)]
        terms += [
            (-w, by_gamma[c["reference_prop"]][g].estimates[outcome.key])
            for w, g in zip(weights, c["gammas"], strict=True)
        ]
        label = f"{c['variant']} slope {c['prop']} - {c['reference_prop']}"
        alpha = levels.verdict_alpha / (2 * len(tested["H4"]["comparisons"]))
        rows.append(seed_planning.plan_step("H4", outcome.label, terms, label, alpha, levels.pair))
    return rows


def untested_hypotheses(reason: str) -> dict:
    """Return {H1..H4: no verdict, the reason as the summary} for an outcome that cannot be computed."""
    untested = {key: {"verdict": None, "summary": reason, "groups": []} for key in ("H1", "H2", "H3")}
    return {**untested, "H4": {"verdict": None, "summary": reason, "comparisons": []}}


def run_hypotheses(
    table: list[dict],
    predictions: dict[str, list[metrics.Predictions]],
    priorshift: dict[str, list[metrics.Predictions]],
    settings: dict,
    seed_labels: dict[str, list] | None = None,
    zeroshot: metrics.Predictions | None = None,
) -> dict:
    """Return every hypothesis test on every outcome, the prior-shift and the zero-shot comparisons as one
    JSON-ready dict.

    predictions: each fine-tuned experiment's predictions, one per training seed, by experiment name, all on the
    same test papers in the same order; priorshift: the prior-shift counterparts that were not skipped, alike;
    seed_labels: the training seed of each fine-tuned prediction set, by name (positions when absent).
    zeroshot: the base model's own predictions on those papers (the zero-shot reference), if any.
    """
    # imported here: wlf.evaluation.zeroshot makes its intervals with this module's paired_difference
    from wlf.evaluation.zeroshot import zeroshot_comparisons

    finetuned = [row for row in aggregated(table) if row["method"] == FINETUNED and not row.get("skipped")]
    if not finetuned:
        raise InputError("the metrics table has no fine-tuned experiment")
    n_papers = predictions[finetuned[0]["name"]][0].n
    indices = metrics.bootstrap_indices(n_papers, settings["bootstrap_resamples"], settings["bootstrap_seed"])
    all_predictions = [p for row in finetuned for p in predictions[row["name"]]]
    missing = {o.key: missing_reason(o, all_predictions) for o in OUTCOMES}
    available = [o for o in OUTCOMES if missing[o.key] is None]
    runs = build_runs(finetuned, predictions, indices, available, seed_labels)
    levels = verdict_levels(settings, len(available))
    baseline = next((run for run in runs.values() if run.variant == "baseline"), None)
    by_outcome = {
        o.key: untested_hypotheses(missing[o.key])
        if missing[o.key]
        else outcome_hypotheses(runs, baseline, o, levels)
        for o in OUTCOMES
    }
    return {
        "settings": settings,
        "levels": {
            "confidence": levels.confidence,
            "family": [f"{key} on {o.label}" for o in available for key in STATEMENTS],
            "family_wise_error_bound": 1.0 - levels.confidence,
            "verdict_alpha": levels.verdict_alpha,
            "directional_confidence": levels.directional,
            "pair_seeds": levels.pair,
            "interval_method": seeds.METHOD,
        },
        "n_test_papers": int(n_papers),
        "seeds": seeds.seed_summary(runs.values(), available),
        "outcomes": {
            o.key: {"label": o.label, "available": missing[o.key] is None, "note": missing[o.key]}
            for o in OUTCOMES
        },
        "hypotheses": {
            key: {
                "statement": statement,
                **({"expected_sign": EXPECTED_SIGN[key]} if key in EXPECTED_SIGN else {}),
                "outcomes": {o.key: by_outcome[o.key][key] for o in OUTCOMES},
            }
            for key, statement in STATEMENTS.items()
        },
        "priorshift": priorshift_comparisons(
            runs.values(), aggregated(table), priorshift, indices, levels, baseline
        ),
        "seed_planning": {
            "target_power": seed_planning.TARGET_POWER,
            "max_seeds": seed_planning.MAX_SEEDS,
            "rows": [
                row
                for o in available
                for row in seed_plan(runs, baseline, by_outcome[o.key], o, levels)
            ],
        },
        "zeroshot": zeroshot_comparisons(runs.values(), zeroshot, indices, levels.confidence),
        "verdict_rules": VERDICT_RULES,
    }

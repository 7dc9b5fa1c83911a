"""The verdict rules: from point values, intervals and trend statistics to supported / not supported / saturated /
unclear. Numbers in, words out; the rules are written once, in VERDICT_RULES, and printed in hypotheses.md.
"""

from __future__ import annotations

SUPPORTED, NOT_SUPPORTED, UNCLEAR, SATURATED = "supported", "not supported", "unclear", "saturated"
# A value this close to a bound sits at it (rates are exact fractions; this only absorbs float sums).
AT_BOUND_TOLERANCE = 1e-12

VERDICT_RULES = {
    "intervals": (
        "Every estimate is an experiment's mean over its training seeds, and every interval is over seeds and test "
        "papers: the paired percentile bootstrap of test papers (the same papers for every experiment, seeds held "
        "fixed) combined by MOVER with a Student t interval of the between-seed variance at its Welch-Satterthwaite "
        "degrees of freedom (docs/statistics.md). With one seed per experiment it is the test-paper bootstrap alone."
    ),
    "family-wise error": (
        "The verdicts 'supported' form one family: each hypothesis on each outcome. Each spends an equal share "
        "alpha = (1 - confidence) / (number of hypotheses x outcomes), so the chance that any reads 'supported' "
        "when nothing moves is at most 1 - confidence (Bonferroni). H1-H3 read a direction (one-sided alpha: a "
        "two-sided 1 - 2 alpha interval); H4 any of its slope differences (two-sided, alpha / comparisons each)."
    ),
    "outcomes": (
        "Every hypothesis is tested on two outcomes with the same paired bootstrap resamples: the predicted "
        "acceptance rate (the fraction of test papers predicted Accept) and the mean P(Accept) (the mean "
        "probability of Accept over the test papers, threshold-free; absent in generate mode, which has no "
        "probabilities). The rules below apply to each outcome on its own; the two verdicts are not combined."
    ),
    "direction (H1, H2, H3)": (
        "For each group (a proportion for H1/H2; a variant and gamma for H3) the levels are ordered along x "
        "(gamma, or N of the accept fraction 1/N). 'supported' when the interval of the difference last level - "
        "first level, at the family-wise level above, lies entirely on the expected side of 0 and the Spearman "
        "correlation of the outcome's means with x has the expected sign; 'not supported' when that CI lies entirely on the other side of 0 "
        "or touches 0 from it (no change or the opposite change); 'unclear' otherwise."
    ),
    "saturated (H1, H2, H3)": (
        "A group that would not be 'supported' is 'saturated' instead (no room to move) when every level sits at "
        "the same bound of the outcome (0 or 1; for the rate: every model gives every paper the same answer), or "
        "when its first level already sits at the bound the expected change moves towards (0 for an expected "
        "decrease, 1 for an expected increase) and the CI of last - first includes 0 (it could not move the "
        "expected way and did not measurably move the other way). A saturated group is evidence neither for nor "
        "against the hypothesis; the probabilities underneath a saturated rate may still have moved."
    ),
    "combining groups (H1, H2, H3)": (
        "A hypothesis takes the verdict of its groups that are not saturated when they all agree, 'saturated' when "
        "every group is saturated, and 'unclear' otherwise (or when no group has two levels); the summary lists "
        "the groups of each verdict."
    ),
    "interaction (H4)": (
        "Per variant and proportion, the slope of the outcome per doubling of gamma (least squares on log2 gamma) "
        "over the gamma levels it shares with the reference proportion (the largest accept fraction; gamma = 1 "
        "is the baseline where it was trained), and the difference of the two slopes with its interval at H4's "
        "share of the family-wise error, Bonferroni-split over the comparisons. A comparison is 'saturated' when one of its two "
        "proportions sits at the same bound (0 or 1) at every shared gamma level, so its slope is 0 because the "
        "outcome cannot move there, and the CI includes 0. 'supported' when at least one CI excludes 0 (one that "
        "involves a proportion at a bound is marked in the summary: the bound, not the mix, may flatten that "
        "slope); 'not supported' when every CI includes 0 and at least one comparison is not saturated (no "
        "detectable interaction, not proof of none); 'saturated' when every comparison is; 'unclear' when no two "
        "proportions share two gamma levels."
    ),
    "prior shift": (
        "Per non-baseline experiment, fine-tuned - prior-shift differences in predicted acceptance rate, "
        "accuracy, F1 and ROC-AUC with paired-bootstrap CIs, Bonferroni-adjusted for the four metrics. "
        "'explained by a threshold move' when every CI "
        "includes 0; 'goes beyond a threshold move' when any CI excludes 0. The prior shift is a monotone map "
        "of the baseline's P(Accept), so its ROC-AUC is the baseline's: a ROC-AUC difference means the "
        "fine-tuned model ranks papers differently, which no threshold move can do. The difference in mean "
        "P(Accept) is shown beside them at the same adjusted level but is not part of the verdict: the "
        "counterpart's probabilities are the baseline's under the odds the theory predicts, so a gap there says "
        "the fine-tuned probabilities moved by more or less than that (a change of scale, i.e. calibration), "
        "which leaves every decision and the ranking of a threshold move intact."
    ),
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


def shared_bound(values: list[float], bounds: tuple[float, float]) -> float | None:
    """Return the bound (lower or upper) every value sits at, or None when they do not all sit at one."""
    for bound in bounds:
        if values and all(abs(value - bound) <= AT_BOUND_TOLERANCE for value in values):
            return bound
    return None


def saturation_note(
    values: list[float], ci: list[float] | None, sign: int, bounds: tuple[float, float]
) -> str | None:
    """Return why a series of point values (ordered along x) has no room to move the expected way, or None."""
    bound = shared_bound(values, bounds)
    if bound is not None:
        return f"every level sits at {bound:g}: no room to move"
    toward = bounds[1] if sign > 0 else bounds[0]
    includes_zero = ci is None or ci[0] <= 0.0 <= ci[1]
    if shared_bound(values[:1], (toward,)) is not None and includes_zero:
        change = "increase" if sign > 0 else "decrease"
        return f"the first level already sits at {toward:g}, so the expected {change} has no room"
    return None


def series_verdict(
    values: list[float], ci: list[float] | None, rho: float | None, sign: int, bounds: tuple[float, float]
) -> tuple[str, str | None]:
    """Return the verdict of one group and the saturation note (None unless saturated).

    values: the point values ordered along x; ci: the CI of last - first; rho: Spearman's rho of values with x.
    """
    verdict = direction_verdict(ci, sign)
    if verdict == SUPPORTED and not (rho is not None and rho * sign > 0):
        verdict = UNCLEAR  # the ends moved as expected but the levels between did not follow
    if verdict == SUPPORTED:
        return verdict, None
    note = saturation_note(values, ci, sign, bounds)
    return (SATURATED, note) if note else (verdict, None)


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
    informative = [verdict for verdict in by_verdict if verdict != SATURATED]
    if len(informative) > 1:
        return UNCLEAR, "; ".join(parts)
    return (informative[0] if informative else SATURATED), "; ".join(parts)


def interaction_verdict(comparisons: list[dict], adjusted: float) -> tuple[str, str]:
    """Return the H4 verdict and summary from slope comparisons, each with "differs" and "at_bound"."""
    if not comparisons:
        return UNCLEAR, "no two proportions share two gamma levels of a variant"

    def label(c: dict) -> str:
        return f"{c['variant']} {c['prop']} vs {c['reference_prop']}"

    differing = [label(c) + (" at a bound" if c["at_bound"] else "") for c in comparisons if c["differs"]]
    saturated = [label(c) for c in comparisons if c["saturated"]]
    if differing:
        verdict = SUPPORTED
    elif len(saturated) == len(comparisons):
        verdict = SATURATED
    else:
        verdict = NOT_SUPPORTED
    summary = f"{len(differing)} of {len(comparisons)} slope differences exclude 0" + (
        f" ({', '.join(differing)})" if differing else ""
    )
    summary += f" at a Bonferroni-adjusted {adjusted:.4g} confidence"
    if saturated:
        summary += f"; {len(saturated)} saturated ({', '.join(saturated)})"
    return verdict, summary

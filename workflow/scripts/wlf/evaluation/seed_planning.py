"""How many training seeds the study needs: per hypothesis and outcome, the number of seeds per experiment that
would give TARGET_POWER to find its smallest observed step at the level its verdict uses, from the observed
between-seed variances (of the two experiments of that step) and test-set variance (of the step itself).

With n seeds the step's interval (wlf.evaluation.seeds.contrast) has half-width
    h(n) = sqrt((z * sd_test)^2 + (t(df(n)) * sd_seed(n))^2),   sd_seed(n)^2 = sum_k s_k^2 / n,
df(n) the Welch-Satterthwaite degrees of freedom of the seed terms with n - 1 each, z and t at the verdict's one-sided
level. The estimate is roughly normal with variance sd_test^2 + sd_seed(n)^2, so the chance that the interval
excludes 0 when the true step equals the observed one is
    power(n) = Phi((|step| - h(n)) / sqrt(sd_test^2 + sd_seed(n)^2)).
The test-set variance does not shrink with seeds: when even infinitely many seeds leave power below the target, the
test set, not the seeds, limits the study, and the answer is None. The seed variances are themselves estimated from
a few seeds, so the number is a planning figure, not a guarantee.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from wlf.evaluation import seeds

TARGET_POWER = 0.8
MAX_SEEDS = 100
AT_BOUND = 0.005  # a rate within half a percent of 0 or 1: every model answers (almost) every paper alike


def power(step: float, test_variance: float, seed_units: list[float], n: int, alpha: float) -> float:
    """Return the chance that the interval of a step of this size excludes 0 with n seeds per experiment.

    seed_units: the between-seed variance s^2 of each independent seed term; alpha: the one-sided error.
    """
    seed_variance = sum(seed_units) / n
    dof = seeds.satterthwaite([unit / n for unit in seed_units], [n - 1] * len(seed_units))
    z = float(special.ndtri(1.0 - alpha))
    t = float(special.stdtrit(dof, 1.0 - alpha)) if seed_variance > 0 else 0.0
    half = np.hypot(z * np.sqrt(test_variance), t * np.sqrt(seed_variance))
    spread = np.sqrt(test_variance + seed_variance)
    if spread == 0:
        return float(abs(step) > half)
    return float(special.ndtr((abs(step) - half) / spread))


def seeds_needed(step: float, test_variance: float, seed_units: list[float], alpha: float) -> int | None:
    """Return the fewest seeds per experiment (2..MAX_SEEDS) with power >= TARGET_POWER, None when none has."""
    if power(step, test_variance, [0.0], 2, alpha) < TARGET_POWER:  # infinitely many seeds would not do
        return None
    for n in range(2, MAX_SEEDS + 1):
        if power(step, test_variance, seed_units, n, alpha) >= TARGET_POWER:
            return n
    return None


def plan_step(
    hypothesis: str, outcome_label: str, terms: seeds.Terms, label: str, alpha: float, pair: bool
) -> dict:
    """Return the planning row of one contrast (a step, or a slope difference): its size, spreads and seeds needed."""
    step = sum(c * e.point for c, e in terms)
    test_variance = float(np.nanvar(sum(c * e.resampled for c, e in terms), ddof=1))
    units = [unit for unit, _ in seeds.seed_unit_variances(terms, pair)]
    n_now = min(e.n_seeds for _, e in terms)
    return {
        "hypothesis": hypothesis,
        "outcome": outcome_label,
        "step": label,
        "difference": step,
        "one_sided_alpha": alpha,
        "test_sd": float(np.sqrt(test_variance)),
        "seed_sd": float(np.sqrt(sum(units))) if units else None,
        "seeds_now": n_now,
        "power_now": power(step, test_variance, units, n_now, alpha) if units and n_now >= 2 else None,
        "seeds_needed": seeds_needed(step, test_variance, units, alpha) if units else None,
        "seed_variance_estimated": bool(units),
    }


def at_bound(value: float, bounds: tuple[float, float]) -> bool:
    """Return whether a value sits at one of the outcome's bounds (a rate of 0 or 1 cannot move further)."""
    return any(abs(value - bound) <= AT_BOUND for bound in bounds)


def smallest_step(groups: list[dict], sign: int, bounds: tuple[float, float] = (0.0, 1.0)) -> tuple[str, str] | None:
    """Return (from, to) of the smallest step in the expected direction among the groups that are not saturated,
    leaving out steps that start or end at a bound (a floor of 0 says nothing of what more seeds would show)."""
    steps = [
        step
        for group in groups
        if group["verdict"] != "saturated"
        for step in group["steps"]
        if step["difference"] is not None
        and step["difference"] * sign > 0
        and not any(
            at_bound(point["value"], bounds)
            for point in group["points"]
            if point["name"] in (step["from"], step["to"])
        )
    ]
    if not steps:
        return None
    smallest = min(steps, key=lambda step: abs(step["difference"]))
    return smallest["from"], smallest["to"]

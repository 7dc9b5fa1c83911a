"""How many seeds the study needs: power of a step's interval with n seeds, and the fewest seeds for 80 %."""

import numpy as np
import pytest
from scipy import stats

from wlf.evaluation import seed_planning


def test_power_of_a_step_measured_by_test_papers_alone_is_the_normal_power():
    # no seed variance: the interval is step +- z * sd_test, so power = Phi(|step| / sd_test - z)
    step, sd_test, alpha = 0.05, 0.02, 0.025
    expected = stats.norm.cdf(step / sd_test - stats.norm.ppf(1 - alpha))
    assert seed_planning.power(step, sd_test**2, [0.0], 3, alpha) == pytest.approx(expected)


def test_power_with_seeds_uses_students_t_at_the_satterthwaite_df():
    step, test_var, units, n, alpha = 0.1, 0.0, [0.02, 0.02], 3, 0.025
    seed_var = sum(units) / n
    dof = 2 * (n - 1)  # two equal terms with n - 1 each
    expected = stats.norm.cdf((step - stats.t.ppf(1 - alpha, dof) * np.sqrt(seed_var)) / np.sqrt(seed_var))
    assert seed_planning.power(step, test_var, units, n, alpha) == pytest.approx(expected)


def test_the_seeds_needed_are_the_fewest_that_reach_80_percent_power():
    step, test_var, units, alpha = 0.05, 0.01**2, [0.04**2, 0.05**2], 0.00625
    needed = seed_planning.seeds_needed(step, test_var, units, alpha)
    assert 2 < needed < seed_planning.MAX_SEEDS
    assert seed_planning.power(step, test_var, units, needed, alpha) >= 0.8
    assert seed_planning.power(step, test_var, units, needed - 1, alpha) < 0.8
    # a noisier training needs more seeds
    assert needed < seed_planning.seeds_needed(step, test_var, [1.5 * u for u in units], alpha) < 100


def test_a_step_the_test_set_cannot_resolve_needs_more_than_any_number_of_seeds():
    # sd_test 0.03 against a step of 0.02: even infinitely many seeds leave power far below 80 %
    assert seed_planning.seeds_needed(0.02, 0.03**2, [0.01**2], 0.025) is None


def test_the_smallest_step_is_taken_in_the_expected_direction_outside_saturated_groups():
    def points(**values):
        return [{"name": name, "value": value} for name, value in values.items()]

    groups = [
        {"verdict": "supported", "points": points(a=0.3, b=0.35, c=0.34), "steps": [{"from": "a", "to": "b", "difference": 0.05}, {"from": "b", "to": "c", "difference": -0.01}]},
        {"verdict": "unclear", "points": points(d=0.2, e=0.22), "steps": [{"from": "d", "to": "e", "difference": 0.02}]},
        {"verdict": "saturated", "points": points(f=0.5, g=0.501), "steps": [{"from": "f", "to": "g", "difference": 0.001}]},
        {"verdict": "supported", "points": points(h=0.001, i=0.0), "steps": [{"from": "h", "to": "i", "difference": -0.001}]},
    ]  # fmt: skip
    assert seed_planning.smallest_step(groups, +1) == ("d", "e")
    assert seed_planning.smallest_step(groups, -1) == ("b", "c")  # h -> i ends at the floor: left out
    assert seed_planning.smallest_step(groups[2:], +1) is None

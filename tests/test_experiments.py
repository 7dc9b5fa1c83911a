"""The experiment grid: names, proportions, weights, and the config errors that name their key."""

import pytest

from snakemake_runner import load_config
from wlf import experiments as grid


def entry(variant="accept", gamma=2.0, prop="1_3", name=None):
    return {
        "name": name or grid.experiment_name(variant, gamma, prop),
        "prop": prop,
        "variant": variant,
        "gamma": gamma,
    }


def test_config_lists_the_19_experiments_of_the_study():
    experiments = grid.parse_experiments(load_config()["experiments"])
    assert len(experiments) == 19
    by_prop = {
        prop: sorted((e.variant, e.gamma) for e in experiments if e.prop == prop)
        for prop in ("1_2", "1_3", "1_4", "1_8")
    }
    assert by_prop["1_2"] == [
        ("accept", 2.0),
        ("accept", 4.0),
        ("accept", 8.0),
        ("baseline", 1.0),
        ("reject", 2.0),
        ("reject", 4.0),
        ("reject", 8.0),
    ]
    for prop in ("1_3", "1_4", "1_8"):
        assert by_prop[prop] == [("accept", 2.0), ("accept", 4.0), ("reject", 2.0), ("reject", 4.0)]


def test_demo_config_keeps_the_same_experiments():
    assert "experiments" not in load_config("demo.yaml")


def test_names_follow_variant_gamma_prop():
    assert grid.experiment_name("accept", 2, "1_3") == "accept_gamma2.0_prop1_3"
    assert grid.experiment_name("reject", 0.5, "1_8") == "reject_gamma0.5_prop1_8"
    assert grid.experiment_name("baseline", 1.0, "1_2") == "baseline_gamma1.0_prop1_2"


@pytest.mark.parametrize(("prop", "fraction"), [("1_2", 0.5), ("1_3", 1 / 3), ("1_4", 0.25), ("1_8", 0.125)])
def test_proportion_is_accept_fraction_one_over_n(prop, fraction):
    assert grid.accept_fraction(prop) == pytest.approx(fraction)


@pytest.mark.parametrize(
    ("label", "variant", "gamma", "weight"),
    [
        ("Accept", "accept", 4.0, 4.0),
        ("Reject", "accept", 4.0, 1.0),
        ("Reject", "reject", 8.0, 8.0),
        ("Accept", "reject", 8.0, 1.0),
        ("Accept", "baseline", 1.0, 1.0),
        ("Reject", "baseline", 1.0, 1.0),
    ],
)
def test_example_weight_multiplies_only_the_weighted_class(label, variant, gamma, weight):
    assert grid.example_weight(label, variant, gamma) == weight


@pytest.mark.parametrize(
    ("bad_entry", "message"),
    [
        (entry(variant="both"), r"experiments\[0\]\.variant = 'both' is not one of"),
        (entry(gamma=0.0, name="accept_gamma0.0_prop1_3"), r"experiments\[0\]\.gamma = 0.0 must be > 0"),
        (
            entry(variant="baseline", gamma=2.0),
            r"experiments\[0\]\.gamma = 2.0: a baseline experiment must have gamma 1.0",
        ),
        (
            entry(prop="2_3", name="accept_gamma2.0_prop2_3"),
            r"experiments\[0\]\.prop: proportion '2_3' is not of the form 1_N",
        ),
        (entry(prop="1_1", name="accept_gamma2.0_prop1_1"), r"experiments\[0\]\.prop: proportion '1_1'"),
        (
            entry(name="accept_gamma4.0_prop1_3"),
            r"experiments\[0\]\.name = 'accept_gamma4.0_prop1_3' does not match",
        ),
    ],
)
def test_bad_experiment_entries_name_their_key(bad_entry, message):
    with pytest.raises(grid.ExperimentConfigError, match=message):
        grid.parse_experiments([bad_entry])


def test_duplicate_experiment_names_are_rejected():
    with pytest.raises(
        grid.ExperimentConfigError,
        match=r"experiments\[1\]\.name = 'accept_gamma2.0_prop1_3' duplicates experiments\[0\]",
    ):
        grid.parse_experiments([entry(), entry()])


def test_overrides_for_unknown_experiments_are_rejected():
    experiments = grid.parse_experiments([entry()])
    with pytest.raises(
        grid.ExperimentConfigError, match="train.overrides names experiments that are not configured: nope"
    ):
        grid.check_overrides({"nope": {}}, experiments)

"""Hypothesis tests on synthetic predictions with known effects: verdicts, pairing, interaction, prior shift."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

import hypotheses as hypotheses_cli
from wlf import experiments as grid
from wlf.evaluation import hypotheses_report, hypothesis_tests, priorshift, verdicts
from wlf.evaluation.outcomes import MEAN_P, RATE
from wlf.evaluation.predictions import PredictionFileError
from wlf.settings import defaults

N_PAPERS = 200
GRID = [("baseline", 1.0, "1_2")] + [
    (variant, gamma, prop)
    for prop in ("1_2", "1_4")
    for variant in ("accept", "reject")
    for gamma in (2.0, 4.0)
]
SETTINGS = {**defaults("evaluation"), "bootstrap_resamples": 100}


def paper_scores(seed=0):
    """Return (labels, baseline logits) of the synthetic test set."""
    rng = np.random.default_rng(seed)
    is_accept = rng.random(N_PAPERS) < 0.3
    return np.where(is_accept, "Accept", "Reject"), 1.5 * is_accept + rng.normal(size=N_PAPERS) + 1.0


def rows_from_logits(labels, logits):
    p_accept = 1.0 / (1.0 + np.exp(-logits))
    return [
        {
            "id": f"p{i}",
            "label": str(label),
            "pred": "Accept" if p >= 0.5 else "Reject",
            "p_accept": float(p),
            "raw_answer": None,
        }
        for i, (label, p) in enumerate(zip(labels, p_accept, strict=True))
    ]


def write_rows(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def table_row(name, method, skipped=None):
    variant, rest = name.split("_gamma")
    gamma, prop = rest.split("_prop")
    return {
        "name": name,
        "method": method,
        "prop": prop,
        "accept_fraction": grid.accept_fraction(prop),
        "variant": variant,
        "gamma": float(gamma),
        "seed": "mean",
        "skipped": skipped,
    }


def prior_shift_logit(variant, gamma, prop):
    """Return the log-odds shift a pure prior shift predicts (what the synthetic 'fine-tuned' models follow)."""
    return math.log(priorshift.odds_factor(variant, gamma, grid.accept_fraction(prop), 0.5))


def make_grid(tmp_path, shift=prior_shift_logit, experiments=GRID, with_priorshift=True, skipped=None):
    """Write fine-tuned (and prior-shift) predictions whose logits move by shift(variant, gamma, prop)."""
    labels, logits = paper_scores()
    baseline_rows = rows_from_logits(labels, logits)
    table = []
    for variant, gamma, prop in experiments:
        name = grid.experiment_name(variant, gamma, prop)
        write_rows(
            tmp_path / "predictions" / f"{name}.jsonl",
            rows_from_logits(labels, logits + shift(variant, gamma, prop)),
        )
        table.append(table_row(name, "finetuned"))
        if variant != "baseline" and with_priorshift:
            factor = priorshift.odds_factor(variant, gamma, grid.accept_fraction(prop), 0.5)
            write_rows(
                tmp_path / "priorshift" / f"{name}.jsonl", priorshift.shifted_rows(baseline_rows, factor, 0.5)
            )
            table.append(table_row(name, "priorshift", skipped))
    return table


def prediction_paths(tmp_path, table, method):
    """Return (the prediction files of a method's table rows, [name, seed] of each), in table order (as the rule
    passes them): one training seed per experiment."""
    folder = tmp_path / ("predictions" if method == "finetuned" else method)
    rows = [row for row in table if row["method"] == method]
    return [str(folder / f"{row['name']}.jsonl") for row in rows], [[row["name"], 1] for row in rows]


def outcome_of(result, key, outcome=RATE):
    """Return one hypothesis's test on one outcome (the predicted acceptance rate by default)."""
    return result["hypotheses"][key]["outcomes"][outcome]


def run(tmp_path, table, settings=SETTINGS, zeroshot=None):
    return hypotheses_cli.hypotheses_of_files(
        table,
        prediction_paths(tmp_path, table, "finetuned"),
        prediction_paths(tmp_path, table, "priorshift"),
        settings,
        zeroshot,
    )


@pytest.mark.parametrize(
    ("ci", "sign", "verdict"),
    [
        ([0.01, 0.2], 1, "supported"),
        ([-0.1, 0.2], 1, "unclear"),
        ([-0.2, -0.01], 1, "not supported"),
        ([0.0, 0.0], 1, "not supported"),
        ([-0.2, -0.01], -1, "supported"),
        ([0.0, 0.3], -1, "not supported"),
        (None, 1, "unclear"),
    ],
)
def test_direction_verdict_rule(ci, sign, verdict):
    assert verdicts.direction_verdict(ci, sign) == verdict


def test_effects_that_follow_the_prior_shift_support_h1_h2_h3(tmp_path):
    result = run(tmp_path, make_grid(tmp_path, with_priorshift=False))
    h1, h2, h3 = (outcome_of(result, key) for key in ("H1", "H2", "H3"))
    assert (h1["verdict"], h2["verdict"], h3["verdict"]) == ("supported", "supported", "supported")
    assert [group["prop"] for group in h1["groups"]] == ["1_2", "1_4"]
    # the baseline (gamma 1) leads the series of its own proportion only
    assert [point["name"] for point in h1["groups"][0]["points"]] == [
        "baseline_gamma1.0_prop1_2",
        "accept_gamma2.0_prop1_2",
        "accept_gamma4.0_prop1_2",
    ]
    assert [point["x"] for point in h1["groups"][1]["points"]] == [2.0, 4.0]
    assert h1["groups"][0]["trend"]["spearman_rho"] == pytest.approx(1.0)
    assert h2["groups"][0]["overall"]["difference"] < 0
    assert [group["group"] for group in h3["groups"]] == [
        "accept gamma 2.0",
        "accept gamma 4.0",
        "reject gamma 2.0",
        "reject gamma 4.0",
    ]
    assert result["n_test_papers"] == N_PAPERS


def test_identical_experiments_show_no_effect(tmp_path):
    result = run(tmp_path, make_grid(tmp_path, shift=lambda *_: 0.0, with_priorshift=False))
    h1 = outcome_of(result, "H1")
    assert h1["verdict"] == "not supported"
    for group in h1["groups"]:
        assert group["overall"]["difference"] == 0.0 and group["overall"]["ci"] == [0.0, 0.0]
    assert outcome_of(result, "H2")["verdict"] == "not supported"
    assert outcome_of(result, "H4")["verdict"] == "not supported"


def test_paired_bootstrap_of_a_difference_is_much_narrower_than_each_interval(tmp_path):
    labels, logits = paper_scores()
    rows = rows_from_logits(labels, logits)
    changed = [dict(row) for row in rows]
    flips = [i for i, row in enumerate(rows) if row["pred"] == "Reject"][:5]
    for i in flips:
        changed[i]["pred"] = "Accept"
    write_rows(tmp_path / "predictions" / "baseline_gamma1.0_prop1_2.jsonl", rows)
    write_rows(tmp_path / "predictions" / "accept_gamma2.0_prop1_2.jsonl", changed)
    table = [
        table_row("baseline_gamma1.0_prop1_2", "finetuned"),
        table_row("accept_gamma2.0_prop1_2", "finetuned"),
    ]
    group = outcome_of(run(tmp_path, table), "H1")["groups"][0]
    lo, hi = group["overall"]["ci"]
    assert group["overall"]["difference"] == pytest.approx(5 / N_PAPERS)
    assert lo > 0.0  # every resample that holds a flipped paper raises the rate
    point_lo, point_hi = group["points"][0]["ci"]
    assert hi - lo < (point_hi - point_lo) / 2


def test_a_gamma_effect_that_vanishes_on_reject_heavy_data_is_an_interaction(tmp_path):
    def shift(variant, gamma, prop):
        # at 1_2 accept-gamma moves the rate from about 0.5 (gamma 2) to 0.8 (gamma 4); at 1_4 it moves nothing
        if variant == "accept":
            return 1.5 * math.log2(gamma) - 3.0 if prop == "1_2" else 0.0
        return -math.log(gamma) if variant == "reject" else 0.0

    h4 = outcome_of(run(tmp_path, make_grid(tmp_path, shift=shift, with_priorshift=False)), "H4")
    assert h4["verdict"] == "supported"
    by_variant = {c["variant"]: c for c in h4["comparisons"]}
    accept = by_variant["accept"]
    assert (accept["prop"], accept["reference_prop"], accept["gammas"]) == ("1_4", "1_2", [2.0, 4.0])
    assert accept["slope_per_doubling"] == pytest.approx(0.0, abs=1e-12) and accept["differs"] is True
    assert accept["ci"][1] < 0
    # the family is H1-H4 on two outcomes: H4 on the rate spends 0.05 / 8, over its 2 comparisons
    assert h4["adjusted_confidence"] == pytest.approx(1 - 0.05 / 8 / 2)


def test_a_finetuned_model_equal_to_its_prior_shift_is_a_threshold_move(tmp_path):
    result = run(tmp_path, make_grid(tmp_path, experiments=GRID[:5]))
    shift = result["priorshift"]
    assert shift["available"] and len(shift["comparisons"]) == 4
    for comparison in shift["comparisons"]:
        assert comparison["verdict"] == "explained by a threshold move"
        for difference in comparison["differences"].values():
            assert difference["difference"] == pytest.approx(0.0, abs=1e-9)


def test_prior_shift_comparisons_are_named_after_their_experiment(tmp_path):
    result = run(tmp_path, make_grid(tmp_path, experiments=GRID[:5]))
    names = [grid.experiment_name(variant, gamma, prop) for variant, gamma, prop in GRID[1:5]]
    assert [c["name"] for c in result["priorshift"]["comparisons"]] == names
    text = hypotheses_report.markdown(result)
    assert all(f"| {name} | " in text.split("## Fine-tuned vs prior-shift counterpart")[1] for name in names)


def test_a_model_that_reranks_papers_goes_beyond_a_threshold_move(tmp_path):
    table = make_grid(tmp_path, experiments=GRID[:2])
    labels, logits = paper_scores()
    # the "fine-tuned" model knows the labels better than the baseline: a new ranking, higher ROC-AUC
    sharper = logits + 3.0 * (labels == "Accept") - 1.0
    write_rows(tmp_path / "predictions" / "accept_gamma2.0_prop1_2.jsonl", rows_from_logits(labels, sharper))
    (comparison,) = run(tmp_path, table)["priorshift"]["comparisons"]
    assert comparison["verdict"] == "goes beyond a threshold move"
    assert "roc_auc" in comparison["beyond_in"] and comparison["differences"]["roc_auc"]["difference"] > 0.1


def test_skipped_prior_shift_is_reported_not_compared(tmp_path):
    reason = "the baseline predictions have no p_accept (infer.mode = generate)"
    result = run(tmp_path, make_grid(tmp_path, experiments=GRID[:3], skipped=reason))
    shift = result["priorshift"]
    assert not shift["available"] and shift["comparisons"] == []
    assert shift["note"] == reason and len(shift["absent"]) == 2
    assert f"Prior-shift counterparts absent for 2 experiment(s): {reason}" in hypotheses_report.markdown(
        result
    )


def test_predictions_of_different_test_sets_are_refused(tmp_path):
    table = make_grid(tmp_path, experiments=GRID[:2], with_priorshift=False)
    path = tmp_path / "predictions" / "accept_gamma2.0_prop1_2.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[5]["id"] = "another-paper"
    write_rows(path, rows)
    with pytest.raises(
        PredictionFileError, match=r"accept_gamma2.0_prop1_2.jsonl row 6 is paper 'another-paper'"
    ):
        run(tmp_path, table)


def test_main_writes_json_and_markdown_with_verdicts_and_rules(tmp_path):
    table = make_grid(tmp_path, experiments=GRID[:5] + [("accept", 2.0, "1_4")])
    table_path = tmp_path / "all_metrics.json"
    table_path.write_text(json.dumps(table))
    out_json, out_md = tmp_path / "out" / "hypotheses.json", tmp_path / "out" / "hypotheses.md"
    finetuned, runs = prediction_paths(tmp_path, table, "finetuned")
    shifted, shifted_runs = prediction_paths(tmp_path, table, "priorshift")
    hypotheses_cli.main(
        [
            "--all-metrics",
            str(table_path),
            "--predictions",
            *finetuned,
            "--runs",
            json.dumps(runs),
            "--priorshift",
            *shifted,
            "--priorshift-runs",
            json.dumps(shifted_runs),
            "--settings",
            json.dumps({"bootstrap_resamples": 50}),
            "--output-json",
            str(out_json),
            "--output-md",
            str(out_md),
        ]
    )
    result = json.loads(out_json.read_text())
    assert set(result["hypotheses"]) == {"H1", "H2", "H3", "H4"}
    assert result["settings"]["bootstrap_resamples"] == 50
    text = out_md.read_text()
    assert "| hypothesis | statement | predicted acceptance rate | mean P(Accept) |" in text
    assert (
        "| H1 | accept-weighting: a larger gamma raises predicted acceptance | **supported** (seed variance not estimated) | "
        "**supported** (seed variance not estimated) |" in text
    )
    assert "## Verdict rules" in text and "Bonferroni" in text
    assert "| accept_gamma2.0_prop1_4 |" in text


# ---------------------------------------------------------------- saturation and the second outcome
FLOOR, CEILING = (
    -9.0,
    9.0,
)  # logit offsets that push every paper's P(Accept) below / above 0.5 in every experiment


def offset_shift(offset, props=("1_2", "1_4")):
    """Return a shift that follows the prior shift, moved by offset at the given proportions."""
    return lambda variant, gamma, prop: (
        prior_shift_logit(variant, gamma, prop) + (offset if prop in props else 0.0)
    )


def group_verdicts(hypothesis):
    return {group["group"]: group["verdict"] for group in hypothesis["groups"]}


@pytest.mark.parametrize(
    ("values", "ci", "rho", "sign", "verdict"),
    [
        ([0.0, 0.0, 0.0], [0.0, 0.0], None, -1, "saturated"),  # floor: nothing can go lower
        ([0.0, 0.0, 0.0], [0.0, 0.0], None, +1, "saturated"),  # stuck at the floor: every level at one bound
        ([1.0, 1.0], [0.0, 0.0], None, +1, "saturated"),  # ceiling
        ([0.0, 0.01], [0.0, 0.02], 1.0, -1, "saturated"),  # at the floor, no measurable move the other way
        ([1.0, 0.99], [-0.02, 0.0], -1.0, +1, "saturated"),  # at the ceiling, likewise
        ([0.0, 0.05], [0.02, 0.08], 1.0, -1, "not supported"),  # from the floor it went up: evidence against
        ([0.3, 0.3], [0.0, 0.0], None, -1, "not supported"),  # no change away from the bounds
        ([0.0, 0.2], [0.1, 0.3], 1.0, +1, "supported"),  # up from the floor as expected
        ([0.4, 0.0, 0.0], [-0.5, -0.3], -0.8, -1, "supported"),  # down into the floor as expected
        ([0.2, 0.1], [-0.3, 0.1], -1.0, -1, "unclear"),
    ],
)
def test_series_verdict_rule_with_saturation(values, ci, rho, sign, verdict):
    assert verdicts.series_verdict(values, ci, rho, sign, (0.0, 1.0))[0] == verdict


@pytest.mark.parametrize(
    ("group_verdicts_", "overall"),
    [
        (["saturated", "saturated"], "saturated"),
        (["supported", "saturated"], "supported"),
        (["not supported", "saturated", "not supported"], "not supported"),
        (["supported", "not supported", "saturated"], "unclear"),
        (["supported", "supported"], "supported"),
    ],
)
def test_saturated_groups_leave_the_verdict_to_the_others(group_verdicts_, overall):
    groups = [{"group": f"g{i}", "verdict": v} for i, v in enumerate(group_verdicts_)]
    verdict, summary = verdicts.combine(groups, "proportion")
    assert verdict == overall
    if "saturated" in group_verdicts_:
        assert "saturated for " in summary


def test_floor_baseline_without_accepts_makes_h2_saturated_on_the_rate_and_supported_on_mean_p(tmp_path):
    result = run(tmp_path, make_grid(tmp_path, shift=offset_shift(FLOOR), with_priorshift=False))
    h2_rate, h2_mean_p = outcome_of(result, "H2"), outcome_of(result, "H2", MEAN_P)
    assert h2_rate["groups"][0]["points"][0]["name"] == "baseline_gamma1.0_prop1_2"
    assert {p["value"] for g in h2_rate["groups"] for p in g["points"]} == {
        0.0
    }  # no model predicts an Accept
    assert group_verdicts(h2_rate) == {"prop 1_2": "saturated", "prop 1_4": "saturated"}
    assert h2_rate["verdict"] == "saturated"
    assert h2_rate["groups"][0]["note"] == "every level sits at 0: no room to move"
    assert group_verdicts(h2_mean_p) == {"prop 1_2": "supported", "prop 1_4": "supported"}
    assert h2_mean_p["verdict"] == "supported" and h2_mean_p["groups"][0]["overall"]["difference"] < 0
    # the same floor hides H1 and H3 on the rate, while the probabilities show both
    for key in ("H1", "H3", "H4"):
        assert outcome_of(result, key)["verdict"] == "saturated", key
    assert (
        outcome_of(result, "H1", MEAN_P)["verdict"]
        == outcome_of(result, "H3", MEAN_P)["verdict"]
        == "supported"
    )
    assert all(c["saturated"] and c["at_bound"] for c in outcome_of(result, "H4")["comparisons"])
    text = hypotheses_report.markdown(result)
    assert (
        "| H2 | reject-weighting: a larger gamma lowers predicted acceptance | **saturated** (seed variance not estimated) | "
        "**supported** (seed variance not estimated) |" in text
    )
    assert "**saturated (H1, H2, H3)**: A group that would not be 'supported' is 'saturated' instead" in text


def test_ceiling_baseline_accepting_everything_makes_h1_saturated_on_the_rate(tmp_path):
    result = run(tmp_path, make_grid(tmp_path, shift=offset_shift(CEILING), with_priorshift=False))
    h1_rate, h1_mean_p = outcome_of(result, "H1"), outcome_of(result, "H1", MEAN_P)
    assert {p["value"] for g in h1_rate["groups"] for p in g["points"]} == {1.0}
    assert group_verdicts(h1_rate) == {"prop 1_2": "saturated", "prop 1_4": "saturated"}
    assert h1_rate["verdict"] == "saturated" and h1_mean_p["verdict"] == "supported"
    assert h1_rate["groups"][1]["note"] == "every level sits at 1: no room to move"


def test_a_floor_in_one_proportion_leaves_the_verdict_to_the_other(tmp_path):
    result = run(
        tmp_path, make_grid(tmp_path, shift=offset_shift(FLOOR, props=("1_4",)), with_priorshift=False)
    )
    h2 = outcome_of(result, "H2")
    assert group_verdicts(h2) == {"prop 1_2": "supported", "prop 1_4": "saturated"}
    assert h2["verdict"] == "supported"
    assert h2["summary"] == "supported for 1 of 2 (prop 1_2); saturated for 1 of 2 (prop 1_4)"
    h4 = outcome_of(result, "H4")
    by_variant = {c["variant"]: c for c in h4["comparisons"]}
    assert by_variant["reject"]["at_bound"] and by_variant["accept"]["at_bound"]


def test_the_first_level_at_the_bound_with_an_opposite_move_is_not_supported(tmp_path):
    labels, logits = paper_scores()
    floor = rows_from_logits(labels, logits + FLOOR)  # the baseline predicts no Accept
    raised = [dict(row) for row in floor]
    for row in raised[:20]:
        row["pred"] = "Accept"  # the reject-weighted model accepts 20 papers: the opposite of H2
    write_rows(tmp_path / "predictions" / "baseline_gamma1.0_prop1_2.jsonl", floor)
    write_rows(tmp_path / "predictions" / "reject_gamma2.0_prop1_2.jsonl", raised)
    table = [
        table_row(name, "finetuned") for name in ("baseline_gamma1.0_prop1_2", "reject_gamma2.0_prop1_2")
    ]
    h2 = outcome_of(run(tmp_path, table), "H2")
    assert h2["verdict"] == "not supported" and h2["groups"][0]["note"] is None


def test_generate_mode_tests_the_rate_and_says_why_mean_p_has_no_verdict(tmp_path):
    table = make_grid(tmp_path, with_priorshift=False)
    for path in prediction_paths(tmp_path, table, "finetuned")[0]:
        rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
        write_rows(Path(path), [{**row, "p_accept": None, "raw_answer": row["pred"]} for row in rows])
    result = run(tmp_path, table)
    reason = "no probabilities (infer.mode = generate)"
    assert result["outcomes"][MEAN_P] == {"label": "mean P(Accept)", "available": False, "note": reason}
    assert result["outcomes"][RATE]["available"] is True
    for key in ("H1", "H2", "H3", "H4"):
        assert outcome_of(result, key, MEAN_P)["verdict"] is None
        assert outcome_of(result, key, MEAN_P)["summary"] == reason
    assert outcome_of(result, "H1")["verdict"] == "supported"
    text = hypotheses_report.markdown(result)
    assert (
        f"| H1 | accept-weighting: a larger gamma raises predicted acceptance | **supported** (seed variance not estimated) | {reason} |"
        in text
    )
    assert f"| mean P(Accept) | {reason} | {reason} |" in text


def test_both_outcomes_share_the_paired_resamples(tmp_path):
    result = run(tmp_path, make_grid(tmp_path, experiments=GRID[:3], with_priorshift=False))
    rate, mean_p = outcome_of(result, "H1"), outcome_of(result, "H1", MEAN_P)
    labels, logits = paper_scores()
    p_base = 1 / (1 + np.exp(-logits))
    assert mean_p["groups"][0]["points"][0]["value"] == pytest.approx(p_base.mean())
    assert rate["groups"][0]["points"][0]["value"] == pytest.approx(np.mean(p_base >= 0.5))
    # the same papers are drawn for both outcomes: the estimates come from one set of bootstrap indices
    indices = hypothesis_tests.metrics.bootstrap_indices(N_PAPERS, SETTINGS["bootstrap_resamples"], 0)
    expected = hypothesis_tests.metrics.percentile_interval(p_base[indices].mean(axis=1), 0.95)
    assert mean_p["groups"][0]["points"][0]["ci"] == pytest.approx(expected)


def test_prior_shift_reports_mean_p_outside_the_verdict(tmp_path):
    table = make_grid(tmp_path, experiments=GRID[:2])
    labels, logits = paper_scores()
    # half the log-odds of the prior shift: the same decisions and ranks, probabilities squashed towards 0.5
    shifted = logits + prior_shift_logit("accept", 2.0, "1_2")
    write_rows(
        tmp_path / "predictions" / "accept_gamma2.0_prop1_2.jsonl", rows_from_logits(labels, shifted / 2)
    )
    (comparison,) = run(tmp_path, table)["priorshift"]["comparisons"]
    mean_p = comparison["differences"]["mean_p_accept"]
    assert mean_p["excludes_zero"] and mean_p["difference"] < 0 and mean_p["in_verdict"] is False
    assert comparison["verdict"] == "explained by a threshold move" and comparison["beyond_in"] == []
    for name in priorshift.PRIORSHIFT_METRICS:
        assert comparison["differences"][name]["difference"] == pytest.approx(0.0, abs=1e-12)


def comparison(differs, at_bound, name="reject"):
    return {
        "variant": name,
        "prop": "1_4",
        "reference_prop": "1_2",
        "differs": differs,
        "at_bound": at_bound,
        "saturated": at_bound and not differs,
    }


@pytest.mark.parametrize(
    ("comparisons", "verdict", "in_summary"),
    [
        ([comparison(False, True), comparison(False, True, "accept")], "saturated", "2 saturated"),
        ([comparison(False, True), comparison(False, False, "accept")], "not supported", "1 saturated"),
        (
            [comparison(True, True), comparison(False, False, "accept")],
            "supported",
            "(reject 1_4 vs 1_2 at a bound)",
        ),
        ([comparison(True, False)], "supported", "1 of 1 slope differences exclude 0 (reject 1_4 vs 1_2)"),
    ],
)
def test_interaction_verdict_on_slopes_flattened_by_a_bound(comparisons, verdict, in_summary):
    result, summary = verdicts.interaction_verdict(comparisons, 0.975)
    assert result == verdict and in_summary in summary


# ---------------------------------------------------------------- the zero-shot reference
def test_fine_tuned_minus_zero_shot_is_zero_for_the_untrained_models_own_predictions_and_moves_with_the_logits(
    tmp_path,
):
    table = make_grid(tmp_path, experiments=GRID[:3])
    labels, logits = paper_scores()
    # the baseline's synthetic predictions are the untrained model's logits, unshifted
    zeroshot = tmp_path / "zeroshot.jsonl"
    write_rows(zeroshot, rows_from_logits(labels, logits))
    result = run(tmp_path, table, zeroshot=str(zeroshot))
    for outcome, per_paper in ((RATE, lambda p: p >= 0.5), (MEAN_P, lambda p: p)):
        entry = result["zeroshot"]["outcomes"][outcome]
        untrained = float(np.mean(per_paper(1 / (1 + np.exp(-logits)))))
        assert entry["note"] is None and entry["zeroshot"] == pytest.approx(untrained)
        by_name = {c["name"]: c for c in entry["comparisons"]}
        baseline = by_name["baseline_gamma1.0_prop1_2"]
        assert baseline["difference"] == 0.0 and baseline["ci"] == [0.0, 0.0]
        accept = by_name["accept_gamma2.0_prop1_2"]  # logits shifted up by log 2: more accepted
        assert accept["difference"] == pytest.approx(accept["finetuned"] - untrained)
        assert 0 < accept["ci"][0] <= accept["difference"] <= accept["ci"][1]
    text = hypotheses_report.markdown(result)
    assert "## Fine-tuned vs zero-shot (the base model before fine-tuning)" in text
    assert (
        f"### predicted acceptance rate: zero-shot {result['zeroshot']['outcomes'][RATE]['zeroshot']:.3f}"
        in text
    )
    assert "| baseline_gamma1.0_prop1_2 | " in text and "| 0.000 [0.000, 0.000] |" in text


def test_zero_shot_in_generate_mode_says_why_mean_p_has_no_comparison(tmp_path):
    table = make_grid(tmp_path, experiments=GRID[:2])
    labels, logits = paper_scores()
    zeroshot = tmp_path / "zeroshot.jsonl"
    write_rows(zeroshot, [row | {"p_accept": None} for row in rows_from_logits(labels, logits)])
    result = run(tmp_path, table, zeroshot=str(zeroshot))
    outcomes = result["zeroshot"]["outcomes"]
    assert outcomes[MEAN_P]["note"] == "no probabilities (infer.mode = generate)"
    assert outcomes[MEAN_P]["comparisons"] == [] and len(outcomes[RATE]["comparisons"]) == 2
    assert "- mean P(Accept): none (no probabilities (infer.mode = generate))." in hypotheses_report.markdown(
        result
    )


def test_zero_shot_predictions_of_another_test_set_are_refused(tmp_path):
    table = make_grid(tmp_path, experiments=GRID[:2])
    labels, logits = paper_scores()
    zeroshot = tmp_path / "zeroshot.jsonl"
    write_rows(zeroshot, rows_from_logits(labels, logits)[:-1])
    with pytest.raises(PredictionFileError, match="zeroshot.jsonl"):
        run(tmp_path, table, zeroshot=str(zeroshot))


def test_main_with_three_seeds_writes_seed_level_intervals_and_the_seed_plan(tmp_path):
    # each seed shifts every paper's logit of its run by its own amount: the seed spread enters every interval
    labels, logits = paper_scores()
    table, files, runs = [], [], []
    for variant, gamma, prop in GRID:
        name = grid.experiment_name(variant, gamma, prop)
        table.append(table_row(name, "finetuned"))
        for seed, seed_shift in zip((1, 2, 3), (-0.3, 0.0, 0.3), strict=True):
            path = tmp_path / "predictions" / name / f"seed{seed}.jsonl"
            write_rows(path, rows_from_logits(labels, logits + prior_shift_logit(variant, gamma, prop) + seed_shift))
            files.append(str(path))
            runs.append([name, seed])
    table_path = tmp_path / "all_metrics.json"
    table_path.write_text(json.dumps(table))
    out_json, out_md = tmp_path / "hypotheses.json", tmp_path / "hypotheses.md"
    code = hypotheses_cli.main(
        ["--all-metrics", str(table_path), "--predictions", *files, "--runs", json.dumps(runs),
         "--settings", json.dumps({"bootstrap_resamples": 100}), "--output-json", str(out_json), "--output-md", str(out_md)]
    )  # fmt: skip
    assert code == 0
    result = json.loads(out_json.read_text())
    overall = outcome_of(result, "H1")["groups"][0]["overall"]
    assert overall["seed_df"] is not None and overall["confidence"] == pytest.approx(1 - 2 * 0.05 / 8)
    assert result["seeds"]["counts"] == [3]
    plan = result["seed_planning"]["rows"]
    assert {row["hypothesis"] for row in plan} >= {"H1", "H2", "H3"}
    assert all(row["seeds_now"] == 3 and row["seed_variance_estimated"] for row in plan)
    assert "## How many training seeds the study needs" in out_md.read_text()

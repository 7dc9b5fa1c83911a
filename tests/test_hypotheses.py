"""Hypothesis tests on synthetic predictions with known effects: verdicts, pairing, interaction, prior shift."""

import json
import math

import numpy as np
import pytest

import hypotheses as hypotheses_cli
from wlf import experiments as grid
from wlf.evaluation import hypotheses_report, hypothesis_tests, priorshift
from wlf.evaluation.predictions import PredictionFileError

N_PAPERS = 200
GRID = [("baseline", 1.0, "1_2")] + [
    (variant, gamma, prop)
    for prop in ("1_2", "1_4")
    for variant in ("accept", "reject")
    for gamma in (2.0, 4.0)
]
SETTINGS = {"bootstrap_resamples": 100, "bootstrap_seed": 0, "confidence": 0.95, "ece_bins": 10}


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
    """Return the prediction files of a method's table rows, in table order (as the rule passes them)."""
    folder = tmp_path / ("predictions" if method == "finetuned" else method)
    return [str(folder / f"{row['name']}.jsonl") for row in table if row["method"] == method]


def run(tmp_path, table, settings=SETTINGS):
    return hypotheses_cli.hypotheses_of_files(
        table,
        prediction_paths(tmp_path, table, "finetuned"),
        prediction_paths(tmp_path, table, "priorshift"),
        settings,
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
    assert hypothesis_tests.direction_verdict(ci, sign) == verdict


def test_effects_that_follow_the_prior_shift_support_h1_h2_h3(tmp_path):
    result = run(tmp_path, make_grid(tmp_path, with_priorshift=False))
    h1, h2, h3 = (result["hypotheses"][key] for key in ("H1", "H2", "H3"))
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
    h1 = result["hypotheses"]["H1"]
    assert h1["verdict"] == "not supported"
    for group in h1["groups"]:
        assert group["overall"]["difference"] == 0.0 and group["overall"]["ci"] == [0.0, 0.0]
    assert result["hypotheses"]["H2"]["verdict"] == "not supported"
    assert result["hypotheses"]["H4"]["verdict"] == "not supported"


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
    group = run(tmp_path, table)["hypotheses"]["H1"]["groups"][0]
    lo, hi = group["overall"]["ci"]
    assert group["overall"]["difference"] == pytest.approx(5 / N_PAPERS)
    assert lo > 0.0  # every resample that holds a flipped paper raises the rate
    point_lo, point_hi = group["points"][0]["ci"]
    assert hi - lo < (point_hi - point_lo) / 2


def test_a_gamma_effect_that_vanishes_on_reject_heavy_data_is_an_interaction(tmp_path):
    def shift(variant, gamma, prop):
        if variant == "accept":
            return 1.5 * math.log2(gamma) if prop == "1_2" else 0.0
        return -math.log(gamma) if variant == "reject" else 0.0

    h4 = run(tmp_path, make_grid(tmp_path, shift=shift, with_priorshift=False))["hypotheses"]["H4"]
    assert h4["verdict"] == "supported"
    by_variant = {c["variant"]: c for c in h4["comparisons"]}
    accept = by_variant["accept"]
    assert (accept["prop"], accept["reference_prop"], accept["gammas"]) == ("1_4", "1_2", [2.0, 4.0])
    assert accept["slope_per_doubling"] == pytest.approx(0.0, abs=1e-12) and accept["differs"] is True
    assert accept["ci"][1] < 0
    assert h4["adjusted_confidence"] == pytest.approx(1 - 0.05 / 2)


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
    hypotheses_cli.main(
        [
            "--all-metrics",
            str(table_path),
            "--predictions",
            *prediction_paths(tmp_path, table, "finetuned"),
            "--priorshift",
            *prediction_paths(tmp_path, table, "priorshift"),
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
    assert (
        "| H1 | accept-weighting: a larger gamma raises the predicted acceptance rate | **supported** |"
        in text
    )
    assert "## Verdict rules" in text and "Bonferroni" in text
    assert "| accept_gamma2.0_prop1_4 |" in text

"""Plots: the series each figure draws, the lines in the matplotlib figures, and valid PNGs of the expected size."""

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import plots
from wlf.evaluation import plot_drawing, plot_series
from wlf.evaluation.figures import FIGURES

REPO = Path(__file__).resolve().parents[1]
TRUE_RATE = 0.3


def row(name, method="finetuned", rate=0.3, accuracy=0.7, skipped=None, **extra):
    variant, rest = name.split("_gamma")
    gamma, prop = rest.split("_prop")
    values = {
        "predicted_acceptance_rate": rate,
        "predicted_acceptance_rate_ci_lo": rate - 0.05,
        "predicted_acceptance_rate_ci_hi": rate + 0.05,
        "accuracy": accuracy,
        "accuracy_ci_lo": accuracy - 0.04,
        "accuracy_ci_hi": accuracy + 0.04,
        "precision": 0.5,
        "recall": rate,
        "f1": 0.4,
        "true_acceptance_rate": TRUE_RATE,
    }
    if skipped:
        values = dict.fromkeys(values)
    return {
        "name": name,
        "method": method,
        "prop": prop,
        "accept_fraction": 1 / int(prop[2:]),
        "variant": variant,
        "gamma": float(gamma),
        "seed": "mean",
        "n_seeds": 2,
        "skipped": skipped,
        **values,
        **extra,
    }


def seed_rows(aggregated_row, spread=0.02):
    """Return two training seeds' rows around an aggregated row's rate."""
    rate = aggregated_row["predicted_acceptance_rate"]
    return [
        {**aggregated_row, "seed": seed, "n_seeds": 1, "predicted_acceptance_rate": rate + sign * spread}
        for seed, sign in ((1, -1), (2, 1))
    ]


def table(priorshift_skipped=None):
    finetuned = [
        row("baseline_gamma1.0_prop1_2", rate=0.30),
        row("accept_gamma2.0_prop1_2", rate=0.45),
        row("accept_gamma4.0_prop1_2", rate=0.60),
        row("reject_gamma2.0_prop1_2", rate=0.20),
        row("accept_gamma2.0_prop1_4", rate=0.25),
    ]
    shifted = [
        row("accept_gamma2.0_prop1_2", "priorshift", rate=0.44, skipped=priorshift_skipped),
        row("accept_gamma4.0_prop1_2", "priorshift", rate=0.58, skipped=priorshift_skipped),
        row("reject_gamma2.0_prop1_2", "priorshift", rate=0.18, skipped=priorshift_skipped),
        row("accept_gamma2.0_prop1_4", "priorshift", rate=0.10, skipped=priorshift_skipped),
    ]
    tfidf = [row("baseline_gamma1.0_prop1_2", "tfidf_logreg", rate=0.35)]
    per_seed = [seed_row for aggregated_row in finetuned for seed_row in seed_rows(aggregated_row)]
    return per_seed + finetuned + shifted + tfidf


def zeroshot_row(rate=0.12, accuracy=0.66):
    """Return the zero-shot reference's aggregated row: no proportion, variant or gamma."""
    return {
        **row("baseline_gamma1.0_prop1_2", "zeroshot", rate=rate, accuracy=accuracy),
        "name": "zeroshot",
        "prop": None,
        "accept_fraction": None,
        "variant": None,
        "gamma": None,
        "n_seeds": 1,
    }


def test_gamma_curves_start_at_the_baseline_of_their_proportion_and_dash_the_prior_shift():
    curves = {(c.panel, c.label): c for c in plot_series.gamma_curves(table(), "predicted_acceptance_rate")}
    accept_half = curves[("accept", "accept fraction 1/2, fine-tuned")]
    assert (accept_half.x, accept_half.y) == ([1.0, 2.0, 4.0], [0.30, 0.45, 0.60])
    assert accept_half.lo == pytest.approx([0.25, 0.40, 0.55]) and accept_half.linestyle == "-"
    reject_half = curves[("reject", "accept fraction 1/2, fine-tuned")]
    assert (reject_half.x, reject_half.y) == ([1.0, 2.0], [0.30, 0.20])
    quarter = curves[("accept", "accept fraction 1/4, fine-tuned")]
    assert (quarter.x, quarter.y) == ([2.0], [0.25])  # no baseline was trained on this mix
    shifted = curves[("accept", "accept fraction 1/2, prior shift")]
    assert (shifted.x, shifted.y, shifted.lo, shifted.linestyle) == (
        [1.0, 2.0, 4.0],
        [0.30, 0.44, 0.58],
        [],
        "--",
    )
    assert shifted.color == accept_half.color != quarter.color
    assert len(curves) == 6


def test_gamma_figure_draws_every_curve_and_the_true_rate():
    figure = plot_drawing.draw_gamma_figure(
        table(), "predicted_acceptance_rate", TRUE_RATE, "true test acceptance rate"
    )
    accept_axis, reject_axis = figure.axes[:2]
    dots = [line for line in accept_axis.get_lines() if line.get_label() == "_seed"]
    assert [(list(d.get_xdata()), list(d.get_ydata())) for d in dots] == [
        ([2.0, 2.0, 4.0, 4.0, 1.0, 1.0], pytest.approx([0.43, 0.47, 0.58, 0.62, 0.28, 0.32])),
        ([2.0, 2.0], pytest.approx([0.23, 0.27])),
    ]
    labels = [line.get_label() for line in accept_axis.get_lines() if line.get_label() != "_seed"]
    assert labels == [
        "accept fraction 1/2, fine-tuned",
        "accept fraction 1/4, fine-tuned",
        "accept fraction 1/2, prior shift",
        "accept fraction 1/4, prior shift",
        "true test acceptance rate",
    ]
    lines = [line for line in accept_axis.get_lines() if line.get_label() != "_seed"]
    assert list(lines[-1].get_ydata()) == [TRUE_RATE, TRUE_RATE]
    assert list(lines[0].get_ydata()) == [0.30, 0.45, 0.60]
    assert [line.get_linestyle() for line in lines[:4]] == ["-", "-", "--", "--"]
    assert len(accept_axis.collections) == 2  # CI bands of the fine-tuned curves only
    assert (
        accept_axis.get_xlabel().startswith("gamma")
        and accept_axis.get_ylabel() == "predicted acceptance rate"
    )
    assert [line.get_label() for line in reject_axis.get_lines() if line.get_label() != "_seed"][:2] == [
        "accept fraction 1/2, fine-tuned",
        "accept fraction 1/2, prior shift",
    ]


def test_the_zero_shot_reference_is_a_line_on_the_gamma_figures_and_no_point_of_any_series():
    figures = plot_drawing.build_figures(table() + [zeroshot_row(rate=0.12, accuracy=0.66)], {}, {}, n_bins=2)
    for name, value in (("acceptance_rate_vs_gamma.png", 0.12), ("accuracy_vs_gamma.png", 0.66)):
        for axis in figures[name].axes[:2]:
            lines = [line for line in axis.get_lines() if line.get_label() == plot_drawing.ZEROSHOT_LABEL]
            assert len(lines) == 1 and list(lines[0].get_ydata()) == [value, value]
            assert lines[0].get_linestyle() == "-."
            # the fine-tuned and prior-shift curves are those of the table without it
            assert not any(0.12 in list(line.get_ydata()) for line in axis.get_lines() if line not in lines)
    # generate mode: no mean P(Accept) of the untrained model, so no line on that figure
    mean_p = figures["mean_p_accept_vs_gamma.png"].axes[0]
    assert plot_drawing.ZEROSHOT_LABEL not in [line.get_label() for line in mean_p.get_lines()]


def test_skipped_prior_shift_draws_no_dashed_curve_and_says_why():
    rows = table(priorshift_skipped="no p_accept (infer.mode = generate)")
    assert {c.linestyle for c in plot_series.gamma_curves(rows, "accuracy")} == {"-"}
    figure = plot_drawing.draw_gamma_figure(rows, "accuracy", 0.7, "majority-class accuracy")
    assert "prior-shift curves absent: no p_accept (infer.mode = generate)" in figure.get_suptitle()


def with_mean_p(table_rows, mean_p):
    """Return the rows with mean P(Accept) values (and CI) by experiment name, for the methods that have them."""
    return [
        {
            **r,
            "mean_p_accept": mean_p.get(r["name"]),
            "mean_p_accept_ci_lo": None if r["name"] not in mean_p else mean_p[r["name"]] - 0.02,
            "mean_p_accept_ci_hi": None if r["name"] not in mean_p else mean_p[r["name"]] + 0.02,
        }
        for r in table_rows
    ]


def test_mean_p_curves_move_where_the_rate_sits_at_the_floor():
    # every reject-weighted model predicts no Accept, but their probabilities keep falling
    floor = [
        row("baseline_gamma1.0_prop1_2", rate=0.0),
        row("reject_gamma2.0_prop1_2", rate=0.0),
        row("reject_gamma4.0_prop1_2", rate=0.0),
    ]
    rows = with_mean_p(
        floor,
        {"baseline_gamma1.0_prop1_2": 0.40, "reject_gamma2.0_prop1_2": 0.30, "reject_gamma4.0_prop1_2": 0.20},
    )
    (rate,) = plot_series.gamma_curves(rows, "predicted_acceptance_rate")
    (mean_p,) = plot_series.gamma_curves(rows, "mean_p_accept")
    assert rate.y == [0.0, 0.0, 0.0]
    assert (mean_p.panel, mean_p.x, mean_p.y) == ("reject", [1.0, 2.0, 4.0], [0.40, 0.30, 0.20])
    assert mean_p.lo == pytest.approx([0.38, 0.28, 0.18]) and mean_p.color == plot_series.OKABE_ITO[0]
    assert plot_series.missing_note(rows, "mean_p_accept") is None
    figure = plot_drawing.draw_gamma_figure(rows, "mean_p_accept", TRUE_RATE, "true test acceptance rate")
    assert figure.axes[0].get_ylabel() == "mean P(Accept)"
    assert list(figure.axes[1].get_lines()[0].get_ydata()) == [0.40, 0.30, 0.20]
    assert figure.get_suptitle().startswith("Mean P(Accept) against gamma")


def test_mean_p_figure_in_generate_mode_says_there_are_no_probabilities():
    rows = with_mean_p(table(priorshift_skipped="no p_accept (infer.mode = generate)"), {})
    reason = "no probabilities (infer.mode = generate)"
    assert plot_series.missing_note(rows, "mean_p_accept") == reason
    assert plot_series.missing_note(rows, "predicted_acceptance_rate") is None
    figure = plot_drawing.draw_gamma_figure(rows, "mean_p_accept", TRUE_RATE, "true test acceptance rate")
    assert f"no mean P(Accept): {reason}" in figure.get_suptitle()
    assert [text.get_text() for text in figure.axes[0].texts] == [reason]


def test_heatmap_matrix_has_proportions_as_rows_and_blank_cells_for_runs_not_made():
    props, columns, values = plot_series.heatmap_matrix(table(), "predicted_acceptance_rate")
    assert props == ["1_2", "1_4"]
    assert columns == [("baseline", 1.0), ("accept", 2.0), ("accept", 4.0), ("reject", 2.0)]
    np.testing.assert_array_equal(values[0], [0.30, 0.45, 0.60, 0.20])
    assert values[1, 1] == 0.25 and np.isnan(values[1, [0, 2, 3]]).all()


def test_precision_recall_lines_join_gammas_per_variant_and_mix():
    curves = {c.label: c for c in plot_series.precision_recall_points(table())}
    accept = curves["fine-tuned, accept, accept fraction 1/2"]
    assert accept.x == [0.45, 0.60] and accept.y == [0.5, 0.5] and accept.notes == ["γ2.0", "γ4.0"]
    assert curves["TF-IDF + LR, baseline, accept fraction 1/2"].color == "#999999"


def prediction_rows(p_accept, labels):
    return [
        {
            "id": f"p{i}",
            "label": label,
            "pred": "Accept" if p >= 0.5 else "Reject",
            "p_accept": p,
            "raw_answer": None,
        }
        for i, (p, label) in enumerate(zip(p_accept, labels, strict=True))
    ]


def test_loss_and_calibration_curves_come_from_their_files():
    summaries = {
        ("accept_gamma2.0_prop1_2", 2): {"loss_curve": [{"step": 10, "loss": 2.5}]},
        ("accept_gamma2.0_prop1_2", 1): {
            "loss_curve": [{"step": 20, "loss": 1.0}, {"step": 10, "loss": 2.0}]
        },
    }
    first, second = plot_series.loss_curves(table(), summaries)
    assert (first.panel, first.label, first.x, first.y) == (
        "1_2",
        "accept gamma 2.0",
        [10.0, 20.0],
        [2.0, 1.0],
    )
    assert (second.label, second.y, second.color) == ("", [2.5], first.color)  # seed 2: same colour, no label
    labels = ["Accept", "Reject", "Accept", "Reject"]
    predictions = {
        "baseline_gamma1.0_prop1_2": prediction_rows([0.1, 0.2, 0.8, 0.9], labels),
        "accept_gamma2.0_prop1_2": [
            dict(r, p_accept=None, pred="invalid") for r in prediction_rows([0] * 4, labels)
        ],
    }
    (calibration,) = plot_series.calibration_curves(table(), predictions, n_bins=2)
    # bin [0, 0.5): p 0.1, 0.2 with 1 of 2 accepted; bin [0.5, 1]: p 0.8, 0.9 with 1 of 2
    assert calibration.x == pytest.approx([0.15, 0.85]) and calibration.y == [0.5, 0.5]
    assert calibration.label == "baseline gamma 1.0"


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_main_writes_every_plot_as_a_png_of_the_expected_size(tmp_path):
    rows = table() + [zeroshot_row()]
    (tmp_path / "all_metrics.json").write_text(json.dumps(rows))
    rng = np.random.default_rng(0)
    labels = list(np.where(rng.random(40) < 0.3, "Accept", "Reject"))
    runs, predictions, model_dirs = [], [], []
    for name in sorted({r["name"] for r in rows if r["method"] == "finetuned"}):
        for seed in (1, 2):
            path = tmp_path / "predictions" / name / f"seed{seed}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                "".join(json.dumps(r) + "\n" for r in prediction_rows(list(rng.random(40)), labels))
            )
            model_dir = tmp_path / "models" / name / f"seed{seed}"
            model_dir.mkdir(parents=True)
            curve = [{"step": step, "loss": 2.0 / step} for step in (1, 2, 3)]
            (model_dir / "train_summary.json").write_text(json.dumps({"loss_curve": curve}))
            runs.append([name, seed])
            predictions.append(str(path))
            model_dirs.append(str(model_dir))
    outdir = tmp_path / "plots"
    code = plots.main(
        [
            "--all-metrics", str(tmp_path / "all_metrics.json"), "--predictions", *predictions,
            "--model-dirs", *model_dirs, "--runs", json.dumps(runs), "--outdir", str(outdir),
        ]
    )  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in outdir.iterdir()) == sorted(FIGURES)
    sizes = {name: png_size(outdir / name) for name in FIGURES}
    assert sizes["acceptance_rate_vs_gamma.png"] == (1200, 500)
    assert sizes["mean_p_accept_vs_gamma.png"] == (1200, 500)
    assert sizes["heatmap_f1.png"] == (1200, 500)
    assert sizes["precision_recall.png"] == (800, 700)
    assert sizes["training_loss.png"] == sizes["calibration.png"] == sizes["seed_spread.png"] == (1200, 900)


def test_seed_points_show_every_seed_beside_the_mean():
    points = plot_series.seed_points(table(), "predicted_acceptance_rate")
    assert {curve.panel for curve in points} == {"accept", "reject"}
    reject = next(curve for curve in points if curve.panel == "reject")
    assert (reject.x, reject.y) == ([2.0, 2.0, 1.0, 1.0], pytest.approx([0.18, 0.22, 0.28, 0.32]))
    assert reject.marker == "." and reject.linestyle == "none" and reject.label == ""


def test_seed_spread_figure_maps_the_between_seed_sd_of_each_experiment():
    rows = [
        dict(
            r,
            predicted_acceptance_rate_seed_sd=0.2 if r["name"].endswith("1_4") else 0.01,
            mean_p_accept_seed_sd=0.03,
        )
        for r in table()
    ]
    props, columns, values = plot_series.heatmap_matrix(rows, "predicted_acceptance_rate_seed_sd")
    assert props == ["1_2", "1_4"] and values[1, columns.index(("accept", 2.0))] == 0.2
    figure = plot_drawing.draw_seed_spread(rows)
    assert [axis.get_title() for axis in figure.axes[:2]] == [
        "Between-seed SD of the predicted acceptance rate",
        "Between-seed SD of the mean P(Accept)",
    ]
    assert [axis.get_ylabel() for axis in figure.axes[2:]] == [
        "between-seed SD of the predicted acceptance rate",
        "between-seed SD of the mean P(Accept)",
    ]


@pytest.mark.parametrize("metric", ["predicted_acceptance_rate", "mean_p_accept", "accuracy"])
def test_every_title_of_the_gamma_figures_fits_inside_the_figure(metric):
    figure = plot_drawing.draw_gamma_figure(table(), metric, TRUE_RATE, "true test acceptance rate")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # lays the figure out as the PNG is written
    renderer = canvas.get_renderer()
    width = figure.bbox.width
    texts = [figure._suptitle, *(axis.title for axis in figure.axes)]
    for text in texts:
        extent = text.get_window_extent(renderer)
        assert extent.x0 >= 0 and extent.x1 <= width, (text.get_text(), extent.x0, extent.x1, width)


def test_the_plot_rule_declares_the_figures_and_every_caption_exists():
    rule_text = (REPO / "rules" / "plot.smk").read_text()
    assert "for name, (category, caption) in FIGURES.items()" in rule_text
    for _category, caption in FIGURES.values():
        assert (REPO / "report" / caption).read_text().strip()


def test_drawing_refuses_a_figure_set_that_differs_from_the_declared_one(monkeypatch):
    monkeypatch.setitem(plot_drawing.FIGURES, "extra.png", ("4 Diagnostics", "calibration.rst"))
    with pytest.raises(RuntimeError, match="differ from the declared"):
        plot_drawing.build_figures(table(), {}, {}, n_bins=2)

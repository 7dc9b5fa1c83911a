"""Fast checks of the benchmarks' pure functions: the GPU-hour cost model and the measurement helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import bench_fixtures  # bench/ is on the tests' pythonpath (pyproject.toml)
import cost_model
import hardware_efficiency
import inference_modes
import train_probe
import train_throughput
import train_worker
import weighting_overhead
import workflow_overhead
from snakemake_runner import load_config
from wlf import experiments

BENCH = Path(__file__).resolve().parents[1] / "bench"

SHAPE_7B = cost_model.ModelShape(**cost_model.QWEN25_7B)


def test_train_flops_per_token_is_six_n_plus_attention_term():
    shape = cost_model.ModelShape(n_params=1e9, n_layers=10, d_model=1000)
    assert cost_model.train_flops_per_token(shape, 0) == 6e9
    assert cost_model.train_flops_per_token(shape, 500) == 6e9 + 12 * 10 * 1000 * 500
    assert cost_model.forward_flops_per_token(shape, 500) == pytest.approx((6e9 + 6e7) / 3)


def test_gpu_hours_of_one_peak_hour_at_full_utilisation_is_one():
    assert cost_model.gpu_hours(312e12 * 3600, mfu=1.0, peak_flops_per_s=312e12) == pytest.approx(1.0)
    assert cost_model.gpu_hours(312e12 * 3600, mfu=0.25, peak_flops_per_s=312e12) == pytest.approx(4.0)


def test_gpu_hours_rejects_an_mfu_outside_zero_one():
    with pytest.raises(ValueError, match="mfu = 1.5 must be in"):
        cost_model.gpu_hours(1.0, mfu=1.5, peak_flops_per_s=1.0)


def test_training_sets_keep_all_rejects_and_subsample_accepts():
    # 8550 accepts / 8551 rejects: k = floor(8551 / (N-1)) accepts and k(N-1) rejects
    assert cost_model.training_set_counts(8550, 8551, "1_2") == (8550, 8550)
    assert cost_model.training_set_counts(8550, 8551, "1_3") == (4275, 8550)
    assert cost_model.training_set_counts(8550, 8551, "1_4") == (2850, 8550)
    assert cost_model.training_set_counts(8550, 8551, "1_8") == (1221, 8547)


def test_balanced_counts_puts_the_odd_paper_in_reject():
    assert cost_model.balanced_counts(17_101) == (8550, 8551)


def test_grid_estimate_of_the_production_config_is_412_train_and_10_infer_gpu_hours():
    config = cost_model.yaml.safe_load((cost_model.REPO / "config" / "config.yaml").read_text())
    grid = experiments.parse_experiments(config["experiments"])
    test = cost_model.SetSize(2024, 6000, "assumed")
    costs = cost_model.grid_costs(grid, 8550, 8551, 6000, test, 2, SHAPE_7B, 0.35, 312e12)
    assert len(costs) == 19
    # prop 1_2 at 6,000 tokens: 17,100 x 6,000 x 2 tokens x (6 x 7.6e9 + 12 x 28 x 3584 x 6000) FLOP/token
    expected_1_2 = 17_100 * 6000 * 2 * (6 * 7.6e9 + 12 * 28 * 3584 * 6000) / (0.35 * 312e12) / 3600
    assert costs[0].train_gpu_hours == pytest.approx(expected_1_2)
    assert costs[0].train_gpu_hours == pytest.approx(27.6, abs=0.05)
    assert round(sum(cost.train_gpu_hours for cost in costs)) == 412
    assert sum(cost.infer_gpu_hours for cost in costs) == pytest.approx(10.3, abs=0.05)
    by_prop = {cost.prop: cost for cost in costs}
    assert by_prop["1_8"].n_accept + by_prop["1_8"].n_reject == 9768


def test_break_even_mfu_scales_inversely_with_the_budget():
    assert cost_model.break_even_mfu(412, 0.35, 3648) == pytest.approx(0.35 * 412 / 3648)


def test_mean_tokens_of_stats_prefers_the_mean_and_falls_back_to_the_median():
    assert (
        cost_model.mean_tokens_of_stats({"example_tokens": {"mean": 5123.5, "p50": 6000}}, "s.json")[0]
        == 5123.5
    )
    value, how = cost_model.mean_tokens_of_stats({"example_tokens": {"p50": 6000}}, "s.json")
    assert value == 6000 and "median used" in how


def test_read_stats_names_the_file_and_missing_key(tmp_path):
    path = tmp_path / "stats.json"
    path.write_text(json.dumps({"split": "train"}))
    with pytest.raises(ValueError, match=r"stats.json: key 'n_examples' is missing"):
        cost_model.read_stats(str(path))
    with pytest.raises(ValueError, match=r"nope.json: no such stats file"):
        cost_model.read_stats(str(tmp_path / "nope.json"))


def test_cli_reads_counts_and_tokens_from_stats_files(tmp_path, capsys):
    train = {
        "n_examples": 40,
        "example_tokens": {"mean": 1000.0, "p50": 990},
        "source": {"counts": {"Accept": 20, "Reject": 21}},
    }
    test = {"n_examples": 10, "example_tokens": {"p50": 800}}
    (tmp_path / "train.json").write_text(json.dumps(train))
    (tmp_path / "test.json").write_text(json.dumps(test))
    assert (
        cost_model.main(
            ["--train-stats", str(tmp_path / "train.json"), "--test-stats", str(tmp_path / "test.json")]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "source counts 20 Accept / 21 Reject and 1,000 tokens" in out
    # 1_8: k = min(20 accepts, 21 rejects // 7) = 3 accepts and 21 rejects
    assert "| accept_gamma2.0_prop1_8 | 3 | 21 |" in out
    assert "Test set: 10 examples x 800 tokens" in out


def test_every_training_seed_multiplies_the_grid_cost(capsys):
    test = cost_model.SetSize(2024, 6000, "assumed")
    grid = experiments.parse_experiments(load_config()["experiments"])
    one = cost_model.grid_costs(grid, 8550, 8551, 6000, test, 2, SHAPE_7B, 0.35, 312e12)
    three = cost_model.grid_costs(grid, 8550, 8551, 6000, test, 2, SHAPE_7B, 0.35, 312e12, n_seeds=3)
    assert sum(c.train_gpu_hours for c in three) == pytest.approx(3 * sum(c.train_gpu_hours for c in one))
    assert sum(c.infer_gpu_hours for c in three) == pytest.approx(3 * sum(c.infer_gpu_hours for c in one))
    assert cost_model.main([]) == 0  # the production config lists 3 seeds
    out = capsys.readouterr().out
    assert "3 training seed(s)" in out and "Estimate with 3 seed(s): 1,237 GPU-h training" in out


def test_disk_of_the_production_grid_peaks_with_the_concurrent_jobs_checkpoints_and_ends_with_the_models():
    disk = cost_model.disk_use(7.6e9, n_runs=57, concurrent_jobs=40, save_total_limit=2)
    # a checkpoint: 2 bytes of bf16 weights + 12 of fp32 master weights and Adam moments per parameter
    assert (disk.checkpoint, disk.model) == (pytest.approx(106.4e9), 15.2e9)
    # a job saving its third checkpoint before the oldest of its two goes: 319 GB
    assert disk.per_job == pytest.approx(3 * 106.4e9)
    assert disk.peak == pytest.approx(40 * 3 * 106.4e9 + 17 * 15.2e9)  # 13.03 TB
    assert disk.end == pytest.approx(57 * 15.2e9)
    assert disk.end_keeping_checkpoints == pytest.approx(57 * (2 * 106.4e9 + 15.2e9))
    # more job slots than runs: every run trains at once; a model larger than a checkpoint (no optimizer state)
    assert cost_model.disk_use(7.6e9, 3, 40, 2).peak == pytest.approx(3 * 3 * 106.4e9)
    assert cost_model.disk_use(1e9, 1, 1, 2, weight_bytes=2, optimizer_bytes=0).per_job == pytest.approx(6e9)


def test_cli_prints_the_disk_beside_the_gpu_hours_and_the_profile_asks_for_a_jobs_disk(capsys):
    assert cost_model.main([]) == 0
    out = capsys.readouterr().out
    assert "a train job keeps 2 checkpoints, one more while it saves: at most 319 GB." in out
    assert "40 train jobs at once (`jobs` 40, 57 runs) and the other runs' models: 13.03 TB" in out
    assert "at the end (57 final models, checkpoints removed): 866 GB (13.0 TB if every" in out
    assert cost_model.main(["--jobs", "10"]) == 0
    assert (
        "10 train jobs at once (`jobs` 10, 57 runs) and the other runs' models: 3.91 TB"
        in capsys.readouterr().out
    )
    profile = cost_model.yaml.safe_load(cost_model.SLURM_PROFILE.read_text())
    per_job = cost_model.disk_use(cost_model.QWEN25_7B["n_params"], 57, 40, 2).per_job
    assert profile["set-resources"]["train"]["disk_mb"] * 1e6 >= per_job


# ---- measurement helpers (train_probe.py) ----


def test_window_throughput_leaves_out_the_warm_up_step():
    # step ends at 10, 12, 16 s; the warm-up step (100 tokens) and its time are left out
    assert train_probe.window_throughput([10.0, 12.0, 16.0], [100, 40, 80], warmup_steps=1) == pytest.approx(
        20.0
    )
    with pytest.raises(ValueError, match="need more than warmup_steps = 1 >= 1 steps, got 1"):
        train_probe.window_throughput([10.0], [100], warmup_steps=1)


def test_tokens_of_forward_counts_real_tokens_rows_and_squared_lengths():
    import train_probe

    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    assert train_probe.tokens_of_forward({"input_ids": torch.zeros(2, 4), "attention_mask": mask}, ()) == (
        5,
        8,
        2,
        13,
    )
    # no mask (padding-free row): every position is real
    assert train_probe.tokens_of_forward({}, (torch.zeros(1, 5),)) == (5, 5, 1, 25)
    assert train_probe.tokens_of_forward({"inputs_embeds": torch.zeros(1, 2, 3)}, ()) is None


def test_padding_waste_is_the_padded_fraction():
    assert train_probe.padding_waste(75, 100) == pytest.approx(0.25)
    assert train_probe.padding_waste(0, 0) == 0.0


# ---- train_throughput.py ----


def test_interleaved_schedule_rotates_the_contender_order_every_repeat():
    runs = train_throughput.interleaved_schedule(["a", "b", "c"], [512, 4096], repeats=2)
    assert runs[:6] == [
        (0, 512, "a"),
        (0, 512, "b"),
        (0, 512, "c"),
        (0, 4096, "a"),
        (0, 4096, "b"),
        (0, 4096, "c"),
    ]
    assert [contender for _, length, contender in runs[6:] if length == 512] == ["b", "c", "a"]


def test_paired_ratio_takes_the_median_of_per_repeat_ratios():
    results = [
        {"repeat": 0, "max_length": 512, "contender": "weighted", "tokens_per_s": 90.0},
        {"repeat": 0, "max_length": 512, "contender": "plain", "tokens_per_s": 100.0},
        {"repeat": 1, "max_length": 512, "contender": "weighted", "tokens_per_s": 50.0},
        {"repeat": 1, "max_length": 512, "contender": "plain", "tokens_per_s": 50.0},
        {"repeat": 2, "max_length": 512, "contender": "weighted", "tokens_per_s": 99.0},
        {"repeat": 2, "max_length": 512, "contender": "plain", "error": "exit 1"},
    ]
    # repeat 2 has no pair (plain failed): median of 0.9 and 1.0
    assert train_throughput.paired_ratio(results, "weighted", "plain", 512, "tokens_per_s") == pytest.approx(
        0.95
    )
    assert train_throughput.paired_ratio(results, "weighted", "plain", 4096, "tokens_per_s") is None


def test_summarise_reports_medians_and_counts_failures():
    results = [
        {"max_length": 512, "contender": "plain", "tokens_per_s": value, "peak_rss_train_mb": 10.0}
        for value in (1.0, 3.0, 2.0)
    ] + [{"max_length": 512, "contender": "plain", "error": "timed out"}]
    row = train_throughput.summarise(results)[512]["plain"]
    assert (row["runs"], row["failed"], row["tokens_per_s"], row["peak_rss_train_mb"]) == (4, 1, 2.0, 10.0)
    assert row["padding_waste"] is None


# ---- train_worker.py: the naive weighted loss ----


def test_naive_weighted_loss_matches_a_hand_computed_weighted_cross_entropy():

    logits = torch.log(torch.tensor([[[0.5, 0.5], [0.25, 0.75], [0.9, 0.1]]]))
    # position j predicts label j + 1: position 0 gives label 1 p = 0.5, position 1 gives label 0 p = 0.25
    labels = torch.tensor([[-100, 1, 0]])
    weights = torch.tensor([[0.0, 4.0, 1.0]])  # each label's example weight, aligned with labels
    loss = train_worker.weighted_full_logits_loss(logits, labels, weights)
    expected = (4 * -torch.log(torch.tensor(0.5)) + 1 * -torch.log(torch.tensor(0.25))) / (4 + 1)
    assert float(loss) == pytest.approx(float(expected))


# ---- hardware_efficiency.py ----


def test_step_model_flops_adds_dense_attention_and_head_terms():
    flops = hardware_efficiency.step_model_flops(
        n_body_params=1000,
        n_layers=2,
        d_model=8,
        vocab_rows=100,
        real_tokens=10,
        sum_sq_lengths=50,
        labelled_tokens=4,
    )
    assert flops == 6 * 1000 * 10 + 12 * 2 * 8 * 50 + 6 * 100 * 8 * 4


def test_matmul_flops_counts_two_n_cubed_per_product():
    assert hardware_efficiency.matmul_flops(seconds=2.0, size=1000, count=3) == pytest.approx(3e9)


def test_matmul_share_sums_the_dense_kernels():
    share = hardware_efficiency.matmul_share({"aten::mm": 3.0, "aten::addmm": 1.0, "aten::mul": 4.0})
    assert share == pytest.approx(0.5)


# ---- inference_modes.py ----


def test_inference_modes_alternate_and_pair_by_repeat():
    assert inference_modes.alternating_modes(2) == [
        (0, "score"),
        (0, "generate"),
        (1, "generate"),
        (1, "score"),
    ]
    runs = [
        {"repeat": 0, "mode": "score", "examples_per_s": 30.0},
        {"repeat": 0, "mode": "generate", "examples_per_s": 10.0},
        {"repeat": 1, "mode": "generate", "examples_per_s": 20.0},
        {"repeat": 1, "mode": "score", "examples_per_s": 20.0},
    ]
    assert inference_modes.paired_speedup(runs) == pytest.approx(2.0)


# ---- workflow_overhead.py ----


def test_benchmark_seconds_reads_the_s_column_of_a_snakemake_benchmark(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t100.0\n")
    assert workflow_overhead.benchmark_seconds(path) == 12.5
    bad = tmp_path / "bad.tsv"
    bad.write_text("seconds\n1\n")
    with pytest.raises(ValueError, match="bad.tsv: not a Snakemake benchmark file"):
        workflow_overhead.benchmark_seconds(bad)


def test_overhead_per_job_is_wall_minus_job_time_over_jobs():
    result = workflow_overhead.overhead(wall_s=30.0, job_seconds=[10.0, 8.0], n_jobs=4)
    assert (result["overhead_s"], result["overhead_per_job_s"]) == (12.0, 3.0)


# ---- bench_fixtures.py ----


def test_paper_budgets_lie_between_half_and_all_of_the_room_left_by_the_chat():
    budgets = bench_fixtures.paper_budgets(200, max_tokens=512, overhead_tokens=100, seed=0)
    assert min(budgets) >= 206 and max(budgets) <= 412
    assert budgets == bench_fixtures.paper_budgets(200, max_tokens=512, overhead_tokens=100, seed=0)
    with pytest.raises(ValueError, match="max_tokens = 50 leaves no room"):
        bench_fixtures.paper_budgets(1, max_tokens=50, overhead_tokens=100, seed=0)


def test_sharegpt_rows_keep_system_prompt_and_answer():
    row = {
        "messages": [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "U"},
            {"role": "assistant", "content": "Accept"},
        ]
    }
    assert bench_fixtures.sharegpt_rows([row]) == [
        {
            "system": "S",
            "conversations": [{"from": "human", "value": "U"}, {"from": "gpt", "value": "Accept"}],
        }
    ]


def test_answer_only_fraction_removes_embedding_and_head_from_six_n():
    # Qwen2.5-7B: two 152,064 x 3,584 matrices of 7.6e9 parameters do no per-token matmul work
    fraction = cost_model.answer_only_fraction(SHAPE_7B, cost_model.QWEN25_VOCAB_ROWS)
    assert fraction == pytest.approx(1 - 2 * 152_064 * 3_584 / 7.6e9)
    assert round(fraction, 3) == 0.857


def test_job_spans_reads_start_and_finish_of_each_job_from_a_snakemake_log():
    log = """[Wed Nov 25 09:57:10 2026]
localrule make_corpus:
    output: results/embedded/corpus/train.jsonl
[Wed Nov 25 09:57:12 2026]
Finished jobid: 4 (Rule: make_corpus)
[Thu Nov  5 09:57:12 2026]
rule train:
[Thu Nov  5 09:58:03 2026]
Finished jobid: 2 (Rule: train)
"""
    spans = workflow_overhead.job_spans(log)
    assert [span["rule"] for span in spans] == ["make_corpus", "train"]
    assert (spans[0]["end"] - spans[0]["start"]).total_seconds() == 2.0
    # a single-digit day is padded with two spaces
    assert (spans[1]["start"].day, (spans[1]["end"] - spans[1]["start"]).total_seconds()) == (5, 51.0)


def test_training_set_counts_apply_the_max_examples_cap_like_make_dataset():
    assert cost_model.training_set_counts(600, 600, "1_2", max_examples=200) == (100, 100)
    assert cost_model.training_set_counts(600, 600, "1_8", max_examples=200) == (25, 175)


# ---- weighting_overhead.py ----


def test_pair_orders_swap_the_two_trainers_every_pair():
    assert weighting_overhead.pair_orders(3) == [
        ("weighted", "plain_compact"),
        ("plain_compact", "weighted"),
        ("weighted", "plain_compact"),
    ]


def test_pair_ratios_compare_tokens_per_second_within_each_pair_after_warm_up():
    steps = [
        {"pair": 0, "kind": "weighted", "seconds": 9.0, "tokens": 100},
        {"pair": 0, "kind": "plain_compact", "seconds": 1.0, "tokens": 100},
        {"pair": 1, "kind": "plain_compact", "seconds": 2.0, "tokens": 100},
        {"pair": 1, "kind": "weighted", "seconds": 2.5, "tokens": 120},
    ]
    # pair 0 is warm-up; pair 1: (120 / 2.5) / (100 / 2.0) = 0.96
    assert weighting_overhead.pair_ratios(steps, warmup_pairs=1) == [pytest.approx(0.96)]


def test_the_seed_plan_of_a_run_is_priced_at_the_grids_training_hours_per_seed(tmp_path, capsys):
    plan = {
        "target_power": 0.8,
        "max_seeds": 100,
        "rows": [
            {"hypothesis": "H1", "outcome": "mean P(Accept)", "step": "a -> b", "seeds_needed": 5},
            {"hypothesis": "H2", "outcome": "predicted acceptance rate", "step": "c -> d", "seeds_needed": None},
        ],
    }
    (tmp_path / "hypotheses.json").write_text(json.dumps({"seed_planning": plan}))
    assert cost_model.main(["--hypotheses", str(tmp_path / "hypotheses.json")]) == 0
    out = capsys.readouterr().out
    # 1,237 A100-h for 3 seeds of the production grid: 412.3 per seed, 5 seeds 2,061
    assert "| H1 | mean P(Accept) | a -> b | 5 | 2,061 |" in out
    assert "| H2 | predicted acceptance rate | c -> d | not reachable | — |" in out


def test_readme_tables_print_the_zero_shot_row_in_the_fine_tuned_columns():
    import pandas as pd

    import readme_tables

    def mean_row(name, method, prop, variant, gamma, rate, **extra):
        return {"name": name, "method": method, "prop": prop, "variant": variant, "gamma": gamma, "seed": "mean"} | {
            "predicted_acceptance_rate": rate, "mean_p_accept": rate + 0.01, "accuracy": 0.8, "roc_auc": 0.9,
        } | extra  # fmt: skip

    table = pd.DataFrame(
        [
            mean_row("baseline_gamma1.0_prop1_2", "finetuned", "1_2", "baseline", 1.0, 0.42),
            mean_row("baseline_gamma1.0_prop1_2", "tfidf_logreg", "1_2", "baseline", 1.0, 0.43),
            mean_row("zeroshot", "zeroshot", None, None, None, 0.97, accuracy=0.35, roc_auc=0.55),
        ]
    )
    lines = readme_tables.results_table(table).splitlines()
    assert lines[-2].startswith("| baseline γ=1, 1_2 | 0.42 | 0.43 | — | 0.43 |")
    assert lines[-1] == "| zero-shot (the base model, not fine-tuned) | 0.97 | 0.98 | — | — | 0.35 | 0.55 |"

"""GPU-hour and disk estimate of the 19-experiment grid at production scale, set against the original plan.

Training FLOPs per token = 6·N + 12·L·d·s (PaLM, appendix B: dense matmuls forward+backward plus the
attention score/value matmuls at sequence length s); inference (score mode, one forward pass) is a third of
that. GPU time = FLOPs / (MFU · peak), MFU counted on model FLOPs, so the recompute of gradient
checkpointing is part of what a realistic MFU already absorbs. Disk: a checkpoint holds the weights and the
optimizer state (bytes per parameter below), a run keeps train.save_total_limit of them while it trains (one
more while it saves: transformers deletes the oldest after the new one is complete) and only its final model
once that is written and checked; the profile's `jobs` train at once.

    .venv/bin/python bench/cost_model.py                  # production numbers, assumed 6,000 tokens/paper
    .venv/bin/python bench/cost_model.py --train-stats results/data/prop1_2/stats.json \
        --test-stats results/data/test_stats.json              # counts and token lengths of a built set
    .venv/bin/python bench/cost_model.py --hypotheses results/metrics/hypotheses.json  # + what its seed plan costs
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from wlf import experiments
from wlf.data import sampling

REPO = Path(__file__).resolve().parents[1]

# Dense bf16 tensor-core peak, no sparsity (NVIDIA data sheets: A100 SXM 312 TFLOP/s, H100 SXM 989 TFLOP/s).
GPU_PEAK_FLOPS = {"a100": 312e12, "h100": 989e12}
# Qwen2.5-7B-Instruct: 7.62e9 parameters, 28 layers, hidden size 3584 (its config.json).
QWEN25_7B = {"n_params": 7.6e9, "n_layers": 28, "d_model": 3584}
QWEN25_VOCAB_ROWS = 152_064  # rows of its (untied) embedding and of its LM head
# The original plan: 19 experiments x 4 GPUs x 48 h of training, 19 x 1 GPU x 4 h of inference.
PLANNED_TRAIN_GPU_HOURS = 19 * 4 * 48
PLANNED_INFER_GPU_HOURS = 76
PRODUCTION_N_TRAIN = 17_101
PRODUCTION_N_TEST = 2_024
ASSUMED_MEAN_TOKENS = 6_000
# Bytes per parameter on disk: bf16 weights (a final model, and the weights in a checkpoint); a checkpoint's
# optimizer state with fp32 master weights and AdamW's two fp32 moments.
WEIGHT_BYTES_PER_PARAM = 2
OPTIMIZER_BYTES_PER_PARAM = 12
SLURM_PROFILE = REPO / "profiles" / "slurm" / "config.yaml"


@dataclass(frozen=True)
class ModelShape:
    n_params: float
    n_layers: int
    d_model: int


@dataclass(frozen=True)
class SetSize:
    n_examples: int
    mean_tokens: float
    source: str  # where the numbers came from, printed with the estimate


@dataclass(frozen=True)
class ExperimentCost:
    name: str
    prop: str
    n_accept: int
    n_reject: int
    n_seeds: int  # training runs: every train -> infer chain runs once per seed
    train_tokens: float  # tokens processed over all epochs and seeds
    train_gpu_hours: float  # all seeds
    infer_gpu_hours: float  # all seeds


@dataclass(frozen=True)
class DiskUse:
    """Disk of the grid's training, in bytes (decimal GB when printed)."""

    checkpoint: float  # one checkpoint-N folder: weights and optimizer state
    model: float  # one final model
    per_job: float  # a train job at its fullest (per_job_disk)
    peak: float  # `jobs` train jobs at their fullest while every other run's final model is written
    end: float  # every run's final model; the checkpoints are gone
    end_keeping_checkpoints: float  # the same if every run kept its checkpoints


def disk_use(
    n_params: float,
    n_runs: int,
    concurrent_jobs: int,
    save_total_limit: int,
    weight_bytes: float = WEIGHT_BYTES_PER_PARAM,
    optimizer_bytes: float = OPTIMIZER_BYTES_PER_PARAM,
) -> DiskUse:
    """Return the disk the grid's runs take: the most at once (an upper bound), and what stays at the end.

    A train job is at its fullest either while it saves a checkpoint beside the save_total_limit it keeps
    (transformers deletes the oldest only once the new one is complete) or between its final model's save and
    its checkpoints' removal; the kept copy of a model is hard links.
    """
    checkpoint = n_params * (weight_bytes + optimizer_bytes)
    model = n_params * weight_bytes
    per_job = max((save_total_limit + 1) * checkpoint, save_total_limit * checkpoint + model)
    running = min(concurrent_jobs, n_runs)
    return DiskUse(
        checkpoint=checkpoint,
        model=model,
        per_job=per_job,
        peak=running * per_job + (n_runs - running) * model,
        end=n_runs * model,
        end_keeping_checkpoints=n_runs * (save_total_limit * checkpoint + model),
    )


def render_disk(disk: DiskUse, n_runs: int, concurrent_jobs: int, save_total_limit: int) -> str:
    """Return the report's disk lines, in decimal GB."""
    running = min(concurrent_jobs, n_runs)
    return "\n".join(
        [
            f"Disk: a checkpoint {disk.checkpoint / 1e9:,.0f} GB (weights {WEIGHT_BYTES_PER_PARAM} + optimizer "
            f"state {OPTIMIZER_BYTES_PER_PARAM} bytes/parameter), a final model {disk.model / 1e9:,.0f} GB; "
            f"a train job keeps {save_total_limit} checkpoints, one more while it saves: at most "
            f"{disk.per_job / 1e9:,.0f} GB.",
            f"Disk at the peak, {running} train jobs at once (`jobs` {concurrent_jobs}, {n_runs} runs) and the "
            "other runs' models: "
            f"{disk.peak / 1e12:,.2f} TB; at the end ({n_runs} final models, checkpoints removed): "
            f"{disk.end / 1e9:,.0f} GB ({disk.end_keeping_checkpoints / 1e12:,.1f} TB if every run kept its "
            "checkpoints).",
        ]
    )


def profile_jobs(profile_path: Path) -> int:
    """Return how many jobs a Snakemake profile lets run at once (its `jobs`)."""
    return int(yaml.safe_load(Path(profile_path).read_text())["jobs"])


def train_flops_per_token(shape: ModelShape, seq_len_tokens: float) -> float:
    """Return training FLOPs per token: 6·N for the dense weights plus 12·L·d·s for attention."""
    return 6.0 * shape.n_params + 12.0 * shape.n_layers * shape.d_model * seq_len_tokens


def forward_flops_per_token(shape: ModelShape, seq_len_tokens: float) -> float:
    """Return forward-only FLOPs per token (a third of training: 2·N + 4·L·d·s)."""
    return train_flops_per_token(shape, seq_len_tokens) / 3.0


def gpu_hours(flops: float, mfu: float, peak_flops_per_s: float) -> float:
    """Return the GPU-hours needed for flops at model-FLOPs utilisation mfu of a peak_flops_per_s GPU."""
    if not 0 < mfu <= 1:
        raise ValueError(f"mfu = {mfu} must be in (0, 1]")
    if peak_flops_per_s <= 0:
        raise ValueError(f"peak FLOP/s = {peak_flops_per_s} must be > 0")
    return flops / (mfu * peak_flops_per_s) / 3600.0


def answer_only_fraction(shape: ModelShape, vocab_rows: int) -> float:
    """Return the share of 6·N that a token costs when the embedding is a lookup and the LM head is skipped.

    The embedding (V·d weights) does no multiply-adds, and the project's trainer and infer.py run the LM head
    (another V·d) on the answer tokens only, a negligible 2 of thousands of tokens per paper.
    """
    return 1.0 - 2.0 * vocab_rows * shape.d_model / shape.n_params


def break_even_mfu(estimated_gpu_hours: float, mfu: float, budget_gpu_hours: float) -> float:
    """Return the MFU at which the estimate would use exactly the budget (GPU-hours scale as 1/MFU)."""
    return mfu * estimated_gpu_hours / budget_gpu_hours


def balanced_counts(n_examples: int) -> tuple[int, int]:
    """Return (accepts, rejects) of a balanced set of n_examples (the odd one out is a Reject)."""
    return n_examples // 2, n_examples - n_examples // 2


def training_set_counts(
    n_accept: int, n_reject: int, prop: str, max_examples: int | None = None
) -> tuple[int, int]:
    """Return the (accepts, rejects) an experiment of proportion prop trains on: the workflow's own rule."""
    return sampling.proportion_counts(
        n_accept, n_reject, experiments.proportion_denominator(prop), max_examples
    )


def grid_costs(
    grid: list[experiments.Experiment],
    n_accept: int,
    n_reject: int,
    train_mean_tokens: float,
    test: SetSize,
    epochs: float,
    shape: ModelShape,
    mfu: float,
    peak_flops_per_s: float,
    max_examples: int | None = None,
    n_seeds: int = 1,
) -> list[ExperimentCost]:
    """Return the estimated training and inference GPU-hours of every experiment of the grid, over its seeds."""
    infer_flops = test.n_examples * test.mean_tokens * forward_flops_per_token(shape, test.mean_tokens)
    infer_hours = n_seeds * gpu_hours(infer_flops, mfu, peak_flops_per_s)
    costs = []
    for experiment in grid:
        k_accept, k_reject = training_set_counts(n_accept, n_reject, experiment.prop, max_examples)
        tokens = n_seeds * (k_accept + k_reject) * train_mean_tokens * epochs
        flops = tokens * train_flops_per_token(shape, train_mean_tokens)
        costs.append(
            ExperimentCost(
                experiment.name,
                experiment.prop,
                k_accept,
                k_reject,
                n_seeds,
                tokens,
                gpu_hours(flops, mfu, peak_flops_per_s),
                infer_hours,
            )
        )
    return costs


def mean_tokens_of_stats(stats: dict, path: str) -> tuple[float, str]:
    """Return (mean tokens per example, how it was read) from a make_dataset stats.json."""
    tokens = stats.get("example_tokens")
    if not isinstance(tokens, dict):
        raise ValueError(f"{path}: key 'example_tokens' is missing")
    if "mean" in tokens:
        return float(tokens["mean"]), f"{path}: example_tokens.mean"
    if "p50" in tokens:
        # Paper lengths are capped by max_paper_tokens, so the median is close to the mean when most papers
        # are truncated; it is the best the file offers without a mean.
        return float(tokens["p50"]), f"{path}: example_tokens.p50 (no mean in the file; median used)"
    raise ValueError(f"{path}: example_tokens has neither 'mean' nor 'p50'")


def read_stats(path: str) -> dict:
    """Return a stats.json as a dict, with a clear error naming the file when it is not one."""
    try:
        stats = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such stats file") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from None
    if not isinstance(stats, dict) or "n_examples" not in stats:
        raise ValueError(f"{path}: key 'n_examples' is missing")
    return stats


def source_counts_of_train_stats(stats: dict, path: str) -> tuple[int, int]:
    """Return (accepts, rejects) of the whole training source, which the grid's subsets are drawn from."""
    counts = stats.get("source", {}).get("counts")
    if not isinstance(counts, dict) or "Accept" not in counts or "Reject" not in counts:
        raise ValueError(f"{path}: key 'source.counts' with Accept and Reject is missing")
    return int(counts["Accept"]), int(counts["Reject"])


def render_report(
    costs: list[ExperimentCost],
    train_source: str,
    test: SetSize,
    epochs: float,
    shape: ModelShape,
    mfu: float,
    gpu: str,
    peak_flops_per_s: float,
    vocab_rows: int,
    answer_only: tuple[float, float, float] | None = None,
) -> str:
    """Return the Markdown report: per-experiment table, totals and the comparison with the plan."""
    train_total = sum(cost.train_gpu_hours for cost in costs)
    infer_total = sum(cost.infer_gpu_hours for cost in costs)
    n_seeds = costs[0].n_seeds if costs else 1
    lines = [
        f"Model: {shape.n_params:.3g} params, {shape.n_layers} layers, d_model {shape.d_model}; "
        f"GPU {gpu} at {peak_flops_per_s / 1e12:.0f} TFLOP/s peak, MFU {mfu:.2f}; {epochs:g} epochs; "
        f"{n_seeds} training seed(s): every experiment is trained and scored once per seed.",
        f"Training set sizes/tokens: {train_source}",
        f"Test set: {test.n_examples} examples x {test.mean_tokens:,.0f} tokens ({test.source})",
        "",
        "| experiment | accepts | rejects | train tokens (all epochs and seeds) | train GPU-h | infer GPU-h |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for cost in costs:
        lines.append(
            f"| {cost.name} | {cost.n_accept} | {cost.n_reject} | {cost.train_tokens:.3g} | "
            f"{cost.train_gpu_hours:.1f} | {cost.infer_gpu_hours:.2f} |"
        )
    train_share, infer_share = train_total / PLANNED_TRAIN_GPU_HOURS, infer_total / PLANNED_INFER_GPU_HOURS
    train_break_even = break_even_mfu(train_total, mfu, PLANNED_TRAIN_GPU_HOURS)
    infer_break_even = break_even_mfu(infer_total, mfu, PLANNED_INFER_GPU_HOURS)
    lines += [
        f"| **total ({len(costs)} experiments)** | | | {sum(c.train_tokens for c in costs):.3g} | "
        f"**{train_total:.0f}** | **{infer_total:.1f}** |",
        "",
        f"Plan (one run per experiment): {PLANNED_TRAIN_GPU_HOURS:,} GPU-h training, "
        f"{PLANNED_INFER_GPU_HOURS} GPU-h inference.",
        f"Estimate with {n_seeds} seed(s): {train_total:,.0f} GPU-h training ({train_share:.1%} of the plan), "
        f"{infer_total:.1f} GPU-h inference ({infer_share:.1%} of the plan).",
        f"The plan's training budget corresponds to an MFU of {train_break_even:.3f} "
        f"(inference: {infer_break_even:.3f}).",
        "Training GPU-h at other MFUs: "
        + ", ".join(
            f"{other:.2f} -> {train_total * mfu / other:,.0f}" for other in (0.15, 0.25, 0.5) if other != mfu
        )
        + ".",
    ]
    if answer_only is not None:
        fraction, answer_only_train, answer_only_infer = answer_only
        lines.append(
            f"6·N counts the embedding and the LM head (each {vocab_rows:,} x {shape.d_model}); the lookup "
            "does no matmul and the trainer and infer.py run the LM head on the answer tokens only, "
            f"so the dense work is {fraction:.1%} of 6·N: {answer_only_train:,.0f} GPU-h training, "
            f"{answer_only_infer:.1f} GPU-h inference."
        )
    return "\n".join(lines)


def seed_plan_lines(plan: dict, train_gpu_hours_per_seed: float, gpu: str) -> list[str]:
    """Return what the seeds each hypothesis needs (hypotheses.json's seed_planning) cost in training GPU-hours."""
    lines = [
        "",
        f"Seeds the study needs (seed plan of a run's hypotheses.json, {plan['target_power']:.0%} power for each "
        f"hypothesis's smallest observed step), at {train_gpu_hours_per_seed:,.0f} {gpu.upper()}-h of training per seed:",
        "",
        f"| hypothesis | outcome | smallest step | seeds | training {gpu.upper()}-h |",
        "|---|---|---|---:|---:|",
    ]
    for row in plan["rows"]:
        needed = row["seeds_needed"]
        hours = "—" if needed is None else f"{needed * train_gpu_hours_per_seed:,.0f}"
        seeds = "not reachable" if needed is None else str(needed)
        lines.append(f"| {row['hypothesis']} | {row['outcome']} | {row['step']} | {seeds} | {hours} |")
    return lines


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        default=str(REPO / "config" / "config.yaml"),
        help="workflow config: the experiment grid and train.num_train_epochs",
    )
    parser.add_argument("--train-stats", help="stats.json of a training set (source counts, token lengths)")
    parser.add_argument("--test-stats", help="stats.json of the test set")
    parser.add_argument(
        "--n-train",
        type=int,
        default=PRODUCTION_N_TRAIN,
        help="balanced training papers when no --train-stats (default %(default)s)",
    )
    parser.add_argument(
        "--n-test",
        type=int,
        default=PRODUCTION_N_TEST,
        help="test papers when no --test-stats (default %(default)s)",
    )
    parser.add_argument(
        "--mean-tokens",
        type=float,
        default=None,
        help=f"tokens per example (chat prompt + answer); default: from the stats files, "
        f"else the assumption {ASSUMED_MEAN_TOKENS}",
    )
    parser.add_argument(
        "--epochs", type=float, default=None, help="default: train.num_train_epochs of --config"
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help="training seeds per experiment; default: `seeds` of --config"
    )
    parser.add_argument("--n-params", type=float, default=QWEN25_7B["n_params"])
    parser.add_argument("--n-layers", type=int, default=QWEN25_7B["n_layers"])
    parser.add_argument("--d-model", type=int, default=QWEN25_7B["d_model"])
    parser.add_argument(
        "--vocab-rows",
        type=int,
        default=QWEN25_VOCAB_ROWS,
        help="embedding/LM-head rows, for the answer-only-head line (0: leave it out)",
    )
    parser.add_argument(
        "--mfu", type=float, default=0.35, help="model-FLOPs utilisation (default %(default)s)"
    )
    parser.add_argument("--gpu", choices=sorted(GPU_PEAK_FLOPS), default="a100")
    parser.add_argument("--peak-tflops", type=float, default=None, help="overrides --gpu's bf16 dense peak")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help=f"train jobs at once, for the peak disk; default: `jobs` of {SLURM_PROFILE.relative_to(REPO)}",
    )
    parser.add_argument(
        "--json", dest="json_path", help="also write the per-experiment estimate as JSON here"
    )
    parser.add_argument(
        "--hypotheses", help="a run's hypotheses.json: also price the seeds its seed plan asks for"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = yaml.safe_load(Path(args.config).read_text())
        grid = experiments.parse_experiments(config["experiments"])
        epochs = args.epochs if args.epochs is not None else float(config["train"]["num_train_epochs"])
        n_seeds = args.seeds if args.seeds is not None else len(config.get("seeds", [1]))
        max_examples = None
        if args.train_stats:
            train_stats = read_stats(args.train_stats)
            n_accept, n_reject = source_counts_of_train_stats(train_stats, args.train_stats)
            max_examples = train_stats.get("max_examples")
            train_mean, train_source = mean_tokens_of_stats(train_stats, args.train_stats)
            cap = f", capped at max_examples = {max_examples}" if max_examples is not None else ""
            train_source = (
                f"source counts {n_accept} Accept / {n_reject} Reject{cap} and {train_mean:,.0f} tokens "
                f"({train_source})"
            )
        else:
            n_accept, n_reject = balanced_counts(args.n_train)
            train_mean = ASSUMED_MEAN_TOKENS
            train_source = (
                f"{args.n_train:,} balanced papers ({n_accept} Accept / {n_reject} Reject), "
                f"{ASSUMED_MEAN_TOKENS:,} tokens each (assumed)"
            )
        if args.test_stats:
            test_stats = read_stats(args.test_stats)
            test_mean, test_from = mean_tokens_of_stats(test_stats, args.test_stats)
            test = SetSize(int(test_stats["n_examples"]), test_mean, test_from)
        else:
            test = SetSize(args.n_test, ASSUMED_MEAN_TOKENS, "assumed")
        plan = json.loads(Path(args.hypotheses).read_text())["seed_planning"] if args.hypotheses else None
        if args.mean_tokens is not None:
            train_mean = args.mean_tokens
            test = SetSize(test.n_examples, args.mean_tokens, "--mean-tokens")
            train_source += f"; tokens overridden: {args.mean_tokens:,.0f} (--mean-tokens)"
        concurrent_jobs = args.jobs if args.jobs is not None else profile_jobs(SLURM_PROFILE)
        save_total_limit = int(config["train"]["save_total_limit"])
    except (OSError, KeyError, ValueError, experiments.ExperimentConfigError) as error:
        print(f"cost_model: {error}", file=sys.stderr)
        return 2
    shape = ModelShape(args.n_params, args.n_layers, args.d_model)
    peak = args.peak_tflops * 1e12 if args.peak_tflops else GPU_PEAK_FLOPS[args.gpu]
    costs = grid_costs(
        grid, n_accept, n_reject, train_mean, test, epochs, shape, args.mfu, peak, max_examples, n_seeds
    )
    answer_only = None
    if args.vocab_rows:
        fraction = answer_only_fraction(shape, args.vocab_rows)
        lean = ModelShape(shape.n_params * fraction, shape.n_layers, shape.d_model)
        lean_costs = grid_costs(
            grid, n_accept, n_reject, train_mean, test, epochs, lean, args.mfu, peak, max_examples, n_seeds
        )
        answer_only = (
            fraction,
            sum(c.train_gpu_hours for c in lean_costs),
            sum(c.infer_gpu_hours for c in lean_costs),
        )
    print(
        render_report(
            costs, train_source, test, epochs, shape, args.mfu, args.gpu, peak, args.vocab_rows, answer_only
        )
    )
    n_runs = len(grid) * n_seeds
    disk = disk_use(shape.n_params, n_runs, concurrent_jobs, save_total_limit)
    print(render_disk(disk, n_runs, concurrent_jobs, save_total_limit))
    if plan is not None:
        per_seed = sum(c.train_gpu_hours for c in costs) / n_seeds
        print("\n".join(seed_plan_lines(plan, per_seed, args.gpu)))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps([asdict(cost) for cost in costs], indent=2) + "\n")
    return 0 if all(math.isfinite(c.train_gpu_hours) for c in costs) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Everything derived from config: the experiment table, input functions and every output path."""

import json
import sys
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"
sys.path.insert(0, str(SCRIPTS))

import experiments as grid  # noqa: E402  (needs SCRIPTS on sys.path)

try:
    EXPERIMENTS = grid.parse_experiments(config["experiments"])
    grid.check_overrides(config["train"].get("overrides", {}), EXPERIMENTS)
except grid.ExperimentConfigError as error:
    raise WorkflowError(f"invalid config: {error}") from None
EXPERIMENT_TABLE = pd.DataFrame(
    [vars(experiment) for experiment in EXPERIMENTS]
).set_index("name", drop=False)
BASELINE = grid.find_baseline(EXPERIMENTS)


wildcard_constraints:
    prop=r"1_[1-9][0-9]*",
    variant="|".join(grid.VARIANTS),
    gamma=r"[0-9]+\.[0-9]+",


# ---- output paths: defined here once, used by every rule ----
EXP = "{variant}_gamma{gamma}_prop{prop}"
CORPUS_TRAIN = "results/embedded/corpus/train.jsonl"
CORPUS_TEST = "results/embedded/corpus/test.jsonl"
EMBEDDED_MODEL = "results/embedded/model"
TRAIN_SET = "results/data/prop{prop}/train.jsonl"
TRAIN_STATS = "results/data/prop{prop}/stats.json"
TEST_SET = "results/data/test.jsonl"
TEST_STATS = "results/data/test_stats.json"
MODEL_DIR = f"results/models/{EXP}"
CHECKPOINT_DIR = f"results/checkpoints/{EXP}"
PREDICTIONS = f"results/predictions/{EXP}.jsonl"
METRICS = f"results/metrics/{EXP}.json"
# the reference baselines (issue 9): prior-shifted baseline predictions and a TF-IDF classifier
PRIORSHIFT_PREDICTIONS = f"results/predictions/priorshift/{EXP}.jsonl"
PRIORSHIFT_STATUS = f"results/predictions/priorshift/{EXP}.status.json"
PRIORSHIFT_METRICS = f"results/metrics/priorshift/{EXP}.json"
TFIDF_PREDICTIONS = f"results/predictions/tfidf_logreg/{EXP}.jsonl"
TFIDF_METRICS = f"results/metrics/tfidf_logreg/{EXP}.json"
ALL_METRICS_JSON = "results/metrics/all_metrics.json"
ALL_METRICS_CSV = "results/metrics/all_metrics.csv"
HYPOTHESES_JSON = "results/metrics/hypotheses.json"
HYPOTHESES_MD = "results/metrics/hypotheses.md"
PLOTS = "results/plots"


def experiment_paths(pattern, experiments=None):
    """Return `pattern` filled in for each of `experiments` (default: every configured experiment)."""
    return [
        pattern.format(variant=e.variant, gamma=grid.format_gamma(e.gamma), prop=e.prop)
        for e in (EXPERIMENTS if experiments is None else experiments)
    ]


def experiment_of(wildcards):
    """Return the configured experiment a job's wildcards name (KeyError if it is not configured)."""
    name = grid.experiment_name(
        wildcards.variant, float(wildcards.gamma), wildcards.prop
    )
    row = EXPERIMENT_TABLE.loc[name]
    return grid.Experiment(
        name=row["name"], prop=row["prop"], variant=row["variant"], gamma=row["gamma"]
    )


def model_source():
    """Return where the base model comes from: the built tiny model or a hub id / local path."""
    if config["model"]["embedded"]:
        return EMBEDDED_MODEL
    return config["model"]["name_or_path"]


def model_inputs(wildcards):
    """Return the base model as a DAG input when the workflow builds it, else nothing."""
    return [EMBEDDED_MODEL] if config["model"]["embedded"] else []


def train_source():
    """Return the path of the raw training papers: the generated corpus or the configured file."""
    return (
        CORPUS_TRAIN if config["data"]["embedded"] else config["data"]["train_source"]
    )


def test_source():
    """Return the path of the raw test papers: the generated corpus or the configured file."""
    return CORPUS_TEST if config["data"]["embedded"] else config["data"]["test_source"]


def missing_user_sources():
    """Return 'data.<key> = <path> does not exist' for each configured data source that is missing."""
    if config["data"]["embedded"]:
        return []
    messages = []
    for key in ("train_source", "test_source"):
        path = config["data"].get(key)
        if path is None:
            raise WorkflowError(
                f"invalid config: data.{key} is required when data.embedded is false"
            )
        if not Path(path).exists():
            messages.append(f"data.{key} = {path!r} does not exist")
    return messages


def existing(path):
    """Return [path] when it exists or is built by the workflow, else [] (its absence is reported)."""
    built = config["data"]["embedded"]
    return [path] if built or Path(path).exists() else []


def fail_on_missing_sources():
    """Stop a real run before its first job when a data source is missing (onstart: never in a dry run)."""
    if MISSING_SOURCES:
        raise WorkflowError("invalid config: " + "; ".join(MISSING_SOURCES))


# A dry run only warns, so the production DAG can be inspected on a machine without the data.
MISSING_SOURCES = missing_user_sources()
for message in MISSING_SOURCES:
    logger.warning(f"{message} (a dry run shows the DAG without it; a real run stops)")


def as_json(settings):
    """Return settings as compact, key-sorted JSON so params compare stably across runs."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))

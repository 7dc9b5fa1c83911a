"""Everything derived from config: the checked experiment table, every output path, the settings each script
receives, the jobs' sizes, and the input and params functions of the rules."""

import json
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

try:
    from wlf import experiments as grid
    from wlf import settings as schema
    from wlf.evaluation.figures import FIGURES
    from wlf.model_source import ModelSourceError, check_model_source
except ModuleNotFoundError as error:
    raise WorkflowError(
        f"{error}: the workflow's package is not installed; run `pip install -e .` in the repository"
    ) from None

# The config is checked against workflow/schemas/config.schema.yaml, and every experiment against its name.
try:
    schema.check_config(config)
    EXPERIMENTS = grid.parse_experiments(config["experiments"])
    grid.check_overrides(config["train"].get("overrides", {}), EXPERIMENTS)
except ValueError as error:
    raise WorkflowError(f"invalid config: {error}") from None
EXPERIMENT_BY_NAME = {experiment.name: experiment for experiment in EXPERIMENTS}
BASELINE = grid.find_baseline(EXPERIMENTS)
# Prior-shift counterparts exist for the non-baseline experiments, and only when there is a baseline to shift.
PRIORSHIFT_EXPERIMENTS = (
    [e for e in EXPERIMENTS if e.variant != "baseline"] if BASELINE else []
)
# Every train -> infer chain runs once per training seed; the prior shift of seed s moves the baseline's seed s.
SEEDS = config.get("seeds", schema.schema()["properties"]["seeds"]["default"])
# The methods whose predictions come one per seed; the TF-IDF classifier is deterministic and runs once.
SEEDED_METHODS = (grid.FINETUNED, grid.PRIORSHIFT)
# Where each method's predictions and metrics live: the fine-tuned model's at the top, the others in a folder.
METHOD_DIRS = {
    grid.FINETUNED: "",
    grid.PRIORSHIFT: "priorshift/",
    grid.TFIDF: "tfidf_logreg/",
}


wildcard_constraints:
    prop=grid.PROP_PATTERN.pattern.strip("^$"),
    variant="|".join(grid.VARIANTS),
    gamma=r"[0-9]+\.[0-9]+",
    seed=r"[0-9]+",
    method_dir="(" + "|".join(d for d in METHOD_DIRS.values() if d) + ")?",


# ---- output paths: defined here once, used by every rule ----
EXP = "{variant}_gamma{gamma}_prop{prop}"
RUN = f"{EXP}/seed{{seed}}"  # one training run: an experiment and a seed
CORPUS_TRAIN = "results/embedded/corpus/train.jsonl"
CORPUS_TEST = "results/embedded/corpus/test.jsonl"
EMBEDDED_MODEL = "results/embedded/model"
TRAIN_SET = "results/data/prop{prop}/train.jsonl"
TRAIN_STATS = "results/data/prop{prop}/stats.json"
TEST_SET = "results/data/test.jsonl"
TEST_STATS = "results/data/test_stats.json"
MODEL_DIR = f"results/models/{RUN}"
CHECKPOINT_DIR = f"results/checkpoints/{RUN}"
# a run's TensorBoard events (train.report_to), not an output either: a resumed run adds to them
TENSORBOARD_DIR = f"results/logs/tensorboard/{RUN}"
# {method_dir}: METHOD_DIRS of the method whose predictions or metrics these are
PREDICTIONS_OF = (
    f"results/predictions/{{method_dir}}{RUN}.jsonl"  # a seeded method's, one run
)
PRIORSHIFT_STATUS = f"results/predictions/priorshift/{RUN}.status.json"
TFIDF_PREDICTIONS = f"results/predictions/tfidf_logreg/{EXP}.jsonl"
# the base model as it comes, once per study: the zero-shot reference
ZEROSHOT_PREDICTIONS = "results/predictions/zeroshot.jsonl"
ZEROSHOT_METRICS = "results/metrics/zeroshot.json"
METRICS_OF = (
    f"results/metrics/{{method_dir}}{EXP}.json"  # an experiment's, over its seeds
)
RUN_METRICS_OF = (
    f"results/metrics/{{method_dir}}{RUN}.json"  # one run's (a target of its own)
)
ALL_METRICS_JSON = "results/metrics/all_metrics.json"
ALL_METRICS_CSV = "results/metrics/all_metrics.csv"
HYPOTHESES_JSON = "results/metrics/hypotheses.json"
HYPOTHESES_MD = "results/metrics/hypotheses.md"
PLOTS = "results/plots"


def of_method(pattern, method):
    """Return a {method_dir} pattern for one method, e.g. the fine-tuned predictions' path pattern."""
    return pattern.replace("{method_dir}", METHOD_DIRS[method])


PREDICTIONS = of_method(PREDICTIONS_OF, grid.FINETUNED)
METRICS = of_method(METRICS_OF, grid.FINETUNED)


def fill(pattern, experiment, seed=None):
    """Return pattern filled in for one experiment (and one seed, where the pattern has one)."""
    fields = dict(
        variant=experiment.variant,
        gamma=grid.format_gamma(experiment.gamma),
        prop=experiment.prop,
    )
    return pattern.format(**fields, **({} if seed is None else {"seed": seed}))


def experiment_paths(pattern, experiments=None):
    """Return `pattern` filled in for each of `experiments` (default: every configured experiment)."""
    return [
        fill(pattern, e) for e in (EXPERIMENTS if experiments is None else experiments)
    ]


def run_paths(pattern, experiments=None):
    """Return `pattern` filled in for every seed of each of `experiments` (default: all), experiment-major."""
    experiments = EXPERIMENTS if experiments is None else experiments
    return [fill(pattern, e, seed) for e in experiments for seed in SEEDS]


def runs_json(experiments=None):
    """Return the JSON list of [experiment name, seed] in run_paths order, for a script reading those files."""
    experiments = EXPERIMENTS if experiments is None else experiments
    return as_json([[e.name, seed] for e in experiments for seed in SEEDS])


def experiments_of_method(method):
    """Return the experiments a method has predictions for (prior shift: every one but the baseline)."""
    return PRIORSHIFT_EXPERIMENTS if method == grid.PRIORSHIFT else EXPERIMENTS


def all_metrics_files():
    """Return every experiment's metrics file of every method, and the zero-shot's: what the table collects."""
    return [
        path
        for method in METHOD_DIRS
        for path in experiment_paths(
            of_method(METRICS_OF, method), experiments_of_method(method)
        )
    ] + [ZEROSHOT_METRICS]


ALL_PREDICTIONS = run_paths(PREDICTIONS)
ALL_PRIORSHIFT_PREDICTIONS = run_paths(
    of_method(PREDICTIONS_OF, grid.PRIORSHIFT), PRIORSHIFT_EXPERIMENTS
)
ALL_MODEL_DIRS = run_paths(MODEL_DIR)
PLOT_FILES = [f"{PLOTS}/{name}" for name in FIGURES]


# ---- the settings each script receives: the config keys its schema definition lists ----
def as_json(settings):
    """Return settings as compact, key-sorted JSON so params compare stably across runs."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


def settings_of(section, definition):
    """Return the keys of config[section] that the schema's $defs/<definition> lists (what its script reads)."""
    return {k: v for k, v in config[section].items() if k in schema.keys(definition)}


MODEL_KEYS = {
    key: config["model"].get(key, spec["default"])
    for key, spec in schema.model_keys().items()
}
DATASET_SETTINGS = as_json(settings_of("data", "dataset") | MODEL_KEYS)
TRAIN_SETTINGS = settings_of("train", "training") | MODEL_KEYS
INFER_SETTINGS = as_json(settings_of("infer", "inference") | MODEL_KEYS)
EVALUATION = schema.defaults("evaluation") | config["evaluate"]
EVALUATE_SETTINGS = as_json(config["evaluate"])
TFIDF_SETTINGS = as_json(
    {"threshold": config["infer"]["threshold"]}
    | config.get("baselines", {}).get("tfidf_logreg", {})
)
# The generators take their seed on the command line; the rest of their section is their settings.
SYNTHETIC_SETTINGS = dict(config["data"].get("synthetic") or {})
SYNTHETIC_SEED = int(SYNTHETIC_SETTINGS.pop("seed", 0))
TINY_SETTINGS = dict(config["model"].get("tiny") or {})
TINY_SEED = int(TINY_SETTINGS.pop("seed", 0))
# The tokenizer also learns the prompt words, which every example repeats (the {paper} slot is left out).
PROMPT_TEXTS = as_json(
    [config["data"]["system_prompt"], *config["data"]["user_template"].split("{paper}")]
)


# ---- the jobs' sizes: GPUs are experiment settings (they change the global batch), the rest derive ----
TRAIN_GPUS = int(config["train"].get("gpus") or 0)
# One process per GPU; train.num_processes overrides (e.g. 2 CPU processes to check data parallelism).
TRAIN_PROCESSES = int(config["train"].get("num_processes") or max(TRAIN_GPUS, 1))
# Locally one torch thread per process: two jobs share the 2 cores better than one job with 2 threads.
TRAIN_THREADS = int(
    config["train"].get("threads")
    or (4 * TRAIN_PROCESSES if TRAIN_GPUS else TRAIN_PROCESSES)
)
TRAIN_MEM_MB = int(
    config["train"].get("mem_mb") or (32000 * TRAIN_GPUS if TRAIN_GPUS else 4000)
)
TRAIN_RUNTIME = int(config["train"].get("runtime") or (1440 if TRAIN_GPUS else 30))
# Several processes: accelerate launch (port 0 = a free port, so concurrent jobs on one node do not collide).
TRAIN_LAUNCHER = (
    f"accelerate launch --num_processes {TRAIN_PROCESSES} --main_process_port 0 --config_file "
    + (config["train"].get("accelerate_config") or "config/accelerate/ddp.yaml")
    if TRAIN_PROCESSES > 1
    else "python"
)
INFER_GPUS = int(config["infer"].get("gpus") or 0)
INFER_THREADS = int(config["infer"].get("threads") or 2)
INFER_MEM_MB = int(config["infer"].get("mem_mb") or (32000 if INFER_GPUS else 4000))
INFER_RUNTIME = int(config["infer"].get("runtime") or (120 if INFER_GPUS else 60))


# ---- input and params functions ----
def script(name):
    """Return the path of a command-line script in workflow/scripts/."""
    return Path(workflow.basedir) / "workflow" / "scripts" / name


def experiment_of(wildcards):
    """Return the configured experiment a job's wildcards name (KeyError if it is not configured)."""
    name = grid.experiment_name(
        wildcards.variant, float(wildcards.gamma), wildcards.prop
    )
    return EXPERIMENT_BY_NAME[name]


def experiment_json(wildcards):
    """Return the job's experiment as the JSON {name, prop, variant, gamma} the scripts take."""
    return as_json(vars(experiment_of(wildcards)))


def settings_of_experiment(experiment):
    """Return an experiment's train settings: train.overrides[<name>] updates the global ones (shallowly)."""
    overrides = config["train"].get("overrides") or {}
    return TRAIN_SETTINGS | overrides.get(experiment.name, {})


def train_settings(wildcards):
    """Return the train settings of the job's experiment, as the JSON train.py takes."""
    return as_json(settings_of_experiment(experiment_of(wildcards)))


def fit_length(wildcards):
    """Return the longest example the proportion's training jobs accept: their smallest train.max_length.

    make_dataset checks it, so that a paper too long for training stops the data stage, not a GPU job.
    """
    default = schema.defaults("training")["max_length"]
    lengths = [
        settings_of_experiment(e).get("max_length", default)
        for e in EXPERIMENTS
        if e.prop == wildcards.prop
    ]
    return min(lengths or [TRAIN_SETTINGS.get("max_length", default)])


def test_fit_option(wildcards):
    """Return make_test_set's --max-length: infer.max_length when set (else the script reads the model's)."""
    length = config["infer"].get("max_length")
    return "" if length is None else f"--max-length {int(length)}"


def dataset_settings(wildcards):
    """Return the data settings (a function, so that user_template's {paper} is not read as a wildcard)."""
    return DATASET_SETTINGS


def prompt_texts(wildcards):
    """Return the prompt words the tokenizer learns (a function for the same reason as dataset_settings)."""
    return PROMPT_TEXTS


def run_settings(wildcards):
    """Return the train settings of the job's run: its experiment's settings with the run's seed."""
    settings = settings_of_experiment(experiment_of(wildcards))
    return as_json(settings | {"seed": int(wildcards.seed)})


def baseline_predictions(wildcards):
    """Return the baseline's predictions of the job's seed: what its prior-shift counterpart moves."""
    return [fill(PREDICTIONS, BASELINE, wildcards.seed)] if BASELINE else []


def method_of(wildcards):
    """Return the method whose predictions a job evaluates, from its {method_dir}."""
    return next(
        method
        for method, folder in METHOD_DIRS.items()
        if folder == wildcards.method_dir
    )


def evaluate_inputs(wildcards):
    """Return what an experiment's evaluate job reads: the predictions of every seed of a seeded method (with
    the prior shift's status sidecars: why it skipped), or the single run of the TF-IDF classifier.
    """
    method = method_of(wildcards)
    experiment = experiment_of(wildcards)
    if method not in SEEDED_METHODS:
        return {"predictions": [fill(TFIDF_PREDICTIONS, experiment)]}
    pattern = of_method(PREDICTIONS_OF, method)
    inputs = {"predictions": [fill(pattern, experiment, seed) for seed in SEEDS]}
    if method == grid.PRIORSHIFT:
        inputs["status"] = [fill(PRIORSHIFT_STATUS, experiment, seed) for seed in SEEDS]
    return inputs


def run_evaluate_inputs(wildcards):
    """Return what one run's evaluate job reads: its predictions (and the prior shift's status sidecar)."""
    inputs = {"predictions": PREDICTIONS_OF.format(**wildcards)}
    if method_of(wildcards) == grid.PRIORSHIFT:
        inputs["status"] = [PRIORSHIFT_STATUS.format(**wildcards)]
    return inputs


def seeds_option(wildcards):
    """Return the --seeds option of an experiment's evaluate job (none for the unseeded TF-IDF classifier)."""
    if method_of(wildcards) not in SEEDED_METHODS:
        return ""
    return "--seeds " + " ".join(str(seed) for seed in SEEDS)


def status_option(wildcards, input):
    """Return the --status option of an evaluate job that has status sidecars, else nothing."""
    if "status" not in input.keys():
        return ""
    return "--status " + " ".join(shlex.quote(path) for path in input.status)


def output_folder(wildcards, output):
    """Return the folder of a job's first output (where a script writes its fixed set of files)."""
    return Path(output[0]).parent


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
    """Return what the run would miss: each configured data source that does not exist, and a base model that
    is neither a local folder nor a hub id (or a hub id the offline cache lacks)."""
    messages = []
    if not config["model"]["embedded"]:
        try:
            check_model_source(config["model"]["name_or_path"])
        except ModelSourceError as error:
            messages.append(str(error))
    if config["data"]["embedded"]:
        return messages
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

"""weighted-loss-fn: loss weighting and the accept/reject mix vs. an LLM's predicted ICLR acceptance rate."""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


# common.smk checks the config against workflow/schemas/config.schema.yaml (one-line errors naming the key).
include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/infer.smk"
include: "rules/evaluate.smk"
include: "rules/baselines.smk"
include: "rules/plot.smk"


rule all:
    input:
        experiment_paths(METRICS),
        ALL_METRICS_JSON,
        ALL_METRICS_CSV,
        HYPOTHESES_JSON,
        HYPOTHESES_MD,
        PLOT_FILES,


onstart:
    fail_on_missing_sources()

# Evaluation: metrics with bootstrap intervals per experiment and method, the table, and the hypothesis tests.

EVALUATE_SETTINGS = as_json(config["evaluate"])
# Prior-shift counterparts exist for the non-baseline experiments, and only when there is a baseline to shift.
PRIORSHIFT_EXPERIMENTS = (
    [e for e in EXPERIMENTS if e.variant != "baseline"] if BASELINE else []
)
ALL_PRIORSHIFT_PREDICTIONS = experiment_paths(
    PRIORSHIFT_PREDICTIONS, PRIORSHIFT_EXPERIMENTS
)
ALL_PRIORSHIFT_METRICS = experiment_paths(PRIORSHIFT_METRICS, PRIORSHIFT_EXPERIMENTS)


rule evaluate:
    input:
        PREDICTIONS,
    output:
        METRICS,
    log:
        f"logs/evaluate/{EXP}.log",
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        script=SCRIPTS / "evaluate.py",
        experiment=lambda wildcards: as_json(vars(experiment_of(wildcards))),
        settings=EVALUATE_SETTINGS,
    shell:
        "python {params.script:q} --predictions {input:q} --experiment {params.experiment:q}"
        " --settings {params.settings:q} --method finetuned --output {output:q} > {log:q} 2>&1"


rule evaluate_priorshift:
    input:
        predictions=PRIORSHIFT_PREDICTIONS,
        status=PRIORSHIFT_STATUS,
    output:
        PRIORSHIFT_METRICS,
    log:
        f"logs/evaluate_priorshift/{EXP}.log",
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        script=SCRIPTS / "evaluate.py",
        experiment=lambda wildcards: as_json(vars(experiment_of(wildcards))),
        settings=EVALUATE_SETTINGS,
    shell:
        "python {params.script:q} --predictions {input.predictions:q} --status {input.status:q}"
        " --experiment {params.experiment:q} --settings {params.settings:q} --method priorshift"
        " --output {output:q} > {log:q} 2>&1"


rule evaluate_tfidf:
    input:
        TFIDF_PREDICTIONS,
    output:
        TFIDF_METRICS,
    log:
        f"logs/evaluate_tfidf/{EXP}.log",
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        script=SCRIPTS / "evaluate.py",
        experiment=lambda wildcards: as_json(vars(experiment_of(wildcards))),
        settings=EVALUATE_SETTINGS,
    shell:
        "python {params.script:q} --predictions {input:q} --experiment {params.experiment:q}"
        " --settings {params.settings:q} --method tfidf_logreg --output {output:q} > {log:q} 2>&1"


rule aggregate:
    input:
        experiment_paths(METRICS),
        ALL_PRIORSHIFT_METRICS,
        experiment_paths(TFIDF_METRICS),
    output:
        json=ALL_METRICS_JSON,
        csv=report(
            ALL_METRICS_CSV,
            caption="../report/all_metrics.rst",
            category="Tables",
        ),
    log:
        "logs/aggregate/aggregate.log",
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        script=SCRIPTS / "aggregate_metrics.py",
    shell:
        "python {params.script:q} {input:q} --output-json {output.json:q}"
        " --output-csv {output.csv:q} > {log:q} 2>&1"


rule hypotheses:
    input:
        table=ALL_METRICS_JSON,
        predictions=experiment_paths(PREDICTIONS),
        priorshift=ALL_PRIORSHIFT_PREDICTIONS,
    output:
        json=HYPOTHESES_JSON,
        md=report(HYPOTHESES_MD, caption="../report/hypotheses.rst", category="Tables"),
    log:
        "logs/hypotheses/hypotheses.log",
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        script=SCRIPTS / "hypotheses.py",
        settings=EVALUATE_SETTINGS,
        predictions_dir=Path(PREDICTIONS).parent,
        priorshift_dir=Path(PRIORSHIFT_PREDICTIONS).parent,
    shell:
        "python {params.script:q} --all-metrics {input.table:q}"
        " --predictions-dir {params.predictions_dir:q} --priorshift-dir {params.priorshift_dir:q}"
        " --settings {params.settings:q} --output-json {output.json:q} --output-md {output.md:q}"
        " > {log:q} 2>&1"

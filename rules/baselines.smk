# Issue-9 baselines: each experiment's prior-shift counterpart (the baseline's odds moved by gamma and the
# training mix) and a TF-IDF + logistic-regression classifier trained on the experiment's data and weights.
# Their paths are defined in rules/common.smk.

TFIDF_SETTINGS = as_json(
    {
        "threshold": config["infer"]["threshold"],
        **config.get("baselines", {}).get("tfidf_logreg", {}),
    }
)


# The baseline's predictions, which every prior-shift counterpart starts from (none without a baseline:
# then no counterpart is requested).
BASELINE_PREDICTIONS = experiment_paths(PREDICTIONS, [BASELINE] if BASELINE else [])
BASELINE_JSON = as_json(vars(BASELINE) if BASELINE else {})


rule priorshift:
    input:
        BASELINE_PREDICTIONS,
    output:
        predictions=PRIORSHIFT_PREDICTIONS,
        status=PRIORSHIFT_STATUS,
    log:
        f"logs/priorshift/{EXP}.log",
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        script=SCRIPTS / "priorshift.py",
        experiment=lambda wildcards: as_json(vars(experiment_of(wildcards))),
        baseline=BASELINE_JSON,
        threshold=config["infer"]["threshold"],
    shell:
        "python {params.script:q} --baseline-predictions {input:q}"
        " --baseline-experiment {params.baseline:q} --experiment {params.experiment:q}"
        " --threshold {params.threshold} --output {output.predictions:q} --status {output.status:q}"
        " > {log:q} 2>&1"


rule tfidf_logreg:
    input:
        train=TRAIN_SET,
        test=TEST_SET,
    output:
        TFIDF_PREDICTIONS,
    log:
        f"logs/tfidf_logreg/{EXP}.log",
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        script=SCRIPTS / "tfidf_baseline.py",
        experiment=lambda wildcards: as_json(vars(experiment_of(wildcards))),
        settings=TFIDF_SETTINGS,
    shell:
        "python {params.script:q} --train-file {input.train:q} --test-file {input.test:q}"
        " --experiment {params.experiment:q} --settings {params.settings:q} --output {output:q}"
        " > {log:q} 2>&1"

# The reference baselines: each experiment's prior-shift counterpart, one per seed (the baseline's odds moved by
# gamma and the training mix), and a TF-IDF + logistic-regression classifier trained on the experiment's data and
# weights (deterministic: one run).


rule priorshift:
    input:
        baseline_predictions,
    output:
        predictions=of_method(PREDICTIONS_OF, grid.PRIORSHIFT),
        status=PRIORSHIFT_STATUS,
    log:
        f"logs/priorshift/{RUN}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        script=script("priorshift.py"),
        experiment=experiment_json,
        baseline=as_json(vars(BASELINE) if BASELINE else {}),
        threshold=config["infer"]["threshold"],
    shell:
        "python {params.script:q} --baseline-predictions {input:q} --baseline-experiment {params.baseline:q}"
        " --experiment {params.experiment:q} --threshold {params.threshold}"
        " --output {output.predictions:q} --status {output.status:q} > {log:q} 2>&1"


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
    params:
        script=script("tfidf_baseline.py"),
        experiment=experiment_json,
        settings=TFIDF_SETTINGS,
    shell:
        "python {params.script:q} --train-file {input.train:q} --test-file {input.test:q}"
        " --experiment {params.experiment:q} --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"

# Evaluation: metrics per experiment and method (over its seeds) and per run, the table, and the hypotheses.


rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        METRICS_OF,
    log:
        f"logs/evaluate/{{method_dir}}{EXP}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        script=script("evaluate.py"),
        method=method_of,
        seeds=seeds_option,
        status=status_option,
        experiment=experiment_json,
        settings=EVALUATE_SETTINGS,
    shell:
        "python {params.script:q} --predictions {input.predictions:q} {params.seeds} {params.status}"
        " --method {params.method} --experiment {params.experiment:q} --settings {params.settings:q}"
        " --output {output:q} > {log:q} 2>&1"


# One run's metrics: not part of the study's table, a target of its own (results/metrics/<exp>/seed2.json).
rule evaluate_run:
    input:
        unpack(run_evaluate_inputs),
    output:
        RUN_METRICS_OF,
    log:
        f"logs/evaluate/{{method_dir}}{RUN}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        script=script("evaluate.py"),
        method=method_of,
        status=status_option,
        experiment=experiment_json,
        settings=EVALUATE_SETTINGS,
    shell:
        "python {params.script:q} --predictions {input.predictions:q} --seeds {wildcards.seed} {params.status}"
        " --method {params.method} --experiment {params.experiment:q} --settings {params.settings:q}"
        " --output {output:q} > {log:q} 2>&1"


# The zero-shot reference's metrics: one inference of the base model, no seeds, no experiment.
rule evaluate_zeroshot:
    input:
        ZEROSHOT_PREDICTIONS,
    output:
        ZEROSHOT_METRICS,
    log:
        "logs/evaluate/zeroshot.log",
    conda:
        "../envs/analysis.yaml"
    params:
        script=script("evaluate.py"),
        settings=EVALUATE_SETTINGS,
    shell:
        "python {params.script:q} --predictions {input:q} --method zeroshot --settings {params.settings:q}"
        " --output {output:q} > {log:q} 2>&1"


rule aggregate:
    input:
        all_metrics_files(),
    output:
        json=ALL_METRICS_JSON,
        csv=report(
            ALL_METRICS_CSV, caption="../report/all_metrics.rst", category="Tables"
        ),
    log:
        "logs/aggregate/aggregate.log",
    conda:
        "../envs/analysis.yaml"
    params:
        script=script("aggregate_metrics.py"),
    shell:
        "python {params.script:q} {input:q} --output-json {output.json:q} --output-csv {output.csv:q} > {log:q} 2>&1"


rule hypotheses:
    input:
        table=ALL_METRICS_JSON,
        predictions=ALL_PREDICTIONS,
        priorshift=ALL_PRIORSHIFT_PREDICTIONS,
        zeroshot=ZEROSHOT_PREDICTIONS,
    output:
        json=HYPOTHESES_JSON,
        md=report(HYPOTHESES_MD, caption="../report/hypotheses.rst", category="Tables"),
    log:
        "logs/hypotheses/hypotheses.log",
    conda:
        "../envs/analysis.yaml"
    params:
        script=script("hypotheses.py"),
        runs=runs_json(),
        priorshift_runs=runs_json(PRIORSHIFT_EXPERIMENTS),
        settings=EVALUATE_SETTINGS,
    shell:
        "python {params.script:q} --all-metrics {input.table:q} --predictions {input.predictions:q}"
        " --runs {params.runs:q} --priorshift {input.priorshift:q} --priorshift-runs {params.priorshift_runs:q}"
        " --zeroshot {input.zeroshot:q} --settings {params.settings:q}"
        " --output-json {output.json:q} --output-md {output.md:q} > {log:q} 2>&1"

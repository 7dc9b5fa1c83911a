# Evaluation: metrics with bootstrap intervals per experiment and method, the table, and the hypothesis tests.


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
        status=status_option,
        experiment=experiment_json,
        settings=EVALUATE_SETTINGS,
    shell:
        "python {params.script:q} --predictions {input.predictions:q} {params.status} --method {params.method}"
        " --experiment {params.experiment:q} --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"


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
    output:
        json=HYPOTHESES_JSON,
        md=report(HYPOTHESES_MD, caption="../report/hypotheses.rst", category="Tables"),
    log:
        "logs/hypotheses/hypotheses.log",
    conda:
        "../envs/analysis.yaml"
    params:
        script=script("hypotheses.py"),
        settings=EVALUATE_SETTINGS,
    shell:
        "python {params.script:q} --all-metrics {input.table:q} --predictions {input.predictions:q}"
        " --priorshift {input.priorshift:q} --settings {params.settings:q}"
        " --output-json {output.json:q} --output-md {output.md:q} > {log:q} 2>&1"

# Figures for the report: every plot (wlf.evaluation.figures) is flagged with report() and a caption from report/.


rule plot:
    input:
        table=ALL_METRICS_JSON,
        predictions=ALL_PREDICTIONS,
        models=ALL_MODEL_DIRS,  # their train_summary.json loss curves
    output:
        [
            report(
                f"{PLOTS}/{name}", caption=f"../report/{caption}", category=category
            )
            for name, (category, caption) in FIGURES.items()
        ],
    log:
        "logs/plot/plot.log",
    conda:
        "../envs/analysis.yaml"
    params:
        script=script("plots.py"),
        runs=runs_json(),
        ece_bins=EVALUATION["ece_bins"],
        confidence=EVALUATION["confidence"],
        outdir=output_folder,
    shell:
        "python {params.script:q} --all-metrics {input.table:q} --predictions {input.predictions:q}"
        " --model-dirs {input.models:q} --runs {params.runs:q} --ece-bins {params.ece_bins} --confidence {params.confidence}"
        " --outdir {params.outdir:q} > {log:q} 2>&1"

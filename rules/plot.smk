# Figures for the report: every plot is flagged with report() and a caption from report/.

# file name -> (report category, caption file); plots.py writes exactly these files (tests/test_plots.py checks)
PLOT_REPORT = {
    "acceptance_rate_vs_gamma.png": ("1 Main result", "acceptance_rate_vs_gamma.rst"),
    "accuracy_vs_gamma.png": ("2 Accuracy and precision", "accuracy_vs_gamma.rst"),
    "precision_recall.png": ("2 Accuracy and precision", "precision_recall.rst"),
    "heatmap_predicted_acceptance_rate.png": ("3 Heatmaps", "heatmaps.rst"),
    "heatmap_accuracy.png": ("3 Heatmaps", "heatmaps.rst"),
    "heatmap_f1.png": ("3 Heatmaps", "heatmaps.rst"),
    "training_loss.png": ("4 Diagnostics", "training_loss.rst"),
    "calibration.png": ("4 Diagnostics", "calibration.rst"),
}
PLOT_FILES = [f"{PLOTS}/{name}" for name in PLOT_REPORT]


rule plot:
    input:
        table=ALL_METRICS_JSON,
        predictions=experiment_paths(PREDICTIONS),
        models=experiment_paths(MODEL_DIR),  # their train_summary.json loss curves
    output:
        [
            report(
                f"{PLOTS}/{name}", caption=f"../report/{caption}", category=category
            )
            for name, (category, caption) in PLOT_REPORT.items()
        ],
    log:
        "logs/plot/plot.log",
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        script=SCRIPTS / "plots.py",
        predictions_dir=Path(PREDICTIONS).parent,
        ece_bins=config["evaluate"].get("ece_bins", 10),
        confidence=config["evaluate"]["confidence"],
        outdir=lambda wildcards, output: Path(output[0]).parent,
    shell:
        "python {params.script:q} --all-metrics {input.table:q} --predictions-dir {params.predictions_dir:q}"
        " --model-dirs {input.models:q} --ece-bins {params.ece_bins} --confidence {params.confidence}"
        " --outdir {params.outdir:q} > {log:q} 2>&1"

# Training: one fine-tune per experiment and seed with the class-weighted answer loss, resumable from its
# checkpoints.

from wlf.training import stop_signals

# A train job's SLURM warning signal must reach train.py with its parents alive (see ignore_in_launchers).
stop_signals.ignore_in_launchers()


rule train:
    input:
        data=TRAIN_SET,
        model=model_inputs,
    output:
        directory(MODEL_DIR),
    log:
        f"logs/train/{RUN}.log",
    benchmark:
        f"benchmarks/train/{RUN}.tsv"
    conda:
        "../envs/train.yaml"
    threads: TRAIN_THREADS
    resources:
        gpu=TRAIN_GPUS,
        mem_mb=TRAIN_MEM_MB,
        runtime=TRAIN_RUNTIME,
    params:
        script=script("train.py"),
        model=model_source(),
        launcher=TRAIN_LAUNCHER,
        processes=TRAIN_PROCESSES,
        checkpoint_dir=CHECKPOINT_DIR,
        tensorboard_dir=TENSORBOARD_DIR,
        settings=run_settings,
    shell:
        # each of the job's processes gets its share of the threads
        "OMP_NUM_THREADS=$(( {threads} > {params.processes} ? {threads} / {params.processes} : 1 ))"
        " {params.launcher} {params.script:q} --train-file {input.data:q} --model {params.model:q}"
        " --variant {wildcards.variant} --gamma {wildcards.gamma} --settings {params.settings:q}"
        " --output-dir {output:q} --checkpoint-dir {params.checkpoint_dir:q}"
        " --tensorboard-dir {params.tensorboard_dir:q} > {log:q} 2>&1"

# Training: one fine-tune per experiment with the class-weighted answer loss, resumable from its checkpoints.

# Keys of the config `train` section that size and launch the job; the rest are train.py settings.
TRAIN_LAUNCH_KEYS = [
    "gpus",
    "num_processes",
    "accelerate_config",
    "overrides",
    "threads",
    "mem_mb",
    "runtime",
]
TRAIN_GPUS = int(config["train"].get("gpus") or 0)
# One process per GPU; train.num_processes overrides (e.g. 2 CPU processes to check data parallelism).
TRAIN_PROCESSES = int(config["train"].get("num_processes") or max(TRAIN_GPUS, 1))
# Locally one torch thread per process: two jobs share the 2 cores better than one job with 2 threads.
TRAIN_THREADS = int(
    config["train"].get("threads")
    or (4 * TRAIN_PROCESSES if TRAIN_GPUS else TRAIN_PROCESSES)
)
TRAIN_ACCELERATE_CONFIG = (
    config["train"].get("accelerate_config") or "config/accelerate/ddp.yaml"
)
# Computed once here (the linter wants functions in common.smk). Several processes: accelerate launch
# (port 0 = a free port, so concurrent jobs on one node do not collide); the shell gives each its share of
# the job's threads.
TRAIN_LAUNCHER = (
    f"accelerate launch --num_processes {TRAIN_PROCESSES} --main_process_port 0"
    f" --config_file {TRAIN_ACCELERATE_CONFIG}"
    if TRAIN_PROCESSES > 1
    else "python"
)
TRAIN_BASE_SETTINGS = {
    key: value for key, value in config["train"].items() if key not in TRAIN_LAUNCH_KEYS
} | {"trust_remote_code": bool(config["model"].get("trust_remote_code", False))}
TRAIN_OVERRIDES = config["train"].get("overrides") or {}


rule train:
    input:
        data=TRAIN_SET,
        model=model_inputs,
    output:
        directory(MODEL_DIR),
    log:
        f"logs/train/{EXP}.log",
    benchmark:
        f"benchmarks/train/{EXP}.tsv"
    conda:
        "../envs/train.yaml"
    threads: TRAIN_THREADS
    resources:
        gpu=TRAIN_GPUS,
        mem_mb=int(
            config["train"].get("mem_mb")
            or (32000 * TRAIN_GPUS if TRAIN_GPUS else 4000)
        ),
        runtime=int(config["train"].get("runtime") or (1440 if TRAIN_GPUS else 30)),
    params:
        script=SCRIPTS / "train.py",
        model=model_source(),
        launcher=TRAIN_LAUNCHER,
        processes=TRAIN_PROCESSES,
        checkpoint_dir=CHECKPOINT_DIR,
        # the global train settings updated by train.overrides[<experiment name>] (a shallow update)
        settings=lambda wildcards: as_json(
            TRAIN_BASE_SETTINGS
            | TRAIN_OVERRIDES.get(experiment_of(wildcards).name, {})
        ),
    shell:
        "OMP_NUM_THREADS=$(( {threads} > {params.processes} ? {threads} / {params.processes} : 1 ))"
        " {params.launcher} {params.script:q} --train-file {input.data:q} --model {params.model:q}"
        " --variant {wildcards.variant} --gamma {wildcards.gamma} --settings {params.settings:q}"
        " --output-dir {output:q} --checkpoint-dir {params.checkpoint_dir:q} > {log:q} 2>&1"

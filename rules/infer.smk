# Inference: every fine-tuned model answers every test paper (score: P(Accept); generate: parsed text).

# Keys of the config `infer` section that infer.py reads (gpus, threads, mem_mb, runtime size the job).
INFER_KEYS = ["mode", "threshold", "batch_size", "max_new_tokens", "max_length"]
INFER_GPUS = int(config["infer"].get("gpus", 0))
# Computed once here (the linter wants functions in common.smk): the inference keys + model.trust_remote_code.
INFER_SETTINGS = as_json(
    {key: config["infer"][key] for key in INFER_KEYS if key in config["infer"]}
    | {"trust_remote_code": bool(config["model"].get("trust_remote_code", False))}
)


rule infer:
    input:
        model=MODEL_DIR,
        test=TEST_SET,
        base=model_inputs,  # a LoRA adapter loads its base model from here
    output:
        PREDICTIONS,
    log:
        f"logs/infer/{EXP}.log",
    benchmark:
        f"benchmarks/infer/{EXP}.tsv"
    conda:
        "../envs/train.yaml"
    threads: int(config["infer"].get("threads") or 2)
    resources:
        gpu=INFER_GPUS,
        mem_mb=int(config["infer"].get("mem_mb") or (32000 if INFER_GPUS else 4000)),
        runtime=int(config["infer"].get("runtime") or (120 if INFER_GPUS else 60)),
    params:
        script=SCRIPTS / "infer.py",
        settings=INFER_SETTINGS,
    shell:
        "python {params.script:q} --model {input.model:q} --test-file {input.test:q}"
        " --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"

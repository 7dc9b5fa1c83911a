# Inference: every fine-tuned model answers every test paper (score: P(Accept); generate: parsed text), and so
# does the base model as it comes, once (the zero-shot reference).


rule infer:
    input:
        model=MODEL_DIR,
        test=TEST_SET,
        base=model_inputs,  # a LoRA adapter loads its base model from here
    output:
        PREDICTIONS,
    log:
        f"logs/infer/{RUN}.log",
    benchmark:
        f"benchmarks/infer/{RUN}.tsv"
    conda:
        "../envs/train.yaml"
    threads: INFER_THREADS
    resources:
        gpu=INFER_GPUS,
        mem_mb=INFER_MEM_MB,
        runtime=INFER_RUNTIME,
    params:
        script=script("infer.py"),
        settings=INFER_SETTINGS,
    shell:
        "python {params.script:q} --model {input.model:q} --test-file {input.test:q}"
        " --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"


rule infer_zeroshot:
    input:
        base=model_inputs,
        test=TEST_SET,
    output:
        ZEROSHOT_PREDICTIONS,
    log:
        "logs/infer/zeroshot.log",
    benchmark:
        "benchmarks/infer/zeroshot.tsv"
    conda:
        "../envs/train.yaml"
    threads: INFER_THREADS
    resources:
        gpu=INFER_GPUS,
        mem_mb=INFER_MEM_MB,
        runtime=INFER_RUNTIME,
    params:
        script=script("infer.py"),
        model=model_source(),
        settings=INFER_SETTINGS,
    shell:
        "python {params.script:q} --model {params.model:q} --test-file {input.test:q}"
        " --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"

# Data stage: the embedded corpus and tiny model (demo only), then the chat datasets every experiment reads.


rule make_corpus:
    output:
        train=CORPUS_TRAIN,
        test=CORPUS_TEST,
    log:
        "logs/make_corpus/make_corpus.log",
    conda:
        "../envs/train.yaml"
    params:
        script=script("synthetic_corpus.py"),
        settings=as_json(SYNTHETIC_SETTINGS),
        seed=SYNTHETIC_SEED,
    shell:
        "python {params.script:q} --settings {params.settings:q} --seed {params.seed}"
        " --train-out {output.train:q} --test-out {output.test:q} > {log:q} 2>&1"


rule build_tiny_model:
    input:
        corpus=existing(train_source()),
    output:
        directory(EMBEDDED_MODEL),
    log:
        "logs/build_tiny_model/build_tiny_model.log",
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=script("tiny_model.py"),
        settings=as_json(TINY_SETTINGS),
        seed=TINY_SEED,
        prompts=prompt_texts,
    shell:
        "python {params.script:q} --corpus {input.corpus:q} --settings {params.settings:q} --seed {params.seed}"
        " --extra-texts {params.prompts:q} --output-dir {output:q} > {log:q} 2>&1"


rule make_dataset:
    input:
        source=existing(train_source()),
        test_source=existing(test_source()),
        model=model_inputs,
    output:
        data=TRAIN_SET,
        stats=TRAIN_STATS,
    log:
        "logs/make_dataset/prop{prop}.log",
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        script=script("make_dataset.py"),
        model=model_source(),
        settings=dataset_settings,
        max_length=fit_length,
    shell:
        "python {params.script:q} --split train --prop {wildcards.prop} --source {input.source:q}"
        " --test-source {input.test_source:q} --model {params.model:q} --settings {params.settings:q}"
        " --max-length {params.max_length}"
        " --output {output.data:q} --stats {output.stats:q} > {log:q} 2>&1"


rule make_test_set:
    input:
        source=existing(test_source()),
        model=model_inputs,
    output:
        data=TEST_SET,
        stats=TEST_STATS,
    log:
        "logs/make_test_set/make_test_set.log",
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        script=script("make_dataset.py"),
        model=model_source(),
        settings=dataset_settings,
        max_length=test_fit_option,
    shell:
        "python {params.script:q} --split test --source {input.source:q} --model {params.model:q}"
        " --settings {params.settings:q} {params.max_length} --output {output.data:q} --stats {output.stats:q}"
        " > {log:q} 2>&1"

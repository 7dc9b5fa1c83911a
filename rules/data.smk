# Data stage: the embedded corpus and tiny model (demo only), then the chat datasets every experiment reads.

# Keys of the config `data` section that shape the chat datasets (sources and the generator have their own rules).
DATASET_KEYS = [
    "format",
    "text_fields",
    "title_field",
    "label_field",
    "id_field",
    "drop_unknown_labels",
    "max_examples",
    "max_paper_tokens",
    "system_prompt",
    "user_template",
    "seed",
]


# Computed once here (not in functions: the linter wants functions in common.smk, which this stage does not own).
DATASET_SETTINGS = as_json(
    {key: config["data"][key] for key in DATASET_KEYS if key in config["data"]}
    | {"trust_remote_code": bool(config["model"].get("trust_remote_code", False))}
)
# The generators take their seed on the command line; the rest of their section is their settings.
SYNTHETIC_SETTINGS = dict(config["data"].get("synthetic") or {})
SYNTHETIC_SEED = int(SYNTHETIC_SETTINGS.pop("seed", 0))
TINY_SETTINGS = dict(config["model"].get("tiny") or {})
TINY_SEED = int(TINY_SETTINGS.pop("seed", 0))
# The tokenizer also learns the prompt words, which every example repeats (the {paper} slot is left out).
PROMPT_TEXTS = as_json(
    [
        config["data"]["system_prompt"],
        *config["data"]["user_template"].split("{paper}"),
    ]
)


rule make_corpus:
    output:
        train=CORPUS_TRAIN,
        test=CORPUS_TEST,
    log:
        "logs/make_corpus/make_corpus.log",
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        script=SCRIPTS / "synthetic_corpus.py",
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
        script=SCRIPTS / "tiny_model.py",
        settings=as_json(TINY_SETTINGS),
        seed=TINY_SEED,
        prompts=lambda wildcards: PROMPT_TEXTS,
    shell:
        "python {params.script:q} --corpus {input.corpus:q} --settings {params.settings:q}"
        " --seed {params.seed} --extra-texts {params.prompts:q} --output-dir {output:q} > {log:q} 2>&1"


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
        script=SCRIPTS / "make_dataset.py",
        # a function, so that the {paper} slot of user_template is not read as a wildcard
        settings=lambda wildcards: DATASET_SETTINGS,
        model=model_source(),
    shell:
        "python {params.script:q} --split train --prop {wildcards.prop}"
        " --source {input.source:q} --test-source {input.test_source:q} --model {params.model:q}"
        " --settings {params.settings:q} --output {output.data:q} --stats {output.stats:q} > {log:q} 2>&1"


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
        script=SCRIPTS / "make_dataset.py",
        # a function, so that the {paper} slot of user_template is not read as a wildcard
        settings=lambda wildcards: DATASET_SETTINGS,
        model=model_source(),
    shell:
        "python {params.script:q} --split test --source {input.source:q} --model {params.model:q}"
        " --settings {params.settings:q} --output {output.data:q} --stats {output.stats:q} > {log:q} 2>&1"

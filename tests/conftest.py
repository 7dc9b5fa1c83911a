"""Shared pytest fixtures; each stage keeps its fixtures in its own section."""

import json
import os

import pytest
import yaml

# Nothing in the tests may reach a model hub: everything loads from folders the tests build.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# ---------------------------------------------------------------- data stage
# A small synthetic corpus and the tiny model built from it, once per session.

DATA_CORPUS_SETTINGS = {"n_train": 200, "n_test": 80, "test_accept_rate": 0.3}
DATA_CORPUS_SEED = 3
DATA_MODEL_SETTINGS = {"max_position_embeddings": 512}
DATA_MODEL_SEED = 0


@pytest.fixture(scope="session")
def data_corpus(tmp_path_factory):
    """Return (train_path, test_path) of a 200/80-paper synthetic corpus (train balanced, test 30% accept)."""
    from wlf.data import synthetic
    from wlf.files import write_jsonl

    folder = tmp_path_factory.mktemp("data_corpus")
    train, test = synthetic.generate_corpus(DATA_CORPUS_SETTINGS, DATA_CORPUS_SEED)
    write_jsonl(folder / "train.jsonl", train)
    write_jsonl(folder / "test.jsonl", test)
    return folder / "train.jsonl", folder / "test.jsonl"


@pytest.fixture(scope="session")
def data_tiny_model(data_corpus, tmp_path_factory):
    """Return the folder of the tiny Qwen2 model and tokenizer built from the data_corpus train split."""
    from wlf.data import tiny_model

    folder = tmp_path_factory.mktemp("data_tiny_model") / "model"
    return tiny_model.build_tiny_model(data_corpus[0], DATA_MODEL_SETTINGS, DATA_MODEL_SEED, folder)


@pytest.fixture(scope="session")
def data_chat_rows(data_corpus, data_tiny_model):
    """Return chat training rows (prop 1_2, papers cut to 48 tokens) built by the data stage from data_corpus."""
    from wlf.data import dataset

    settings = dataset.merge_settings({"max_paper_tokens": 48})
    rows, _ = dataset.make_dataset(
        "train",
        str(data_corpus[0]),
        str(data_tiny_model),
        settings,
        prop="1_2",
        test_source=str(data_corpus[1]),
    )
    return rows


# ---------------------------------------------------------------- the production-shaped stand-in
# Qwen2.5-7B-Instruct's real tokenizer, chat template and 152,064-row untied head on a tiny random body
# (tests/standin_model.py), built once per session from files installed with requirements-dev.txt.


@pytest.fixture(scope="session")
def standin_model(tmp_path_factory):
    """Return the folder of the Qwen2.5 stand-in model (loads with from_pretrained, offline)."""
    from standin_model import build_standin_model

    return build_standin_model(tmp_path_factory.mktemp("standin") / "model")


ALPACA_CORPUS_SETTINGS = {"n_train": 64, "n_test": 40, "test_accept_rate": 0.3}
ALPACA_CORPUS_SEED = 5
ALPACA_INSTRUCTION = "Judge this ICLR submission."


@pytest.fixture(scope="session")
def alpaca_corpus(tmp_path_factory):
    """Return (train.json, test.json): 64 balanced / 40 test papers in the production set's alpaca format.

    Each paper repeats its abstract three times (about 200 tokens), so that a small data.max_paper_tokens cuts it.
    """
    from wlf.data import synthetic

    folder = tmp_path_factory.mktemp("alpaca_corpus")
    paths = []
    for name, rows in zip(
        ("train.json", "test.json"),
        synthetic.generate_corpus(ALPACA_CORPUS_SETTINGS, ALPACA_CORPUS_SEED),
        strict=True,
    ):
        records = [
            {
                "id": row["id"],
                "instruction": ALPACA_INSTRUCTION,
                "input": f"Title: {row['title']}\nAbstract: " + " ".join([row["abstract"]] * 3),
                "output": row["decision"],
            }
            for row in rows
        ]
        (folder / name).write_text(json.dumps(records, indent=1))
        paths.append(folder / name)
    return tuple(paths)


# ---------------------------------------------------------------- a real pretrained model of another family
# SmolLM2-135M-Instruct (tests/smollm2_model.py): a Llama with tied embeddings, its own BPE and real weights,
# converted from the GGUF file of a package in requirements-dev.txt. The conversion (~40 s, a 538 MB folder) is
# kept in pytest's cache folder under the GGUF file's hash, so a second session reuses it.


@pytest.fixture(scope="session")
def smollm2_model(request, tmp_path_factory):
    """Return the folder of SmolLM2-135M-Instruct as plain float32 safetensors (loads with from_pretrained)."""
    from importlib.metadata import version

    from smollm2_model import build_smollm2_model, gguf_sha256

    # the folder is what this transformers writes from this GGUF file
    name = f"smollm2-{gguf_sha256()[:16]}-transformers{version('transformers')}"
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    folder = (cache.mkdir(name) if cache is not None else tmp_path_factory.mktemp(name)) / "model"
    # the builder renames a finished folder into place, so a folder that exists is whole
    return folder if (folder / "config.json").is_file() else build_smollm2_model(folder)


# ---------------------------------------------------------------- the embedded default, run for real
DEMO_CONFIG = ("--configfile", "config/demo.yaml")
# The tests' demo trains 2 of the demo's 3 seeds: every rule and every code path of several seeds (pairing,
# between-seed intervals, the seed plan) runs with 2, and the third seed's 76 jobs would add a third of the
# suite's longest run. `make demo` (the README's tables) runs all 3.
DEMO_SEEDS = [1, 2]


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """Return the folder of a finished demo run (the real DAG, the real tiny model), shared by its readers.

    The folder's config/demo.yaml names DEMO_SEEDS, so every command run there (the README's too) sees them.
    """
    from snakemake_runner import copy_workflow, run_snakemake

    workdir = copy_workflow(tmp_path_factory.mktemp("demo"))
    demo_config = workdir / "config" / "demo.yaml"
    demo_config.write_text(yaml.safe_dump({**yaml.safe_load(demo_config.read_text()), "seeds": DEMO_SEEDS}))
    run_snakemake(workdir, "--profile", "profiles/local", *DEMO_CONFIG, timeout_s=3600)
    return workdir

"""The chain make_dataset -> train -> infer -> evaluate on one base model, as the model-family tests run it.

Shared by the tests of the Qwen2.5 stand-in (test_standin.py) and of SmolLM2 (test_smollm2.py): each step is the
real script (train.py in its own process, as the rule starts it; the others through their main()).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import evaluate as evaluate_cli
import infer as infer_cli
import make_dataset
from wlf.data.chat_sets import read_chat_set

ROOT = Path(__file__).resolve().parents[1]
# One torch thread per process, as the rules give it
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def rows_of(path) -> list[dict]:
    """Return the JSON rows of a JSONL file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def make_set(folder, model, split, source, settings: dict, test_source=None, prop="1_2"):
    """Return (exit code, data path, stats path) of make_dataset.main writing folder/{split}.jsonl."""
    output, stats = Path(folder) / f"{split}.jsonl", Path(folder) / f"{split}_stats.json"
    argv = [
        "--split",
        split,
        "--source",
        str(source),
        "--model",
        str(model),
        "--settings",
        json.dumps(settings),
    ]
    argv += ["--output", str(output), "--stats", str(stats)]
    if split == "train":
        argv += ["--prop", prop, "--test-source", str(test_source)]
    return make_dataset.main(argv), output, stats


def train(train_file, model, settings: dict, output_dir, variant="accept", gamma=2.0) -> Path:
    """Run train.py in its own process and return its output folder; fail with its stderr if it fails."""
    output_dir = Path(output_dir)
    argv = [sys.executable, str(ROOT / "workflow" / "scripts" / "train.py"), "--train-file", str(train_file)]
    argv += [
        "--model",
        str(model),
        "--variant",
        variant,
        "--gamma",
        str(gamma),
        "--settings",
        json.dumps(settings),
    ]
    argv += [
        "--output-dir",
        str(output_dir),
        "--checkpoint-dir",
        str(output_dir.with_name(output_dir.name + "-ckpt")),
    ]
    trained = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT, env=SUBPROCESS_ENV)
    assert trained.returncode == 0, trained.stderr[-3000:]
    return output_dir


def infer_and_evaluate(
    model_dir, test_file, settings: dict, experiment: dict, folder, name: str
) -> tuple[Path, Path]:
    """Run infer.main and evaluate.main; return (folder/predictions_{name}.jsonl, folder/metrics_{name}.json)."""
    predictions, metrics = Path(folder) / f"predictions_{name}.jsonl", Path(folder) / f"metrics_{name}.json"
    infer_argv = [
        "--model",
        str(model_dir),
        "--test-file",
        str(test_file),
        "--settings",
        json.dumps(settings),
    ]
    assert infer_cli.main([*infer_argv, "--output", str(predictions)]) == 0
    evaluate_argv = ["--predictions", str(predictions), "--experiment", json.dumps(experiment)]
    evaluate_argv += ["--settings", json.dumps({"bootstrap_resamples": 20})]
    assert evaluate_cli.main([*evaluate_argv, "--output", str(metrics)]) == 0
    return predictions, metrics


def prepared_examples(model_dir, train_file, tmp_path, settings: dict):
    """Return (tokenizer, papers, examples): the examples (input_ids, labels) train.py's trainer builds."""
    from trl import SFTConfig

    from wlf.training import run
    from wlf.training import settings as train_settings

    resolved = train_settings.resolve_settings(settings)
    sft_args = SFTConfig(**train_settings.sft_config_kwargs(resolved, str(tmp_path), bf16=False, cuda=False))
    session = run.Session(sft_args=sft_args, state=None, bf16=False, log=print)
    papers = read_chat_set(train_file, require_answer=True)
    records = run.prompt_completion_records(papers, "accept", 2.0)
    trainer = run.build_trainer(str(model_dir), records, resolved, session)
    return trainer.processing_class, papers, list(trainer.train_dataset)


def loss_positions(example: dict) -> list[int]:
    """Return the positions of an example that carry a loss label (the others are -100)."""
    return [position for position, label in enumerate(example["labels"]) if label != -100]

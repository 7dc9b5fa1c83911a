"""One measured LLaMA-Factory SFT run in a fresh process, in LLaMA-Factory's own venv; prints one JSON line.

Run by bench/train_throughput.py as
  bench/.venv-llamafactory/bin/python bench/llamafactory_worker.py --model M --dataset-dir D --dataset NAME \
      --batch-size 8 --steps 6 --max-length 512
Same model, examples (sharegpt copy of the chat rows), batch size, steps, learning rate, sampler and fp32
as the TRL contenders; LLaMA-Factory's own loss (transformers' causal-LM loss over full-vocabulary logits,
prompt masked).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import types

# Nothing may be fetched from a hub; set before LLaMA-Factory imports transformers.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("DISABLE_VERSION_CHECK", "1")


def stub_torchaudio() -> None:
    """Register an empty `torchaudio` module that fails when used.

    PyPI's torchaudio (and torchvision) wheels link CUDA libraries that the CPU torch 2.13.0 build lacks, so
    setup_llamafactory.sh removes them; LLaMA-Factory 0.9.5 still imports torchaudio at the top of its
    multimodal plugin, though a text-only SFT run never calls it. Register it after importing transformers,
    whose import-time checks must find no torchaudio.
    """
    if "torchaudio" in sys.modules:
        return
    stub = types.ModuleType("torchaudio")

    def unavailable(name):
        raise AttributeError(
            f"torchaudio.{name} is unavailable in the benchmark's LLaMA-Factory venv (text-only SFT)"
        )

    stub.__getattr__ = unavailable
    sys.modules["torchaudio"] = stub


def llamafactory_args(
    model: str, dataset_dir: str, dataset: str, batch_size: int, steps: int, max_length: int, output_dir: str
) -> dict:
    """Return run_exp's arguments for a full-parameter SFT run matching the TRL contenders' settings."""
    return {
        "model_name_or_path": model,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "full",
        "dataset": dataset,
        "dataset_dir": dataset_dir,
        "template": "qwen",
        "cutoff_len": max_length,
        "overwrite_cache": True,
        "output_dir": output_dir,
        "overwrite_output_dir": True,
        "per_device_train_batch_size": batch_size,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1.0e-4,
        "max_steps": steps,
        "lr_scheduler_type": "linear",
        "warmup_ratio": 0.05,
        "train_sampling_strategy": "group_by_length",
        "logging_steps": 10_000,
        "save_strategy": "no",
        "report_to": "none",
        "bf16": False,
        "fp16": False,
        "seed": 0,
        "disable_tqdm": True,
        "plot_loss": False,
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset-dir", required=True, help="folder with dataset_info.json")
    parser.add_argument("--dataset", required=True, help="dataset name in dataset_info.json")
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--max-length", type=int, required=True)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import transformers  # first: its availability checks must see that torchaudio is absent

    stub_torchaudio()
    import llamafactory
    import torch
    from llamafactory.train.tuner import run_exp

    from train_probe import ThroughputProbe

    torch.set_num_threads(args.threads)
    probe = ThroughputProbe(warmup_steps=args.warmup_steps)
    with tempfile.TemporaryDirectory(prefix="bench-llamafactory-") as output_dir:
        run_exp(
            llamafactory_args(
                args.model,
                args.dataset_dir,
                args.dataset,
                args.batch_size,
                args.steps,
                args.max_length,
                output_dir,
            ),
            callbacks=[probe],
        )
    result = {
        "contender": "llamafactory",
        "versions": {
            "llamafactory": llamafactory.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "threads": args.threads,
        **probe.summary(),
    }
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

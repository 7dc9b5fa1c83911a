"""One measured training run of one contender in this (fresh) process; prints its figures as one JSON line.

Contenders (all TRL 1.16 SFTTrainer, the project's settings from train_settings.sft_config_kwargs):
  weighted       the project's WeightedSFTTrainer: fused LM head, per-example weights, step denominator
  plain          TRL's SFTTrainer, unweighted (its own fused-LM-head NLL)
  naive_func     the weighted loss through SFTTrainer's compute_loss_func: full-vocabulary logits and
                 cross_entropy; TRL then runs a second, no-grad fused forward for its metrics
  naive_subclass the weighted loss from full-vocabulary logits in an overridden compute_loss (one forward)
  plain_compact  TRL's SFTTrainer, unweighted, with the same CPU patch as the weighted trainer
                 (weighted_trainer.score_only_labelled_positions_on_cpu: project only labelled positions,
                 as TRL's fused head does on GPUs); isolates the cost of the weighting itself

Run by bench/train_throughput.py; by hand:
  .venv/bin/python bench/train_worker.py --contender weighted --model M --train-file F \
      --batch-size 8 --steps 6 --max-length 512
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from wlf.data.chat_sets import read_chat_set
from wlf.training import run as training_run
from wlf.training import settings as train_settings

REPO = Path(__file__).resolve().parents[1]

CONTENDERS = ("weighted", "plain", "plain_compact", "naive_func", "naive_subclass")


def weighted_full_logits_loss(logits, labels, token_weights, num_items_in_batch=None):
    """Return sum(w * CE) / denominator from full-vocabulary logits (the naive weighted loss).

    In the naive trainers the denominator is the Trainer's label-token count (the `mean` reduction of
    wlf/training/loss.py): the same work as the step-token-weighted one, which only changes a scalar.
    """
    import torch.nn.functional as F

    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:]
    per_token = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)),
        shift_labels.reshape(-1),
        ignore_index=-100,
        reduction="none",
    ).view_as(shift_labels)
    weights = token_weights[:, 1:].to(per_token.dtype)
    mask = (shift_labels != -100).to(per_token.dtype)
    denominator = num_items_in_batch if num_items_in_batch is not None else (weights * mask).sum()
    return (per_token * weights).sum() / denominator


def naive_trainers():
    """Return the two naive weighted trainer classes (built lazily: they import TRL)."""
    from trl import SFTTrainer

    from wlf.training import trainer as weighted_trainer

    class _WeightColumn(SFTTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.data_collator = weighted_trainer.WeightedCollator(self.data_collator, padding_free=False)

        def _set_signature_columns_if_needed(self):
            super()._set_signature_columns_if_needed()
            if weighted_trainer.EXAMPLE_WEIGHT not in self._signature_columns:
                self._signature_columns = [*self._signature_columns, weighted_trainer.EXAMPLE_WEIGHT]

    class NaiveFuncTrainer(_WeightColumn):
        """compute_loss_func sees only (outputs, labels): the batch's weights are handed over on self."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, compute_loss_func=self._loss_func, **kwargs)

        def _loss_func(self, outputs, labels, num_items_in_batch=None):
            return weighted_full_logits_loss(outputs.logits, labels, self._token_weights, num_items_in_batch)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            self._token_weights = inputs.pop(weighted_trainer.TOKEN_WEIGHTS)
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    class NaiveSubclassTrainer(_WeightColumn):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            token_weights = inputs.pop(weighted_trainer.TOKEN_WEIGHTS)
            labels = inputs.pop("labels")
            outputs = model(**inputs, use_cache=False)
            return weighted_full_logits_loss(outputs.logits, labels, token_weights, num_items_in_batch)

    return NaiveFuncTrainer, NaiveSubclassTrainer


def run(
    contender: str,
    model_dir: str,
    train_file: str,
    batch_size: int,
    steps: int,
    warmup_steps: int,
    max_length: int,
    gamma: float,
    threads: int,
) -> dict:
    """Return the probe's figures of `steps` optimizer steps of contender on the training set."""
    import datasets
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from train_probe import ThroughputProbe
    from wlf.training import trainer as weighted_trainer

    torch.set_num_threads(threads)
    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    settings = train_settings.resolve_settings(
        {
            "per_device_train_batch_size": batch_size,
            "gradient_accumulation_steps": 1,
            "max_length": max_length,
            "learning_rate": 1e-4,
            "gradient_checkpointing": False,
            "seed": 0,
            "logging_steps": 10_000,
            "report_to": "none",
        }
    )
    records = training_run.prompt_completion_records(
        read_chat_set(train_file, require_answer=True), "accept", gamma
    )
    if contender in ("plain", "plain_compact"):
        records = [{k: v for k, v in record.items() if k != "example_weight"} for record in records]
    with tempfile.TemporaryDirectory(prefix="bench-train-") as output_dir:
        kwargs = train_settings.sft_config_kwargs(settings, output_dir, bf16=False, cuda=False)
        kwargs.update(max_steps=steps, save_strategy="no", logging_strategy="no")
        sft_args = SFTConfig(**kwargs)
        transformers.set_seed(0)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        probe = ThroughputProbe(warmup_steps=warmup_steps)
        common = {
            "model": model,
            "args": sft_args,
            "train_dataset": datasets.Dataset.from_list(records),
            "processing_class": tokenizer,
            "callbacks": [probe],
        }
        if contender == "weighted":
            trainer = weighted_trainer.WeightedSFTTrainer(
                **common,
                loss_reduction="step_token_weighted",
                end_of_turn_id=training_run.end_of_turn_id(tokenizer),
                max_tokens=max_length,
            )
        elif contender in ("plain", "plain_compact"):
            if contender == "plain_compact":
                weighted_trainer.score_only_labelled_positions_on_cpu()
            trainer = SFTTrainer(**common)
        else:
            naive_func, naive_subclass = naive_trainers()
            trainer = (naive_func if contender == "naive_func" else naive_subclass)(**common)
        trainer.train()
    import trl

    return {
        "contender": contender,
        "batch_size": batch_size,
        "max_length": max_length,
        "threads": threads,
        "n_params": sum(p.numel() for p in model.parameters()),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "trl": trl.__version__,
        },
        **probe.summary(),
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contender", required=True, choices=CONTENDERS)
    parser.add_argument("--model", required=True, help="model folder (bench_fixtures.build_model)")
    parser.add_argument("--train-file", required=True, help="chat JSONL in make_dataset's format")
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True, help="optimizer steps, warm-up included")
    parser.add_argument("--warmup-steps", type=int, default=1, help="steps left out of the throughput")
    parser.add_argument("--max-length", type=int, required=True, help="longest example allowed (tokens)")
    parser.add_argument("--gamma", type=float, default=4.0, help="weight of Accept examples (variant accept)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    result = run(
        args.contender,
        args.model,
        args.train_file,
        args.batch_size,
        args.steps,
        args.warmup_steps,
        args.max_length,
        args.gamma,
        args.threads,
    )
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

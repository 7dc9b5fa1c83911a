"""TRL's SFTTrainer with a class-weighted, step-normalised loss on the answer tokens (see wlf.training.loss).

Everything else is TRL's. The class docstring lists each hook it overrides and the one TRL function it patches.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import torch
import trl.trainer.utils as trl_utils
from transformers import TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import SFTTrainer

from wlf import chat_template
from wlf.errors import InputError
from wlf.training import loss as weighted_loss
from wlf.training import stop_signals

EXAMPLE_WEIGHT = "example_weight"  # dataset column: the loss weight of the example
TOKEN_WEIGHTS = "token_weights"  # batch key: the weight of each token, aligned with `labels`, 0 on padding
TOKEN_COUNTS_FILE = "token_counts.json"  # in each checkpoint, so a resumed run reports the whole run's tokens


def score_only_labelled_positions_on_cpu() -> None:
    """Make TRL's fused LM head project only the positions that carry a label on CPU, as it does on GPUs.

    Off Triton devices TRL projects every position, to keep tile shapes fixed for compiled backends (Neuron).
    Eager CPU compiles nothing, and an answer is 2 of ~250 tokens, so the head's work drops ~100-fold; the
    log-probabilities are the same (the kernel is the same, it just gets fewer rows).
    """
    original = getattr(trl_utils._use_triton, "__wrapped__", trl_utils._use_triton)

    def compact_on_cpu(device: torch.device) -> bool:
        return device.type == "cpu" or original(device)

    compact_on_cpu.__wrapped__ = original
    trl_utils._use_triton = compact_on_cpu


@dataclass
class WeightedCollator:
    """Collate with TRL's collator, then add each token's example weight under TOKEN_WEIGHTS."""

    base: Any
    padding_free: bool

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        missing = [index for index, example in enumerate(examples) if EXAMPLE_WEIGHT not in example]
        if missing:
            raise KeyError(f"examples {missing} of the batch have no {EXAMPLE_WEIGHT!r} column")
        batch = self.base([{k: v for k, v in example.items() if k != EXAMPLE_WEIGHT} for example in examples])
        batch[TOKEN_WEIGHTS] = weighted_loss.token_weights_for(
            [example[EXAMPLE_WEIGHT] for example in examples],
            [len(example["input_ids"]) for example in examples],
            padding_free=self.padding_free,
            padded_length=batch["labels"].shape[-1],
        )
        return batch


def encode_record(record: dict[str, Any], tokenizer) -> dict[str, list[int]]:
    """Return a prompt/completion record's input_ids and completion_mask, its prompt exactly as inference's.

    TRL would render the prompt itself, with no say in the template's arguments (enable_thinking); this way
    training and inference share wlf.chat_template's one renderer, and every answer's completion is checked.
    """
    (answer,) = record["completion"]
    return chat_template.encode_example(
        tokenizer, record["prompt"], answer["content"], tokenizer.name_or_path
    )


def end_at_turn_end(example: dict[str, Any], end_of_turn_id: int) -> dict[str, Any]:
    """Return input_ids and labels cut right after the first end-of-turn token that carries a label.

    The completion is everything the chat template renders after the generation prompt, which for ChatML is
    `Accept<|im_end|>\n`; the cut keeps the loss on exactly the answer and its end-of-turn token.
    """
    labels = example["labels"]
    for position, (token_id, label) in enumerate(zip(example["input_ids"], labels, strict=True)):
        if label != -100 and token_id == end_of_turn_id:
            return {"input_ids": example["input_ids"][: position + 1], "labels": labels[: position + 1]}
    raise InputError(
        f"example {example.get('id', '?')!r}: its answer has no end-of-turn token (id {end_of_turn_id}); "
        "the chat template must close the assistant turn with it"
    )


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """transformers' length-grouped order, drawn from seed + epoch instead of the global random state.

    transformers' sampler draws each epoch's order from the global generator when the epoch starts. A run that
    resumes inside a later epoch restores the random state of its checkpoint, not the one that epoch started
    with, so it trained on another order than the run it continues (~2e-3 weight difference after 60 steps of
    the tiny model). Seeded by epoch, the resumed epoch replays the same order: the same weights as an
    uninterrupted run, as with the random sampler (accelerate seeds that one by seed + epoch too). The Trainer
    calls set_epoch at the start of every epoch, through accelerate's data loader.
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.generator = torch.Generator().manual_seed(self.seed + epoch)


class StopEarly(TrainerCallback):
    """Save a checkpoint after this optimizer step and stop training there, when asked to stop early.

    Asked by train.interrupt_at_step (a rehearsed resume) or by a stop signal that any process recorded
    (wlf.training.stop_signals). Every process takes part in one all-reduce of the signal at each step end, so
    all of them stop after the same step and each saves its shard of the same checkpoint.
    """

    def __init__(self, interrupt_at: int | None = None, signals=None):
        self.interrupt_at = interrupt_at
        self.signals = signals  # a StopSignalRecord, or None: signals are not watched
        self.stopped_by: str | None = None  # why the run stopped, e.g. "signal SIGUSR1 at step 7"

    def on_step_end(self, args, state, control, **kwargs):
        reason = None
        if self.signals is not None:
            signal_number = agreed_signal(self.signals.signal_number, args.device)
            if signal_number:
                reason = f"signal {stop_signals.signal_name(signal_number)}"
        if state.global_step == self.interrupt_at:
            reason = "train.interrupt_at_step"
        if reason is not None and state.global_step < state.max_steps:  # after the last step: just finish
            control.should_save = True
            control.should_training_stop = True
            self.stopped_by = f"{reason} at step {state.global_step}"
        return control


def agreed_signal(signal_number: int, device) -> int:
    """Return the highest stop signal number recorded by any process (0: none); collective with several."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return signal_number
    recorded = torch.tensor([signal_number], device=device)
    torch.distributed.all_reduce(recorded, op=torch.distributed.ReduceOp.MAX)
    return int(recorded.item())


def check_supported(args, compute_loss_func) -> None:
    """Raise when an SFTConfig option would bypass or break the weighted loss."""
    if args.packing:
        raise ValueError("packing is not supported: the weighted loss needs one example per sequence")
    if compute_loss_func is not None:
        raise ValueError("compute_loss_func is not supported: the weighted loss is computed in compute_loss")
    if args.loss_type != "nll" or args.label_smoothing_factor > 0:
        raise ValueError("only loss_type='nll' without label smoothing is supported by the weighted loss")


class WeightedSFTTrainer(SFTTrainer):
    """SFTTrainer whose loss is sum_i w_i sum_t l_it / D, D = the step denominator of `loss_reduction`.

    Overrides:
    - `__init__`: refuses options that would bypass the weighted loss, and wraps TRL's collator so each batch
      carries a per-token weight tensor aligned with `labels` (WeightedCollator);
    - `_get_train_sampler`: length-grouped batches in an order seeded by epoch (EpochSeededLengthGroupedSampler),
      so a resume inside a later epoch replays that epoch's order;
    - `_set_signature_columns_if_needed`: keeps the dataset's `example_weight` column for that collator;
    - `_prepare_dataset`: tokenizes prompt/completion records itself (encode_record: the prompt as inference
      renders it), lets TRL build the labels, then cuts each example after its answer's end-of-turn token and
      refuses examples longer than `max_tokens` (a cut would lose the answer);
    - `_get_num_items_in_batch`: returns the step denominator (weights summed over every label token of every
      micro-batch of the step, gathered across processes like transformers' token count);
    - `compute_loss`: runs TRL's fused LM head (per-token log-probs, no full-vocabulary logits) and divides
      sum(w * l) by that denominator;
    - `_save_checkpoint`: saves the token counts beside each checkpoint, so a resumed run reports the whole run.

    Patches, process-wide, from `__init__`: `trl.trainer.utils._use_triton` (score_only_labelled_positions_on_cpu),
    so that on the CPU the fused head scores only labelled positions, as TRL does on GPUs.
    """

    # compute_loss divides by the whole step's denominator, so the Trainer must not divide by the accumulation steps
    loss_is_scaled_for_ga = True

    def __init__(
        self,
        *args,
        loss_reduction: str = "step_token_weighted",
        end_of_turn_id: int | None = None,
        max_tokens: int | None = None,
        **kwargs,
    ):
        self.loss_reduction = weighted_loss.check_reduction(loss_reduction)
        self.end_of_turn_id = end_of_turn_id
        self.max_tokens = max_tokens
        check_supported(kwargs["args"], kwargs.get("compute_loss_func"))
        score_only_labelled_positions_on_cpu()
        super().__init__(*args, **kwargs)
        # TRL refuses a custom collator with padding_free, so wrap the one it built
        self.data_collator = WeightedCollator(self.data_collator, padding_free=self.padding_free)
        self.n_real_tokens = 0  # tokens of examples, this process, this invocation
        self.n_padded_tokens = 0  # tokens of the batch tensors including padding
        # the whole run's counts up to the checkpoint it resumed from
        self.restored_token_counts = {"real": 0, "padded": 0}

    # ---- data ----
    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return EpochSeededLengthGroupedSampler(sampler.batch_size, sampler.lengths, seed)
        return sampler

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if EXAMPLE_WEIGHT not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, EXAMPLE_WEIGHT]

    def _prepare_dataset(self, dataset, processing_class, args, packing, formatting_func, dataset_name):
        if EXAMPLE_WEIGHT not in dataset.column_names:
            raise ValueError(f"the {dataset_name} dataset has no {EXAMPLE_WEIGHT!r} column")
        if {"prompt", "completion"} <= set(dataset.column_names) and "input_ids" not in dataset.column_names:
            # TRL takes a dataset with input_ids as tokenized and turns completion_mask into labels
            dataset = dataset.map(
                encode_record,
                fn_kwargs={"tokenizer": processing_class},
                remove_columns=["prompt", "completion"],
                desc=f"Tokenizing {dataset_name} dataset with the prompt inference scores after",
            )
        dataset = super()._prepare_dataset(
            dataset, processing_class, args, packing, formatting_func, dataset_name
        )
        if self.end_of_turn_id is not None:
            dataset = dataset.map(
                end_at_turn_end,
                fn_kwargs={"end_of_turn_id": self.end_of_turn_id},
                desc=f"Ending {dataset_name} answers at the end-of-turn token",
            )
        if self.max_tokens is not None:
            too_long = [
                (row, len(ids)) for row, ids in enumerate(dataset["input_ids"]) if len(ids) > self.max_tokens
            ]
            if too_long:
                row, n_tokens = too_long[0]
                raise InputError(
                    f"{len(too_long)} {dataset_name} examples are longer than max_length = {self.max_tokens} tokens, "
                    f"e.g. {dataset[row].get('id', row)!r} with {n_tokens}; truncation would cut the answer, so "
                    "raise max_length or lower data.max_paper_tokens"
                )
        return dataset

    # ---- loss ----
    def _get_num_items_in_batch(self, batch_samples: list, device: torch.device) -> torch.Tensor | None:
        """Return the step denominator summed over the step's micro-batches and gathered across processes."""
        if not batch_samples:
            return None
        local = sum(
            weighted_loss.step_denominator(
                weighted_loss.shift_to_predictions(batch[TOKEN_WEIGHTS]),
                weighted_loss.shift_to_predictions(batch["labels"]) != -100,
                self.loss_reduction,
            )
            for batch in batch_samples
        ).to(device)
        # Same gather as transformers' token count, so each process divides by the whole step's denominator
        if self.args.average_tokens_across_devices and self.args.world_size > 1:
            local = self.accelerator.gather(local).sum()
        # Processes that share one batch (tensor/context/sequence parallel) must not count it twice, as in the parent
        return local / (self.get_tp_size() * self.get_cp_size() * self.get_sp_size())

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs:
            raise NotImplementedError("the fused LM head builds no logits to return")
        mode = "train" if self.model.training else "eval"
        token_weights = inputs.pop(TOKEN_WEIGHTS)
        inputs["use_cache"] = False
        outputs = model(**inputs, fused_lm_head=True)
        # log_probs[:, j] scores labels[:, j + 1] and is 0 where that label is -100 (see trl add_fused_lm_head)
        per_token_loss = -outputs.log_probs
        weights = weighted_loss.shift_to_predictions(token_weights).to(per_token_loss.dtype)
        if num_items_in_batch is None:
            num_items_in_batch = weighted_loss.step_denominator(
                weights, outputs.label_mask, self.loss_reduction
            )
        loss = weighted_loss.safe_divide(
            weighted_loss.weighted_loss_sum(per_token_loss, weights), num_items_in_batch
        )
        # Like TRL: the denominator counts every process's tokens and DDP averages gradients over processes
        if self.args.average_tokens_across_devices and self.args.world_size > 1:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        self._log_token_metrics(mode, inputs, outputs, per_token_loss, token_weights)
        return loss

    def _log_token_metrics(self, mode, inputs, outputs, per_token_loss, token_weights) -> None:
        """Record TRL's entropy, token accuracy and token count, plus the unweighted answer-token loss."""
        gather = self.accelerator.gather_for_metrics
        with torch.no_grad():
            num_valid = gather(outputs.label_mask.sum()).sum()
            sums = {
                "entropy": gather(outputs.entropy.detach().sum()).sum(),
                "mean_token_accuracy": gather(outputs.is_top1.sum()).sum(),
                "answer_nll": gather(per_token_loss.detach().sum()).sum(),
            }
            for name, total in sums.items():
                self._metrics[mode][name].append((total / num_valid).item() if num_valid > 0 else 0.0)
            if mode == "train":
                n_real = int((token_weights > 0).sum())
                self.n_real_tokens += n_real
                self.n_padded_tokens += int(inputs["input_ids"].numel())
                self._total_train_tokens += int(
                    gather(torch.tensor(n_real, device=token_weights.device)).sum()
                )
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]

    # ---- token counts that survive a resume ----
    def token_counts(self) -> dict[str, int]:
        """Return the real and padded tokens of the whole run (all processes, restored + this invocation)."""
        local = torch.tensor([self.n_real_tokens, self.n_padded_tokens], device=self.args.device)
        total = self.accelerator.gather(local[None]).sum(dim=0) if self.args.world_size > 1 else local
        return {
            "real": self.restored_token_counts["real"] + int(total[0]),
            "padded": self.restored_token_counts["padded"] + int(total[1]),
        }

    def restore_token_counts(self, checkpoint_dir: str) -> None:
        """Load the token counts saved with a checkpoint (zeros when the checkpoint has none)."""
        path = os.path.join(checkpoint_dir, TOKEN_COUNTS_FILE)
        if os.path.exists(path):
            with open(path) as handle:
                self.restored_token_counts = json.load(handle)

    def _save_checkpoint(self, model, trial):
        counts = self.token_counts()  # collective: every process calls _save_checkpoint
        if self.args.should_save:
            # written before the Trainer's files, so trainer_state.json stays the last file of a complete checkpoint
            folder = os.path.join(
                self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            )
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, TOKEN_COUNTS_FILE), "w") as handle:
                json.dump(counts, handle)
        super()._save_checkpoint(model, trial)

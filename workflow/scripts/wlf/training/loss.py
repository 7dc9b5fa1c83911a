"""The class-weighted SFT loss as pure tensor functions: per-example weights, token weights, step reductions.

Notation (one optimizer step = every micro-batch of every data-parallel process):
  example i has answer tokens t = 1..n_i (the answer word(s) and the end-of-turn token) with
  per-token loss l_it = -log p(token_it | prefix) and weight w_i = gamma if its label is the weighted class, else 1.

  step_token_weighted:  L = sum_i w_i * sum_t l_it / sum_i w_i * n_i
  mean:                 L = sum_i w_i * sum_t l_it / sum_i n_i

Both are computed per micro-batch as (sum of w * l over its tokens) / (denominator of the whole step), so the
micro-batch losses of a step add up to L exactly, whatever the micro-batch and process split.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from wlf.settings import definition

# The reductions the config may name (train.loss_reduction): the schema lists them, this module implements them.
REDUCTIONS = tuple(definition("training")["properties"]["loss_reduction"]["enum"])


def check_reduction(reduction: str) -> str:
    """Return reduction unchanged when it is a known reduction name, else raise naming the choices."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"loss_reduction = {reduction!r} is not one of {', '.join(REDUCTIONS)}")
    return reduction


def token_weights_for(
    weights: Sequence[float], lengths: Sequence[int], padding_free: bool, padded_length: int
) -> torch.Tensor:
    """Return a (batch, padded_length) float tensor: each token carries its example's weight, padding 0.

    With padding_free the examples are concatenated into one row, like the collator concatenates their tokens.
    """
    rows = [torch.full((length,), float(weight)) for weight, length in zip(weights, lengths, strict=True)]
    if padding_free:
        rows = [torch.cat(rows)]
    out = torch.zeros(len(rows), padded_length)
    for row_index, row in enumerate(rows):
        if row.numel() > padded_length:
            raise ValueError(
                f"example of {row.numel()} tokens does not fit the padded length {padded_length}"
            )
        out[row_index, : row.numel()] = row
    return out


def shift_to_predictions(per_position: torch.Tensor) -> torch.Tensor:
    """Return per-position values aligned with next-token predictions: position j scores label j+1."""
    return per_position[..., 1:]


def step_denominator(token_weights: torch.Tensor, label_mask: torch.Tensor, reduction: str) -> torch.Tensor:
    """Return this batch's share of the step denominator: sum of w over loss tokens, or their count for "mean"."""
    check_reduction(reduction)
    label_mask = label_mask.to(token_weights.dtype)
    if reduction == "mean":
        return label_mask.sum()
    return (token_weights * label_mask).sum()


def weighted_loss_sum(per_token_loss: torch.Tensor, token_weights: torch.Tensor) -> torch.Tensor:
    """Return sum over tokens of w * l (per_token_loss is 0 on tokens without a label)."""
    return (per_token_loss * token_weights.to(per_token_loss.dtype)).sum()


def safe_divide(numerator: torch.Tensor, denominator: torch.Tensor | float) -> torch.Tensor:
    """Return numerator / denominator, or numerator / 1 (= 0 for an empty batch) when the denominator is 0."""
    denominator = torch.as_tensor(denominator, dtype=numerator.dtype, device=numerator.device)
    return numerator / torch.where(denominator > 0, denominator, torch.ones_like(denominator))


def weighted_loss(
    per_token_loss: torch.Tensor,
    token_weights: torch.Tensor,
    label_mask: torch.Tensor,
    reduction: str = "step_token_weighted",
) -> torch.Tensor:
    """Return the loss of a whole step given as one batch: sum(w * l) / step_denominator."""
    return safe_divide(
        weighted_loss_sum(per_token_loss * label_mask, token_weights),
        step_denominator(token_weights, label_mask, reduction),
    )

"""Seeded subsampling: training sets whose accept fraction is exactly 1/N, and capped test sets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from wlf.errors import InputError
from wlf.labels import ACCEPT, REJECT

T = TypeVar("T")


class ProportionError(InputError):
    """The source cannot give a set with the requested accept fraction; the message says what it has."""


def proportion_counts(
    n_accept: int, n_reject: int, denominator: int, max_examples: int | None = None
) -> tuple[int, int]:
    """Return (accepts, rejects) = (k, k*(N-1)) with k as large as the source and max_examples allow."""
    if denominator < 2:
        raise ProportionError(f"proportion 1_{denominator}: N must be at least 2")
    k = min(n_accept, n_reject // (denominator - 1))
    if max_examples is not None:
        # the cap is applied after the proportion, so it shrinks k rather than bending the fraction
        k = min(k, max_examples // denominator)
    return k, k * (denominator - 1)


def subsample_to_proportion(
    items: Sequence[T],
    label_of,
    denominator: int,
    seed: int,
    max_examples: int | None = None,
    source: str = "the source",
) -> list[T]:
    """Return a seeded, shuffled subset of items whose accept fraction is exactly 1/denominator."""
    accepts = [item for item in items if label_of(item) == ACCEPT]
    rejects = [item for item in items if label_of(item) == REJECT]
    n_keep_accept, n_keep_reject = proportion_counts(len(accepts), len(rejects), denominator, max_examples)
    if n_keep_accept == 0:
        cap = f" and max_examples = {max_examples}" if max_examples is not None else ""
        raise ProportionError(
            f"{source} has {len(accepts)} Accept and {len(rejects)} Reject papers; proportion 1_{denominator} "
            f"(accept fraction 1/{denominator}) needs at least 1 Accept and {denominator - 1} Reject{cap} "
            f"(at least {denominator} examples), so no such set can be built"
        )
    rng = np.random.default_rng(seed)
    # Permuting each class with the same seed makes sets of different N nest: fewer papers, same draw order.
    chosen_accepts = [accepts[i] for i in rng.permutation(len(accepts))[:n_keep_accept]]
    chosen_rejects = [rejects[i] for i in rng.permutation(len(rejects))[:n_keep_reject]]
    return seeded_shuffle(chosen_accepts + chosen_rejects, seed)


def seeded_shuffle(items: Sequence[T], seed: int, max_examples: int | None = None) -> list[T]:
    """Return items in a seeded random order, keeping the first max_examples when a cap is given."""
    order = np.random.default_rng([seed, 1]).permutation(len(items))
    shuffled = [items[i] for i in order]
    return shuffled if max_examples is None else shuffled[:max_examples]

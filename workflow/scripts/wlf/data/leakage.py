"""Train/test leakage: a training paper that is also in the test source, by id or by normalised title."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wlf.data.sources import LoadedSource, Paper

MAX_SHOWN = 5


class LeakageError(ValueError):
    """A training source that shares papers with the test source; the message names them."""


def normalise_title(title: str) -> str:
    """Return a title folded for comparison: NFKC, lower case, runs of non-alphanumerics as one space."""
    folded = unicodedata.normalize("NFKC", title).lower()
    return " ".join(re.sub(r"[\W_]+", " ", folded).split())


def find_overlap(train: Iterable[Paper], test: Iterable[Paper]) -> tuple[list[str], list[str]]:
    """Return (shared ids, shared normalised titles) of two paper sets; titles compare where an id is absent."""
    train, test = list(train), list(test)
    test_ids = {p.paper_id for p in test if p.has_source_id}
    shared_ids = sorted({p.paper_id for p in train if p.has_source_id and p.paper_id in test_ids})
    test_titles_all = {normalise_title(p.title) for p in test}
    test_titles_no_id = {normalise_title(p.title) for p in test if not p.has_source_id}
    shared_titles = set()
    for paper in train:
        title = normalise_title(paper.title)
        if not title:
            continue
        if title in (test_titles_no_id if paper.has_source_id else test_titles_all):
            shared_titles.add(title)
    return shared_ids, sorted(shared_titles)


def check_no_leakage(train: LoadedSource, test: LoadedSource) -> None:
    """Raise LeakageError naming shared ids/titles when a training paper is also in the test source."""
    shared_ids, shared_titles = find_overlap(train.papers, test.papers)
    if shared_ids or shared_titles:
        parts = []
        if shared_ids:
            parts.append(f"{len(shared_ids)} shared id(s) {shared_ids[:MAX_SHOWN]}")
        if shared_titles:
            parts.append(f"{len(shared_titles)} shared title(s) {shared_titles[:MAX_SHOWN]}")
        raise LeakageError(
            f"train/test leakage: {' and '.join(parts)} between training source {train.path} "
            f"and test source {test.path}; remove them from one of the two"
        )

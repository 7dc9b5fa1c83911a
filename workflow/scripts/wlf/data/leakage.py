"""Train/test leakage: a training paper that is also in the test source.

Every training paper is compared with every test paper, whatever their ids, in three ways:
- the same id (a source id, or the hash id of a paper whose source has none);
- the same title, after Unicode (NFKC) folding, case folding and collapsing spaces;
- a near-duplicate title: the same letters and digits once punctuation, spaces and case are removed
  ("Deep-Learning for X" and "deep learning for x!" are one title). An OpenReview resubmission carries a new
  id and the same title, so titles are compared even when both papers have ids.
The comparison goes through dictionaries keyed by id and title, so it costs one pass over each set.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wlf.errors import InputError

if TYPE_CHECKING:
    from wlf.data.sources import LoadedSource, Paper

MAX_SHOWN = 5
KINDS = ("same id", "same title", "near-duplicate title")


class LeakageError(InputError):
    """A training source that shares papers with the test source; the message names them and their rows."""


@dataclass(frozen=True)
class SharedPaper:
    """A training paper found in the test source: its row in each file and how they match."""

    train_row: int
    test_row: int
    kind: str  # one of KINDS
    title: str


def normalise_title(title: str) -> str:
    """Return a title folded for comparison: NFKC, case folded, runs of white space as one space."""
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


def title_without_punctuation(title: str) -> str:
    """Return only the letters and digits of a normalised title: the key of near-duplicates."""
    return re.sub(r"[\W_]+", "", normalise_title(title))


def _index(papers: Iterable[Paper], key) -> dict[str, list[Paper]]:
    """Return {key(paper): papers with that key}, leaving out empty keys."""
    index: dict[str, list[Paper]] = defaultdict(list)
    for paper in papers:
        value = key(paper)
        if value:
            index[value].append(paper)
    return index


def find_shared(train: Iterable[Paper], test: Iterable[Paper]) -> list[SharedPaper]:
    """Return each (training paper, test paper) pair that matches, by its strongest kind, in training order."""
    train, test = list(train), list(test)
    keys = {
        "same id": lambda paper: paper.paper_id,
        "same title": lambda paper: normalise_title(paper.title),
        "near-duplicate title": lambda paper: title_without_punctuation(paper.title),
    }
    indexes = {kind: _index(test, key) for kind, key in keys.items()}
    shared, seen = [], set()
    for paper in train:
        for kind, key in keys.items():
            value = key(paper)
            for other in indexes[kind].get(value, []) if value else []:
                if (paper.row, other.row) not in seen:
                    seen.add((paper.row, other.row))
                    shared.append(SharedPaper(paper.row, other.row, kind, paper.title))
    return shared


def leakage_stats(train: LoadedSource, test: LoadedSource) -> dict:
    """Return what the check compared, for stats.json: the papers on each side and the pairs checked."""
    return {
        "compared": list(KINDS),
        "train_papers": len(train.papers),
        "test_papers": len(test.papers),
        "pairs_checked": len(train.papers) * len(test.papers),
        "shared": 0,
    }


def check_no_leakage(train: LoadedSource, test: LoadedSource) -> dict:
    """Return leakage_stats, raising LeakageError naming the rows of both files when a paper is shared."""
    shared = find_shared(train.papers, test.papers)
    if shared:
        counts = ", ".join(
            f"{sum(s.kind == kind for s in shared)} {kind}"
            for kind in KINDS
            if any(s.kind == kind for s in shared)
        )
        shown = "; ".join(
            f"{train.path} row {s.train_row} ~ {test.path} row {s.test_row} ({s.kind}: {s.title[:60]!r})"
            for s in shared[:MAX_SHOWN]
        )
        more = f"; and {len(shared) - MAX_SHOWN} more" if len(shared) > MAX_SHOWN else ""
        raise LeakageError(
            f"train/test leakage: {len(shared)} training paper(s) also in the test source ({counts}): "
            f"{shown}{more}; remove them from one of the two"
        )
    return leakage_stats(train, test)

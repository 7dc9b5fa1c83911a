"""Decision labels: the two answers, and the many ways a source spells them normalised to exactly one."""

from __future__ import annotations

import re

import numpy as np

ACCEPT = "Accept"
REJECT = "Reject"
LABELS = (ACCEPT, REJECT)
# A generated answer that is neither: kept in prediction files and counted as wrong, never as an Accept.
INVALID = "invalid"
PREDICTIONS = (ACCEPT, REJECT, INVALID)
# Leading words that mean a decision; "Accept (Poster)", "accepted", "REJECT" all reduce to one of these.
# "true"/"false" are booleans written as text, as CSV files (which have no types) hold them.
_LEADING_WORDS = {"accept": ACCEPT, "accepted": ACCEPT, "reject": REJECT, "rejected": REJECT}
_BOOLEAN_WORDS = {"true": ACCEPT, "false": REJECT}
_FIRST_WORD = re.compile(r"[a-z]+")


def is_missing(value) -> bool:
    """Return True when a label cell holds nothing: None, NaN or a blank string."""
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def normalise_label(value) -> str | None:
    """Return "Accept"/"Reject" for a recognised decision (leading word, any case; a bool or its text), else None."""
    # Parquet and pandas hand booleans over as numpy scalars, which are not instances of bool.
    if isinstance(value, (bool, np.bool_)):
        return ACCEPT if bool(value) else REJECT
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[text]
    match = _FIRST_WORD.match(text)
    if match is None:
        return None
    return _LEADING_WORDS.get(match.group(0))

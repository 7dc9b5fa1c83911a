"""Config sections passed to a script: unknown keys refused by name, defaults filled in."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping


def parse_section(text: str, defaults: Mapping, section: str, error: type[Exception] = ValueError) -> dict:
    """Return defaults updated by the JSON object in text, raising error naming section on a non-object or unknown key."""
    given = json.loads(text)
    if not isinstance(given, dict):
        raise error(f"{section} settings must be a JSON object, got {text!r}")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise error(f"{section} settings: unknown keys {unknown}; known: {sorted(defaults)}")
    return {**defaults, **given}


def merge_section(given: Mapping, defaults: Mapping, section: str, ignored: Collection[str] = ()) -> dict:
    """Return defaults updated by given (ignored keys dropped), raising ValueError naming section on an unknown key."""
    unknown = sorted(set(given) - set(defaults) - set(ignored))
    if unknown:
        raise ValueError(f"unknown {section} setting(s) {unknown}; known: {sorted(defaults)}")
    return {**defaults, **{key: value for key, value in given.items() if key in defaults}}

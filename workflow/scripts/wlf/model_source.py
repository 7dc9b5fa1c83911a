"""Where a model comes from: a local folder or a hub id, checked before anything heavy is imported or written.

Hugging Face reads an existing folder as a folder and anything else as a hub id; a wrong path then fails deep
inside transformers ("Repo id must be in the form ...") after minutes of work. This says it in one line first.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from wlf.errors import InputError

# A hub id is "name" or "owner/name" of letters, digits, '-', '_' and '.' (huggingface_hub's rule, shortened).
HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


class ModelSourceError(InputError):
    """A model that cannot be loaded from where it is said to be; the message names it."""


def is_offline(environment: dict | None = None) -> bool:
    """Return whether the hub is switched off (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE set to a true value)."""
    environment = os.environ if environment is None else environment
    return any(
        environment.get(name, "").strip().lower() in ("1", "true", "yes", "on") for name in OFFLINE_VARIABLES
    )


def in_hub_cache(hub_id: str) -> bool:
    """Return whether the local Hugging Face cache holds a snapshot of hub_id with its config.json."""
    from huggingface_hub import try_to_load_from_cache  # small; only reached for a hub id while offline

    return isinstance(try_to_load_from_cache(hub_id, "config.json"), str)


def check_model_source(
    name_or_path: str, setting: str = "model.name_or_path", offline: bool | None = None
) -> str:
    """Return name_or_path when a model can be loaded from it, else raise ModelSourceError naming setting.

    A local folder must exist as a folder; a hub id is accepted online, and offline only when it is cached.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return name_or_path
    if path.exists():
        raise ModelSourceError(f"{setting} = {name_or_path!r} is a file, not a model folder")
    if not HUB_ID.match(name_or_path) or name_or_path.startswith((".", "/")):
        raise ModelSourceError(
            f"{setting} = {name_or_path!r}: model folder {name_or_path} does not exist, and it is not a hub id"
        )
    if (is_offline() if offline is None else offline) and not in_hub_cache(name_or_path):
        raise ModelSourceError(
            f"{setting} = {name_or_path!r} is a hub id, but the hub is off (HF_HUB_OFFLINE) and the local cache "
            "does not hold it; download it where there is network, or name a local folder"
        )
    return name_or_path

"""Config keys, types, ranges and defaults, read from the one JSON schema (workflow/schemas/config.schema.yaml).

The workflow checks the whole config with it at start-up (check_config) and each script checks and completes
its own --settings with the schema definition it reads (resolve), so a key list or a range is written once.
Errors are one line naming the key, e.g. "infer.thresold: unknown key; known: batch_size, mode, ...".
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from wlf.errors import InputError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


class SettingsError(InputError):
    """A config key or script setting that is unknown or out of range; the message names the key."""


@functools.cache
def schema() -> dict:
    """Return the config JSON schema (parsed once per process)."""
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def definition(name: str) -> dict:
    """Return the schema definition $defs/<name> (e.g. "training")."""
    return schema()["$defs"][name]


def keys(name: str) -> tuple[str, ...]:
    """Return the keys of the definition $defs/<name>, in schema order."""
    return tuple(definition(name)["properties"])


def section_keys(section: str) -> tuple[str, ...]:
    """Return the keys a config section lists itself, besides those of the definition it refers to."""
    return tuple(schema()["properties"][section].get("properties", {}))


def defaults(name: str) -> dict[str, Any]:
    """Return the default of every key of $defs/<name> (a deep copy: callers may change it)."""
    return {key: copy.deepcopy(spec.get("default")) for key, spec in definition(name)["properties"].items()}


def model_keys() -> dict[str, dict]:
    """Return the model section's keys that every loading script also reads (trust_remote_code), with specs."""
    return {"trust_remote_code": schema()["properties"]["model"]["properties"]["trust_remote_code"]}


def key_spec(definition_name: str, key: str) -> dict:
    """Return the schema of one key of $defs/<definition_name>, for a script that reads it besides its own."""
    return definition(definition_name)["properties"][key]


def resolve(
    name: str, given: Mapping[str, Any], section: str, extra: Mapping[str, dict] | None = None
) -> dict[str, Any]:
    """Return the defaults of $defs/<name> updated by given, raising SettingsError naming `section.key`.

    An object-valued setting (train.lora) is updated key by key. extra: keys of other sections the script
    also reads, {key: its schema} (e.g. model_keys()).
    """
    if not isinstance(given, Mapping):
        raise SettingsError(f"{section} settings must be a JSON object, got {given!r}")
    extra = dict(extra or {})
    check(
        given,
        {"$ref": f"#/$defs/{name}", "properties": extra, "unevaluatedProperties": False},
        section,
    )
    resolved = defaults(name) | {key: spec["default"] for key, spec in extra.items()}
    for key, value in given.items():
        default = resolved.get(key)
        resolved[key] = (
            {**default, **value} if isinstance(default, dict) and isinstance(value, dict) else value
        )
    return resolved


def resolve_object(text: str, what: str, kind: type = dict, kind_name: str = "object") -> Any:
    """Return the JSON value of a command-line option, raising SettingsError naming `what` unless it is a kind."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{what} is not valid JSON ({error.msg}): {text!r}") from None
    if not isinstance(value, kind):
        raise SettingsError(f"{what} must be a JSON {kind_name}, got {text!r}")
    return value


def resolve_json(
    name: str, text: str, section: str, extra: Mapping[str, dict] | None = None
) -> dict[str, Any]:
    """Return resolve() of a command-line JSON object, raising SettingsError when it is not one."""
    return resolve(name, resolve_object(text, f"{section} settings"), section, extra)


def check_config(config: Mapping[str, Any]) -> None:
    """Raise SettingsError naming the first config key that the schema refuses."""
    check(config, schema(), "")


def check(value: Any, subschema: dict, where: str) -> None:
    """Raise SettingsError with a one-line message for the first error of value against subschema."""
    from jsonschema import Draft202012Validator

    root = subschema if subschema is schema() else {**subschema, "$defs": schema()["$defs"]}
    validator = Draft202012Validator(root)
    errors = sorted(validator.iter_errors(value), key=lambda error: list(error.absolute_path))
    if errors:
        raise SettingsError(describe(_deepest(errors[0]), where))


def _deepest(error):
    """Return the innermost error of a schema combinator (the one that names the actual key)."""
    while error.context:
        error = min(error.context, key=lambda child: (-len(child.absolute_path), str(child.message)))
    return error


def key_path(parts: Iterable, where: str) -> str:
    """Return a config path such as "train.overrides.accept_gamma2.0_prop1_2.learning_rate"."""
    text = where
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "config"


def describe(error, where: str) -> str:
    """Return a one-line message for a jsonschema error: the key, its value and what the schema wants."""
    path = key_path(error.absolute_path, where)
    spec, value = error.schema, error.instance
    if (
        isinstance(spec, dict) and "errorMessage" in spec
    ):  # the schema's own words for this key (ajv-errors style)
        return f"{path} {spec['errorMessage']}"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        known = sorted(_known_keys(error.schema, error.absolute_path))
        unknown = sorted(set(value) - set(known)) if isinstance(value, Mapping) else []
        names = ", ".join(key_path([key], path) for key in unknown) or path
        close = [match for key in unknown for match in difflib.get_close_matches(key, known, n=1)]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        return f"{names}: unknown key{hint}; known: {', '.join(known)}"
    if error.validator == "required":
        return f"{path}: {error.message}"
    if error.validator == "enum":
        return f"{path} = {value!r} is not one of {', '.join(map(repr, spec['enum']))}"
    if error.validator == "const":
        return f"{path} = {value!r} must be {spec['const']!r}"
    if error.validator == "type":
        return f"{path} = {value!r} must be of type {spec['type']}"
    bounds = {
        "minimum": ">=",
        "exclusiveMinimum": ">",
        "maximum": "<=",
        "exclusiveMaximum": "<",
    }
    if error.validator in bounds:
        types = spec.get("type", [])
        kind = "an integer " if "integer" in types else "a number " if "number" in types else ""
        return f"{path} = {value!r} must be {kind}{bounds[error.validator]} {spec[error.validator]}"
    if error.validator == "pattern":
        return f"{path} = {value!r} does not match {spec['pattern']!r}"
    return f"{path}: {error.message}"


def _known_keys(subschema: dict, path) -> set[str]:
    """Return the keys an object schema allows: its properties plus those of the definition it refers to."""
    known = set(subschema.get("properties", {}))
    reference = subschema.get("$ref", "")
    if reference.startswith("#/$defs/"):
        known |= set(definition(reference.removeprefix("#/$defs/"))["properties"])
    return known

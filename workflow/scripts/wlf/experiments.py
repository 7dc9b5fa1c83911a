"""The experiment grid: variants, methods, names, proportions and the loss weight of each class."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from wlf.errors import InputError
from wlf.labels import ACCEPT, LABELS, REJECT
from wlf.settings import schema

_EXPERIMENT = schema()["properties"]["experiments"]["items"]["properties"]
VARIANTS = tuple(_EXPERIMENT["variant"]["enum"])
# The class whose loss a variant multiplies by gamma; the baseline weights nothing.
WEIGHTED_LABEL = {"accept": ACCEPT, "reject": REJECT, "baseline": None}
# How an experiment's predictions are made: the weighted fine-tune this workflow is about, the baseline's
# probabilities moved by the odds the experiment implies (no training), and a TF-IDF classifier; and, once per
# study rather than per experiment, the base model as it comes (zero-shot: no fine-tuning at all).
FINETUNED, PRIORSHIFT, TFIDF, ZEROSHOT = "finetuned", "priorshift", "tfidf_logreg", "zeroshot"
METHODS = (FINETUNED, PRIORSHIFT, TFIDF, ZEROSHOT)
# The zero-shot reference belongs to no experiment: its table row names the method and leaves the grid empty.
ZEROSHOT_EXPERIMENT = {
    "name": ZEROSHOT,
    "prop": None,
    "variant": None,
    "gamma": None,
    "accept_fraction": None,
}
# "1_N" with N >= 2: the training accept fraction 1/N
PROP_PATTERN = re.compile(_EXPERIMENT["prop"]["pattern"])


class ExperimentConfigError(InputError):
    """A config entry that cannot describe a valid experiment; the message names the key."""


@dataclass(frozen=True)
class Experiment:
    name: str
    prop: str
    variant: str
    gamma: float

    @property
    def accept_fraction(self) -> float:
        return accept_fraction(self.prop)

    def record(self) -> dict:
        """Return {name, prop, variant, gamma, accept_fraction}: the experiment as metrics files state it."""
        return {**vars(self), "accept_fraction": self.accept_fraction}


def accept_fraction(prop: str) -> float:
    """Return the training-set accept fraction 1/N encoded by a proportion string `1_N`."""
    match = PROP_PATTERN.match(prop)
    if match is None:
        raise ExperimentConfigError(f"proportion {prop!r} is not of the form 1_N with N >= 2")
    return 1.0 / int(match.group(1))


def proportion_denominator(prop: str) -> int:
    """Return N of a proportion string `1_N`."""
    accept_fraction(prop)
    return int(prop.split("_")[1])


def format_gamma(gamma: float) -> str:
    """Return gamma as it appears in names and paths: one decimal at least (2 -> '2.0', 2.5 -> '2.5')."""
    text = f"{float(gamma):.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def experiment_name(variant: str, gamma: float, prop: str) -> str:
    """Return the canonical experiment name `{variant}_gamma{gamma}_prop{prop}`."""
    return f"{variant}_gamma{format_gamma(gamma)}_prop{prop}"


def example_weight(label: str, variant: str, gamma: float) -> float:
    """Return the loss weight of one example: gamma if its label is the variant's weighted class, else 1."""
    if label not in LABELS:
        raise ValueError(f"label {label!r} is not one of {LABELS}")
    if variant not in WEIGHTED_LABEL:
        raise ValueError(f"variant {variant!r} is not one of {VARIANTS}")
    return float(gamma) if WEIGHTED_LABEL[variant] == label else 1.0


def class_weights(variant: str, gamma: float) -> dict[str, float]:
    """Return the loss weight of each label, e.g. {"Accept": 4.0, "Reject": 1.0} for variant accept, gamma 4."""
    return {label: example_weight(label, variant, gamma) for label in LABELS}


def example_weights(labels: Sequence[str], variant: str, gamma: float) -> list[float]:
    """Return the loss weight of each example from its label."""
    weight_of = class_weights(variant, gamma)
    unknown = sorted({label for label in labels if label not in weight_of})
    if unknown:
        raise ValueError(f"labels {unknown} are not one of {list(LABELS)}")
    return [weight_of[label] for label in labels]


def parse_experiments(entries: Iterable[Mapping]) -> list[Experiment]:
    """Return the experiments of a config list, raising ExperimentConfigError naming the bad key."""
    experiments: list[Experiment] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = f"experiments[{index}]"
        for key in ("name", "prop", "variant", "gamma"):
            if key not in entry:
                raise ExperimentConfigError(f"{where}.{key} is missing")
        name, prop, variant = str(entry["name"]), str(entry["prop"]), str(entry["variant"])
        try:
            gamma = float(entry["gamma"])
        except (TypeError, ValueError):
            raise ExperimentConfigError(f"{where}.gamma = {entry['gamma']!r} is not a number") from None
        if variant not in VARIANTS:
            raise ExperimentConfigError(f"{where}.variant = {variant!r} is not one of {', '.join(VARIANTS)}")
        if not gamma > 0:
            raise ExperimentConfigError(f"{where}.gamma = {gamma} must be > 0")
        if variant == "baseline" and gamma != 1.0:
            raise ExperimentConfigError(f"{where}.gamma = {gamma}: a baseline experiment must have gamma 1.0")
        try:
            accept_fraction(prop)
        except ExperimentConfigError as error:
            raise ExperimentConfigError(f"{where}.prop: {error}") from None
        expected = experiment_name(variant, gamma, prop)
        if name != expected:
            raise ExperimentConfigError(
                f"{where}.name = {name!r} does not match its fields (variant, gamma, prop): expected {expected!r}"
            )
        if name in seen:
            raise ExperimentConfigError(f"{where}.name = {name!r} duplicates experiments[{seen[name]}]")
        seen[name] = index
        experiments.append(Experiment(name=name, prop=prop, variant=variant, gamma=gamma))
    if not experiments:
        raise ExperimentConfigError("experiments is empty")
    return experiments


def parse_experiment_json(text: str, flag: str = "--experiment") -> Experiment:
    """Return the experiment of a command-line JSON {name, prop, variant, gamma}, checked like the config."""
    entry = json.loads(text)
    if not isinstance(entry, dict):
        raise ExperimentConfigError(f"{flag} must be a JSON object, got {text!r}")
    return parse_experiments([entry])[0]


def find_baseline(experiments: Iterable[Experiment]) -> Experiment | None:
    """Return the baseline experiment (variant baseline), or None when the grid has none."""
    baselines = [experiment for experiment in experiments if experiment.variant == "baseline"]
    return baselines[0] if baselines else None


def check_overrides(overrides: Mapping, experiments: Iterable[Experiment]) -> None:
    """Raise ExperimentConfigError when train.overrides names an experiment that is not configured."""
    names = {experiment.name for experiment in experiments}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ExperimentConfigError(
            f"train.overrides names experiments that are not configured: {', '.join(unknown)}"
        )

"""A chat dataset (a training set of accept fraction 1/N, or the test set) from a paper source, and its stats."""

from __future__ import annotations

import numpy as np

from wlf import chat_template, experiments
from wlf.data import leakage, prompts, sampling, sources
from wlf.errors import InputError
from wlf.labels import ACCEPT, LABELS
from wlf.model_source import check_model_source
from wlf.settings import model_keys, resolve

PERCENTILES = (50, 90, 99)


def merge_settings(given: dict) -> dict:
    """Return the data settings: the schema's defaults updated with given (SettingsError naming a bad key)."""
    resolved = resolve("dataset", given, "data", model_keys())
    prompts.check_user_template(resolved["user_template"])
    return resolved


def source_settings(settings: dict) -> sources.SourceSettings:
    """Return the reader's view of the data settings."""
    return sources.SourceSettings(
        format=settings["format"],
        text_fields=tuple(settings["text_fields"]),
        title_field=settings["title_field"],
        label_field=settings["label_field"],
        id_field=settings["id_field"],
        drop_unknown_labels=bool(settings["drop_unknown_labels"]),
    )


def select_papers(
    loaded: sources.LoadedSource, split: str, prop: str | None, settings: dict
) -> list[sources.Paper]:
    """Return the papers of the set in output order: exact 1/N subsample for train, all (capped) for test."""
    seed, cap = int(settings["seed"]), settings["max_examples"]
    if split == "test":
        return sampling.seeded_shuffle(loaded.papers, seed, None if cap is None else int(cap))
    try:
        return sampling.subsample_to_proportion(
            loaded.papers,
            lambda paper: paper.label,
            experiments.proportion_denominator(prop),
            seed,
            None if cap is None else int(cap),
            source=f"training source {loaded.path}",
        )
    except experiments.ExperimentConfigError as error:
        raise InputError(f"--prop: {error}") from None


def build_examples(papers: list[sources.Paper], tokenizer, settings: dict) -> list[dict]:
    """Return the output rows: id, title, label, messages, n_paper_tokens, truncated."""
    cut = prompts.truncate_texts([p.text for p in papers], tokenizer, int(settings["max_paper_tokens"]))
    return [
        {
            "id": paper.paper_id,
            "title": paper.title,
            "label": paper.label,
            "messages": prompts.build_messages(
                settings["system_prompt"], settings["user_template"], kept.text, paper.label
            ),
            "n_paper_tokens": kept.n_tokens,
            "truncated": kept.truncated,
        }
        for paper, kept in zip(papers, cut, strict=True)
    ]


def _percentiles(values: list[int]) -> dict:
    """Return p50/p90/p99/max (nearest-rank, integers), mean and total of token counts."""
    if not values:
        return {f"p{q}": 0 for q in PERCENTILES} | {"max": 0, "mean": 0.0, "total": 0}
    array = np.asarray(values)
    # mean and total feed cost estimates (bench/cost_model.py): compute scales with the token sum
    return {f"p{q}": int(np.percentile(array, q, method="higher")) for q in PERCENTILES} | {
        "max": int(array.max()),
        "mean": round(float(array.mean()), 2),
        "total": int(array.sum()),
    }


def dataset_stats(
    examples: list[dict],
    chat_tokens: list[int],
    loaded: sources.LoadedSource,
    split: str,
    prop: str | None,
    settings: dict,
    model: str,
) -> dict:
    """Return the stats.json content of a built set."""
    n_accept = sum(example["label"] == ACCEPT for example in examples)
    source_counts = {label: sum(p.label == label for p in loaded.papers) for label in LABELS}
    return {
        "split": split,
        "prop": prop,
        "target_accept_fraction": experiments.accept_fraction(prop) if prop else None,
        "n_examples": len(examples),
        "counts": {label: sum(example["label"] == label for example in examples) for label in LABELS},
        "accept_fraction": n_accept / len(examples),
        "example_tokens": _percentiles(chat_tokens),
        "paper_tokens": _percentiles([example["n_paper_tokens"] for example in examples]),
        "max_paper_tokens": int(settings["max_paper_tokens"]),
        "n_truncated": sum(example["truncated"] for example in examples),
        "max_examples": settings["max_examples"],
        "source": {
            "path": loaded.path,
            "sha256": sources.source_sha256(loaded.path),
            "format": loaded.format,
            "n_rows": loaded.n_rows,
            "counts": source_counts,
            "dropped": loaded.dropped,
        },
        "model": model,
        "seed": int(settings["seed"]),
    }


def fit_limit(split: str, max_length: int | None, model: str, settings: dict) -> tuple[int, str] | None:
    """Return (token limit, the setting it comes from) that every rendered example must fit, or None.

    Train: train.max_length (the rule passes the smallest of the proportion's experiments). Test:
    infer.max_length when set, else the model's context length, as infer.py applies it.
    """
    if max_length is not None:
        return max_length, "train.max_length" if split == "train" else "infer.max_length"
    if split == "train":
        return None
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model, trust_remote_code=bool(settings["trust_remote_code"]))
    context = getattr(config, "max_position_embeddings", None)
    return (
        None
        if context is None
        else (int(context), f"the context length of {model} (max_position_embeddings)")
    )


def check_fit(
    papers: list[sources.Paper], chat_tokens: list[int], limit: tuple[int, str] | None, settings: dict
):
    """Raise DataError naming the paper, its row and both settings when the longest example exceeds the limit."""
    if limit is None or not chat_tokens:
        return
    longest = max(range(len(chat_tokens)), key=chat_tokens.__getitem__)
    if chat_tokens[longest] > limit[0]:
        paper = papers[longest]
        raise sources.DataError(
            f"paper {paper.paper_id!r} (source row {paper.row}) is {chat_tokens[longest]} tokens as the chat "
            f"template renders it, more than {limit[1]} = {limit[0]}; raise {limit[1]} or lower "
            f"data.max_paper_tokens (now {settings['max_paper_tokens']})"
        )


def make_dataset(
    split: str,
    source: str,
    model: str,
    settings: dict,
    prop: str | None = None,
    test_source: str | None = None,
    max_length: int | None = None,
) -> tuple[list[dict], dict]:
    """Return (examples, stats) of a split; every input check runs before the tokenizer is loaded.

    max_length: the longest example (in the model's tokens) the next stage accepts; see fit_limit.
    """
    if split == "train" and (prop is None or test_source is None):
        raise InputError("--split train needs --prop and --test-source")
    check_model_source(model, "--model")
    reader = source_settings(settings)
    loaded = sources.load_source(source, reader)
    leakage_stats = None
    if split == "train":
        experiments.accept_fraction(prop)
        leakage_stats = leakage.check_no_leakage(loaded, sources.load_source(test_source, reader))
    papers = select_papers(loaded, split, prop, settings)

    from transformers import AutoTokenizer  # slow import: only once the inputs are known to be good

    tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=bool(settings["trust_remote_code"]))
    examples = build_examples(papers, tokenizer, settings)
    # every example's answer is checked here: a template training and inference cannot share stops the job
    chat_tokens = prompts.chat_token_counts([example["messages"] for example in examples], tokenizer, model)
    check_fit(papers, chat_tokens, fit_limit(split, max_length, model, settings), settings)
    stats = dataset_stats(examples, chat_tokens, loaded, split, prop, settings, model)
    stats["chat_template_kwargs"] = chat_template.render_kwargs(tokenizer)
    if split == "train":
        stats["test_source"] = {"path": str(test_source), "sha256": sources.source_sha256(test_source)}
        stats["leakage"] = leakage_stats
    return examples, stats

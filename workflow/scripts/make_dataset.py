"""Build a chat dataset (train set of accept fraction 1/N, or the test set) from a paper source, with stats."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

import experiments
import prompts
import sampling
import sources
from config_sections import merge_section
from json_files import write_jsonl, write_text
from labels import ACCEPT, REJECT

DEFAULT_SETTINGS = {
    "format": "auto",
    "text_fields": ["title", "abstract"],
    "title_field": "title",
    "label_field": "decision",
    "id_field": "id",
    "drop_unknown_labels": False,
    "max_examples": None,
    "max_paper_tokens": 1024,
    "system_prompt": "You are an expert reviewer for the ICLR machine learning conference.",
    "user_template": (
        "Here is a paper submitted to ICLR. Predict the final decision. "
        "Answer with exactly one word, Accept or Reject.\n\n{paper}"
    ),
    "seed": 42,
    "trust_remote_code": False,
}
# Keys of the config `data` section that belong to other rules; accepted here so the whole section may be passed.
IGNORED_KEYS = {"embedded", "train_source", "test_source", "synthetic"}
PERCENTILES = (50, 90, 99)
MAX_SHOWN = 5


def merge_settings(given: dict) -> dict:
    """Return DEFAULT_SETTINGS updated with given, raising ValueError on an unknown key or a bad value."""
    settings = merge_section(given, DEFAULT_SETTINGS, "data", ignored=IGNORED_KEYS)
    if isinstance(settings["text_fields"], str):
        settings["text_fields"] = [settings["text_fields"]]
    if not settings["text_fields"]:
        raise ValueError("data.text_fields is empty")
    if settings["max_examples"] is not None and int(settings["max_examples"]) < 1:
        raise ValueError(f"data.max_examples = {settings['max_examples']} must be null or at least 1")
    if int(settings["max_paper_tokens"]) < 1:
        raise ValueError(f"data.max_paper_tokens = {settings['max_paper_tokens']} must be at least 1")
    prompts.check_user_template(settings["user_template"])
    return settings


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


def check_no_leakage(train: sources.LoadedSource, test: sources.LoadedSource) -> None:
    """Raise DataError naming shared ids/titles when a training paper is also in the test source."""
    shared_ids, shared_titles = sources.find_overlap(train.papers, test.papers)
    if shared_ids or shared_titles:
        parts = []
        if shared_ids:
            parts.append(f"{len(shared_ids)} shared id(s) {shared_ids[:MAX_SHOWN]}")
        if shared_titles:
            parts.append(f"{len(shared_titles)} shared title(s) {shared_titles[:MAX_SHOWN]}")
        raise sources.DataError(
            f"train/test leakage: {' and '.join(parts)} between training source {train.path} "
            f"and test source {test.path}; remove them from one of the two"
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
        raise ValueError(f"--prop: {error}") from None


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
    source_counts = {label: sum(p.label == label for p in loaded.papers) for label in (ACCEPT, REJECT)}
    return {
        "split": split,
        "prop": prop,
        "target_accept_fraction": experiments.accept_fraction(prop) if prop else None,
        "n_examples": len(examples),
        "counts": {ACCEPT: n_accept, REJECT: len(examples) - n_accept},
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


def make_dataset(
    split: str,
    source: str,
    model: str,
    settings: dict,
    prop: str | None = None,
    test_source: str | None = None,
) -> tuple[list[dict], dict]:
    """Return (examples, stats) of a split; every input check runs before the tokenizer is loaded."""
    if split == "train" and (prop is None or test_source is None):
        raise ValueError("--split train needs --prop and --test-source")
    reader = source_settings(settings)
    loaded = sources.load_source(source, reader)
    if split == "train":
        experiments.accept_fraction(prop)
        check_no_leakage(loaded, sources.load_source(test_source, reader))
    papers = select_papers(loaded, split, prop, settings)

    from transformers import AutoTokenizer  # slow import: only once the inputs are known to be good

    tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=bool(settings["trust_remote_code"]))
    examples = build_examples(papers, tokenizer, settings)
    chat_tokens = prompts.chat_token_counts([example["messages"] for example in examples], tokenizer)
    stats = dataset_stats(examples, chat_tokens, loaded, split, prop, settings, model)
    if split == "train":
        stats["test_source"] = {"path": str(test_source), "sha256": sources.source_sha256(test_source)}
    return examples, stats


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=("train", "test"), required=True)
    parser.add_argument(
        "--prop", help="proportion 1_N (train only): the set's accept fraction is exactly 1/N"
    )
    parser.add_argument("--source", required=True, help="paper source: file or load_from_disk folder")
    parser.add_argument("--test-source", help="test source (train only), checked for overlap with the source")
    parser.add_argument("--model", required=True, help="model path or hub id whose tokenizer measures tokens")
    parser.add_argument("--settings", default="{}", help="JSON of the config `data` section")
    parser.add_argument("--output", required=True, help="output JSONL of chat examples")
    parser.add_argument("--stats", required=True, help="output stats JSON")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        settings = merge_settings(json.loads(args.settings))
        examples, stats = make_dataset(
            args.split, args.source, args.model, settings, args.prop, args.test_source
        )
    except (ValueError, json.JSONDecodeError) as error:
        print(f"make_dataset: error: {error}", file=sys.stderr)
        return 2
    write_jsonl(args.output, examples)
    write_text(args.stats, json.dumps(stats, indent=2, sort_keys=True) + "\n")
    print(
        f"make_dataset: {args.split} {args.prop or ''} wrote {stats['n_examples']} examples "
        f"(accept fraction {stats['accept_fraction']:.4f}, {stats['n_truncated']} truncated) to {args.output}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

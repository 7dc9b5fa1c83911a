"""Build the benchmarks' model and data offline: a Qwen2 model of realistic vocabulary, chat sets by length.

The model is the workflow's own tiny-model builder (BPE tokenizer trained on the synthetic corpus, ChatML
template) with the embedding and LM head padded to a realistic vocabulary, as Qwen2.5 pads its 151,665 tokens
to 152,064 rows: the LM head's cost is set by its rows, not by the tokens in use. The data are the
workflow's chat rows (make_dataset's format) whose paper texts are cut to lengths drawn between half and all
of a token budget, so batches carry realistic padding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from wlf import settings as config_schema
from wlf.data import prompts, synthetic, tiny_model
from wlf.files import write_jsonl as write_corpus_jsonl

SYSTEM_PROMPT = "You are an experienced area chair for the ICLR conference."
USER_TEMPLATE = (
    "Decide whether the following ICLR submission will be accepted. Answer Accept or Reject.\n\n{paper}"
)
# The benchmark model: Qwen2 layers large enough to time, under a realistic 32k-row vocabulary.
BENCH_SHAPE = {
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 768,
    "max_position_embeddings": 8192,
}
# --quick smoke runs use the layer sizes of the workflow's embedded demo model.
QUICK_SHAPE = {key: config_schema.defaults("tiny_model")[key] for key in BENCH_SHAPE}
# Tokens by which the paper and the template around it may tokenize to more than apart (merges at the seams)
SEAM_MARGIN_TOKENS = 4


def write_corpus(folder: Path, n_train: int, n_test: int, seed: int) -> tuple[Path, list[dict], list[dict]]:
    """Return (train corpus path, train rows, test rows) of a synthetic corpus written to folder."""
    train, test = synthetic.generate_corpus({"n_train": n_train, "n_test": n_test}, seed)
    path = folder / "corpus_train.jsonl"
    write_corpus_jsonl(path, train)
    return path, train, test


def build_model(folder: Path, corpus_path: Path, shape: dict, vocab_rows: int, seed: int) -> Path:
    """Return folder after saving a Qwen2 model of `shape` whose embedding/LM head has vocab_rows rows."""
    settings = tiny_model.merge_settings({**shape, "vocab_size": min(vocab_rows, 8192)})
    tokenizer = tiny_model.build_tokenizer(corpus_path, settings)
    model = tiny_model.build_model(tokenizer, settings, seed)
    if vocab_rows < len(tokenizer):
        raise ValueError(f"vocab_rows = {vocab_rows} is smaller than the tokenizer's {len(tokenizer)} tokens")
    # mean_resizing=False: the new rows are never looked up; a plain normal init keeps the build fast
    model.resize_token_embeddings(vocab_rows, mean_resizing=False)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def chat_overhead_tokens(tokenizer) -> int:
    """Return the tokens a chat example adds around its paper (system, template, answer), plus a margin."""
    empty = prompts.build_messages(SYSTEM_PROMPT, USER_TEMPLATE, "", "Reject")
    return prompts.chat_token_counts([empty], tokenizer)[0] + SEAM_MARGIN_TOKENS


def paper_budgets(n_examples: int, max_tokens: int, overhead_tokens: int, seed: int) -> list[int]:
    """Return paper-token budgets drawn uniformly between half and all of max_tokens minus the overhead."""
    top = max_tokens - overhead_tokens
    if top < 2:
        raise ValueError(
            f"max_tokens = {max_tokens} leaves no room for a paper after {overhead_tokens} tokens"
        )
    rng = np.random.default_rng(seed)
    return [int(n) for n in rng.integers(top // 2, top + 1, size=n_examples)]


def chat_rows(papers: list[dict], tokenizer, n_examples: int, max_tokens: int, seed: int) -> list[dict]:
    """Return n_examples chat rows (make_dataset's format): papers of concatenated abstracts cut to budget."""
    rng = np.random.default_rng([seed, 1])
    budgets = paper_budgets(n_examples, max_tokens, chat_overhead_tokens(tokenizer), seed)
    rows = []
    for index, budget in enumerate(budgets):
        # enough abstracts to exceed the budget (an abstract is ~100-200 tokens of this tokenizer)
        picks = rng.integers(0, len(papers), size=max(1, budget // 40))
        text = "\n\n".join(f"{papers[i]['title']}\n{papers[i]['abstract']}" for i in picks)
        kept = prompts.truncate_texts([text], tokenizer, budget)[0]
        label = "Accept" if str(papers[int(picks[0])]["decision"]).startswith("Accept") else "Reject"
        rows.append(
            {
                "id": f"bench-{max_tokens}-{index}",
                "title": papers[int(picks[0])]["title"],
                "label": label,
                "messages": prompts.build_messages(SYSTEM_PROMPT, USER_TEMPLATE, kept.text, label),
                "n_paper_tokens": min(kept.n_tokens, budget),
                "truncated": kept.truncated,
            }
        )
    return rows


def sharegpt_rows(rows: list[dict]) -> list[dict]:
    """Return the chat rows in LLaMA-Factory's sharegpt format (system + human/gpt turns)."""
    return [
        {
            "system": row["messages"][0]["content"],
            "conversations": [
                {"from": "human", "value": row["messages"][1]["content"]},
                {"from": "gpt", "value": row["messages"][2]["content"]},
            ],
        }
        for row in rows
    ]


def write_llamafactory_dataset(folder: Path, name: str, rows: list[dict]) -> Path:
    """Return folder after writing name.json and a dataset_info.json entry registering it as sharegpt."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(sharegpt_rows(rows), ensure_ascii=False))
    info_path = folder / "dataset_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    info[name] = {
        "file_name": f"{name}.json",
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system"},
    }
    info_path.write_text(json.dumps(info, indent=1))
    return folder


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """Return path after writing rows as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return path

"""Chat examples: the system/user/assistant messages of one paper, with only the paper text truncated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wlf import chat_template
from wlf.errors import InputError

PAPER_SLOT = "{paper}"
BATCH_SIZE = 256  # texts tokenized per call


@dataclass(frozen=True)
class TruncatedText:
    text: str
    n_tokens: int  # tokens of the full text, before truncation
    truncated: bool


def check_user_template(user_template: str) -> None:
    """Raise InputError unless the template has exactly one {paper} slot."""
    count = user_template.count(PAPER_SLOT)
    if count != 1:
        raise InputError(
            f"data.user_template must contain {PAPER_SLOT} exactly once; it contains it {count} times"
        )


def build_messages(
    system_prompt: str, user_template: str, paper_text: str, label: str
) -> list[dict[str, str]]:
    """Return [system, user, assistant] messages; the answer is the label alone."""
    # str.replace, not str.format: templates may hold other braces (JSON examples, LaTeX).
    user = user_template.replace(PAPER_SLOT, paper_text)
    return [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": user},
        {"role": "assistant", "content": label},
    ]


def _batches(items: Sequence, size: int):
    """Yield consecutive slices of items of at most size elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def truncate_texts(texts: Sequence[str], tokenizer, max_tokens: int) -> list[TruncatedText]:
    """Return each text cut to its first max_tokens tokens of tokenizer, cut on a character boundary."""
    if max_tokens < 1:
        raise InputError(f"data.max_paper_tokens = {max_tokens} must be at least 1")
    fast = getattr(tokenizer, "is_fast", False)
    results = []
    # batches bound the memory of token lists: 17k full papers at once would need tens of GB of Python ints
    for batch in _batches(list(texts), BATCH_SIZE):
        encoded = tokenizer(batch, add_special_tokens=False, return_offsets_mapping=fast)
        for index, text in enumerate(batch):
            ids = encoded["input_ids"][index]
            if len(ids) <= max_tokens:
                results.append(TruncatedText(text, len(ids), False))
                continue
            if fast:
                # the end offset of the last kept token: the kept text is an exact prefix of the paper
                kept = text[: encoded["offset_mapping"][index][max_tokens - 1][1]]
            else:
                kept = tokenizer.decode(ids[:max_tokens])
            results.append(TruncatedText(kept.rstrip(), len(ids), True))
    return results


def chat_token_counts(examples_messages: Sequence[list[dict]], tokenizer, model: str) -> list[int]:
    """Return the token count of each conversation as training renders it (prompt, then the checked answer).

    Raises ChatTemplateError naming model when the template renders an answer as anything but the answer and
    the end-of-turn token (wlf.chat_template.render_completion).
    """
    counts = []
    for batch in _batches(list(examples_messages), BATCH_SIZE):
        rendered = [
            chat_template.render_prompt(tokenizer, messages[:-1])
            + chat_template.render_completion(tokenizer, messages[:-1], messages[-1]["content"], model)
            for messages in batch
        ]
        counts.extend(len(ids) for ids in tokenizer(rendered, add_special_tokens=False)["input_ids"])
    return counts

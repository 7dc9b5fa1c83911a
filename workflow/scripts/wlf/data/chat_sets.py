"""Chat datasets (results/data/...jsonl): the one reader every stage uses, validated row by row.

A row is {"id", "label", "messages", ...}: the messages up to the first assistant turn are the prompt; the
assistant turn, when present, must be the last message and answer exactly the label.
"""

from __future__ import annotations

from pathlib import Path

from wlf.errors import InputError
from wlf.files import numbered_rows
from wlf.labels import LABELS

REQUIRED_KEYS = ("id", "label", "messages")


class ChatFileError(InputError):
    """A chat dataset row that breaks the contract; the message names the file and line."""


def prompt_messages(messages, where: str) -> list[dict]:
    """Return the conversation up to (not including) the first assistant turn: what the model answers."""
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in messages
    ):
        raise ChatFileError(f"{where}: messages must be a list of {{role, content}} strings")
    prompt = []
    for message in messages:
        if message["role"] == "assistant":
            break
        prompt.append({"role": message["role"], "content": message["content"]})
    if not any(message["role"] == "user" for message in prompt):
        raise ChatFileError(f"{where}: no user message before the answer")
    return prompt


def check_answer(messages: list[dict], n_prompt: int, label: str, where: str, required: bool) -> None:
    """Raise ChatFileError unless the messages after the prompt are nothing or one assistant turn saying label."""
    answer = messages[n_prompt:]
    if not answer:
        if required:
            raise ChatFileError(f"{where}: messages must end with the assistant's answer")
        return
    if len(answer) > 1:
        raise ChatFileError(f"{where}: messages must end with the only assistant message")
    if answer[0]["content"] != label:
        raise ChatFileError(
            f"{where}: the assistant answer {answer[0]['content']!r} differs from label {label!r}"
        )


def read_chat_set(path: str | Path, require_answer: bool = False) -> list[dict]:
    """Return [{id, label, prompt, line}] of a chat dataset in file order (ChatFileError naming file:line).

    require_answer: every row must end with its answer (a training set); a test set may leave it out.
    """
    path = Path(path)
    if not path.is_file():
        raise ChatFileError(f"{path}: chat dataset not found")
    papers = []
    first_line_of_id: dict[str, int] = {}
    for line_number, where, row in numbered_rows(path, ChatFileError):
        if not isinstance(row, dict):
            raise ChatFileError(f"{where}: expected a JSON object")
        for key in REQUIRED_KEYS:
            if key not in row:
                raise ChatFileError(f"{where}: missing key {key!r}")
        if row["label"] not in LABELS:
            raise ChatFileError(f"{where}: label {row['label']!r} is not one of {', '.join(LABELS)}")
        paper_id = str(row["id"])
        if paper_id in first_line_of_id:
            raise ChatFileError(f"{where}: id {paper_id!r} repeats line {first_line_of_id[paper_id]}")
        first_line_of_id[paper_id] = line_number
        prompt = prompt_messages(row["messages"], where)
        check_answer(row["messages"], len(prompt), row["label"], where, require_answer)
        papers.append({"id": paper_id, "label": row["label"], "prompt": prompt, "line": line_number})
    if not papers:
        raise ChatFileError(f"{path}: holds no papers")
    return papers


def user_text(prompt: list[dict]) -> str:
    """Return the user messages of a prompt joined by blank lines: the paper as the model reads it."""
    return "\n\n".join(message["content"] for message in prompt if message["role"] == "user")

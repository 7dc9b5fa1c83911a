"""The one place a chat becomes the model's text: the prompt that training and inference both render.

The model answers right after its chat template's generation prompt. Training puts the loss on what the
template renders after that prompt for the answer, and inference scores the answer at that same position, so
both render the prompt with render_prompt, with the same keyword arguments (render_kwargs). A template that
reads `enable_thinking` (Qwen3 style) gets enable_thinking=False: its generation prompt then ends with an
empty `<think>\\n\\n</think>\\n\\n` block and the completion is the answer alone. Left at its default,
training would put the loss on `<think>\\n\\n</think>\\n\\nAccept<|im_end|>` while inference scored `Accept`
right after `assistant\\n`. Any template whose completion is not exactly the answer and the end-of-turn
token (plus trailing whitespace) is refused with a ChatTemplateError that shows what it renders.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from wlf.errors import InputError
from wlf.labels import LABELS

END_OF_TURN = "<|im_end|>"  # ChatML's; a template without it ends the assistant turn with the EOS token
THINKING_SWITCH = "enable_thinking"
# transformers' own {% generation %} tags (assistant masks), which a plain jinja2 parser does not know
GENERATION_TAG = re.compile(r"\{%-?\s*(?:end)?generation\s*-?%\}")
PROBE_PROMPT = [{"role": "user", "content": "x"}]


class ChatTemplateError(InputError):
    """A chat template that training and inference cannot share; the message shows what it renders."""


@functools.cache
def template_variables(template: str) -> frozenset[str]:
    """Return the variables a chat template reads from its caller (messages, add_generation_prompt, ...)."""
    import jinja2.meta
    import jinja2.sandbox

    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(extensions=["jinja2.ext.loopcontrols"])
    return frozenset(
        jinja2.meta.find_undeclared_variables(environment.parse(GENERATION_TAG.sub("", template)))
    )


def require_template(tokenizer) -> str | dict:
    """Return the tokenizer's chat template, raising ChatTemplateError when it has none."""
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise ChatTemplateError(f"the tokenizer of {tokenizer.name_or_path!r} has no chat template")
    return template


def render_kwargs(tokenizer) -> dict[str, Any]:
    """Return the keyword arguments of every render: enable_thinking=False for a template that reads it."""
    template = require_template(tokenizer)
    templates = template.values() if isinstance(template, dict) else [template]
    if any(THINKING_SWITCH in template_variables(text) for text in templates):
        return {THINKING_SWITCH: False}
    return {}


def render_prompt(tokenizer, prompt: Sequence[dict]) -> str:
    """Return the text the model answers after: the prompt messages and the assistant generation prompt."""
    return tokenizer.apply_chat_template(
        list(prompt), tokenize=False, add_generation_prompt=True, **render_kwargs(tokenizer)
    )


def end_of_turn_token(tokenizer) -> str:
    """Return the token that closes an assistant turn: ChatML's <|im_end|>, else the EOS token."""
    # not `in get_vocab()`: that builds a dict of the whole vocabulary, 90 ms for Qwen's, on every call
    if tokenizer.convert_tokens_to_ids(END_OF_TURN) not in (None, tokenizer.unk_token_id):
        return END_OF_TURN
    if tokenizer.eos_token is None:
        raise ChatTemplateError(
            f"the tokenizer of {tokenizer.name_or_path!r} has neither {END_OF_TURN} nor an EOS token to end the answer with"
        )
    return tokenizer.eos_token


def end_of_turn_id(tokenizer) -> int:
    """Return the id of end_of_turn_token."""
    return tokenizer.convert_tokens_to_ids(end_of_turn_token(tokenizer))


def render_completion(tokenizer, prompt: Sequence[dict], answer: str, model: str) -> str:
    """Return what the template renders after render_prompt when the assistant answers `answer`, checked.

    Raises ChatTemplateError naming the model and showing the completion unless it is exactly the answer and
    the end-of-turn token, then whitespace: anything else would put the loss on other tokens than inference
    scores.
    """
    prompt_text = render_prompt(tokenizer, prompt)
    full_text = tokenizer.apply_chat_template(
        [*prompt, {"role": "assistant", "content": answer}], tokenize=False, **render_kwargs(tokenizer)
    )
    end = end_of_turn_token(tokenizer)
    expected = answer + end
    if not full_text.startswith(prompt_text):
        raise ChatTemplateError(
            f"the chat template of {model!r} does not render the answer after its generation prompt: the "
            f"prompt ends {prompt_text[-60:]!r}, the conversation with the answer {full_text[-60:]!r}"
        )
    completion = full_text[len(prompt_text) :]
    if not (completion.startswith(expected) and not completion[len(expected) :].strip()):
        kwargs = render_kwargs(tokenizer)
        raise ChatTemplateError(
            f"the chat template of {model!r} renders the answer {answer!r} after the generation prompt as "
            f"{completion!r} (render arguments {kwargs}), not {expected!r}: training would put the loss on other "
            f"tokens than inference scores; use a template whose assistant turn is the answer alone"
        )
    return completion


def encode_prompts(tokenizer, prompts: Sequence[Sequence[dict]]) -> list[list[int]]:
    """Return the token ids of each prompt as render_prompt renders it: what inference feeds the model."""
    texts = [render_prompt(tokenizer, prompt) for prompt in prompts]
    # the template already holds every special token the model expects
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def encode_example(tokenizer, prompt: Sequence[dict], answer: str, model: str) -> dict[str, list[int]]:
    """Return a training example's input_ids and completion_mask (1 on what follows the prompt).

    The prompt's ids are encode_prompts', exactly what inference scores after; the completion is what the
    template renders for the answer (render_completion, checked). Raises ChatTemplateError when the tokenizer
    would merge the answer into the end of the prompt.
    """
    prompt_ids = encode_prompts(tokenizer, [prompt])[0]
    text = render_prompt(tokenizer, prompt) + render_completion(tokenizer, prompt, answer, model)
    input_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if input_ids[: len(prompt_ids)] != prompt_ids:
        raise ChatTemplateError(
            f"the tokenizer of {model!r} merges the answer {answer!r} into the end of the generation prompt"
        )
    return {
        "input_ids": input_ids,
        "completion_mask": [0] * len(prompt_ids) + [1] * (len(input_ids) - len(prompt_ids)),
    }


def answer_token_ids(tokenizer, model: str | None = None) -> list[list[int]]:
    """Return the token ids of each answer in LABELS order, as they follow the generation prompt.

    Taken from encode_example, so each answer's completion is checked and its ids are the ones training puts
    the loss on (in context: a tokenizer may spell a word differently after the generation prompt than alone).
    """
    model = model or tokenizer.name_or_path
    end_id = end_of_turn_id(tokenizer)
    ids = []
    for answer in LABELS:
        example = encode_example(tokenizer, PROBE_PROMPT, answer, model)
        completion = example["input_ids"][len(example["input_ids"]) - sum(example["completion_mask"]) :]
        if end_id not in completion:
            raise ChatTemplateError(
                f"the tokenizer of {model!r} does not encode {end_of_turn_token(tokenizer)!r} as one token"
            )
        answer_ids = completion[: completion.index(end_id)]
        if not answer_ids:
            raise ChatTemplateError(f"the tokenizer of {model!r} turns {answer!r} into no tokens")
        ids.append(answer_ids)
    if ids[0] == ids[1]:
        raise ChatTemplateError(
            f"the tokenizer of {model!r} cannot tell the answers apart: both are {ids[0]}"
        )
    return ids

"""Accept/Reject for every test paper from a fine-tuned causal LM, by scoring or by greedy generation.

Score mode: one prefill per paper gives log P(answer | prompt) for "Accept" and "Reject" (a multi-token answer
sums its teacher-forced token log-probs); P(Accept) is the softmax over the two, and the prediction is Accept
when P(Accept) >= threshold. Generate mode: greedy decoding, parsed by its leading word; anything else is
"invalid" and kept.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

# the prompt and the answers' ids exactly as training renders them: one renderer for both (wlf.chat_template)
from wlf.chat_template import answer_token_ids, encode_prompts
from wlf.errors import InputError
from wlf.evaluation.predictions import thresholded_rows
from wlf.labels import INVALID
from wlf.labels import LABELS as ANSWERS
from wlf.settings import model_keys, resolve_json

LEADING_WORD = re.compile(r"[^A-Za-z]*([A-Za-z]+)")


class InferenceInputError(InputError):
    """Bad settings, prompt or model folder; the message names the key, file:line or paper."""


def parse_settings(text: str) -> dict:
    """Return the infer settings: the schema's defaults updated by the JSON text (SettingsError naming a key)."""
    return resolve_json("inference", text, "infer", model_keys())


def check_lengths(
    papers: Sequence[dict], prompt_ids: Sequence[list[int]], extra_tokens: int, max_length: int, test_file
) -> None:
    """Raise InferenceInputError naming the first paper whose prompt + answer exceeds max_length tokens."""
    for paper, ids in zip(papers, prompt_ids, strict=True):
        if len(ids) + extra_tokens > max_length:
            raise InferenceInputError(
                f"{test_file}:{paper['line']}: paper {paper['id']!r} needs {len(ids) + extra_tokens} tokens "
                f"({len(ids)} prompt + {extra_tokens} answer), more than the model's {max_length}; "
                "lower data.max_paper_tokens"
            )


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Return index batches, longest first: similar lengths pad little, and memory peaks in the first batch."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def right_padded(sequences: Sequence[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (input_ids, attention_mask) with each sequence at the left and padding after it."""
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
    return input_ids.to(device), attention_mask.to(device)


@torch.no_grad()
def answer_log_probs(
    model, prompts: Sequence[list[int]], answers: Sequence[list[int]], pad_id: int
) -> np.ndarray:
    """Return (n_prompts, n_answers) log P(answer | prompt), summing the answer's teacher-forced token log-probs.

    Right padding with causal attention leaves every real position exactly as it is unpadded, and only the
    positions that predict answer tokens go through the output layer (a full-vocabulary logit tensor for
    every position would not fit for long papers).
    """
    device = next(model.parameters()).device
    decoder, output_layer = model.get_decoder(), model.get_output_embeddings()
    # answers of one token share a single prefill; longer ones need their own teacher-forced pass each
    groups = (
        [list(range(len(answers)))]
        if all(len(a) == 1 for a in answers)
        else [[a] for a in range(len(answers))]
    )
    log_probs = np.zeros((len(prompts), len(answers)))
    for group in groups:
        forced = answers[group[0]][:-1]
        inputs = [list(prompt) + list(forced) for prompt in prompts]
        input_ids, attention_mask = right_padded(inputs, pad_id, device)
        hidden = decoder(
            input_ids=input_ids, attention_mask=attention_mask, use_cache=False
        ).last_hidden_state
        n_answer_tokens = len(forced) + 1
        # position len(prompt) - 1 + j predicts answer token j
        starts = torch.tensor([len(prompt) - 1 for prompt in prompts], device=device)
        positions = starts[:, None] + torch.arange(n_answer_tokens, device=device)[None, :]
        gathered = hidden[torch.arange(len(prompts), device=device)[:, None], positions]
        token_log_probs = torch.log_softmax(output_layer(gathered).float(), dim=-1)
        for answer_index in group:
            targets = torch.tensor(answers[answer_index], device=device)
            picked = token_log_probs[:, torch.arange(len(targets), device=device), targets]
            log_probs[:, answer_index] = picked.sum(dim=1).cpu().numpy()
    return log_probs


def p_accept_of(log_probs: np.ndarray) -> np.ndarray:
    """Return P(Accept) = softmax over the two answers' log-probs, column 0 being Accept."""
    return torch.softmax(torch.from_numpy(log_probs), dim=1)[:, 0].numpy()


def score_papers(
    model,
    prompt_ids: Sequence[list[int]],
    answers: Sequence[list[int]],
    pad_id: int,
    batch_size: int,
    progress: tqdm | None = None,
) -> np.ndarray:
    """Return P(Accept) of every prompt, in input order, computed in length-sorted batches."""
    p_accept = np.zeros(len(prompt_ids))
    for batch in length_sorted_batches([len(ids) for ids in prompt_ids], batch_size):
        log_probs = answer_log_probs(model, [prompt_ids[i] for i in batch], answers, pad_id)
        p_accept[batch] = p_accept_of(log_probs)
        if progress is not None:
            progress.update(len(batch))
    return p_accept


def parse_answer(text: str | None) -> str:
    """Return "Accept"/"Reject" from the answer's leading word (case-insensitive), else "invalid"."""
    match = LEADING_WORD.match(text or "")
    if match is None:
        return INVALID
    return {answer.lower(): answer for answer in ANSWERS}.get(match.group(1).lower(), INVALID)


@torch.no_grad()
def generate_answers(
    model,
    tokenizer,
    prompt_ids: Sequence[list[int]],
    batch_size: int,
    max_new_tokens: int,
    pad_id: int,
    progress: tqdm | None = None,
) -> list[str]:
    """Return the greedy continuation of every prompt (special tokens dropped), in input order."""
    from transformers import GenerationConfig

    device = next(model.parameters()).device
    generation = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=pad_id,
        eos_token_id=model.generation_config.eos_token_id,
    )
    answers: list[str] = [""] * len(prompt_ids)
    for batch in length_sorted_batches([len(ids) for ids in prompt_ids], batch_size):
        width = max(len(prompt_ids[i]) for i in batch)
        # generation appends to the right, so prompts are padded on the left
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, index in enumerate(batch):
            ids = prompt_ids[index]
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, width - len(ids) :] = 1
        output = model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            generation_config=generation,
        )
        texts = tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
        for index, text in zip(batch, texts, strict=True):
            answers[index] = text.strip()
        if progress is not None:
            progress.update(len(batch))
    return answers


def load_model(model_dir: str | Path, trust_remote_code: bool):
    """Return (model, tokenizer) of full weights (a folder or a hub id) or a LoRA adapter (merged), bf16 on CUDA,
    fp32 on CPU, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from wlf.model_source import HUB_ID

    # a hub id too: the zero-shot reference infers with the base model itself (model.name_or_path)
    hub_id = not Path(model_dir).is_dir() and HUB_ID.match(str(model_dir)) is not None
    if not Path(model_dir).is_dir() and not hub_id:
        raise InferenceInputError(f"model folder {model_dir} does not exist")
    model_dir = str(model_dir) if hub_id else Path(model_dir)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if not hub_id and (model_dir / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM

        # the adapter names its base model; merging makes inference as fast as a full model
        model = AutoPeftModelForCausalLM.from_pretrained(
            model_dir, dtype=dtype, trust_remote_code=trust_remote_code
        ).merge_and_unload()
    elif hub_id or (model_dir / "config.json").exists():
        model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=dtype, trust_remote_code=trust_remote_code
        )
    else:
        raise InferenceInputError(
            f"{model_dir} holds neither config.json (full weights) nor adapter_config.json (LoRA)"
        )
    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    return model.to(device).eval(), tokenizer


def pad_token_id(tokenizer) -> int:
    """Return the padding id: the tokenizer's pad token, else its end-of-sequence token (never attended to)."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return int(candidate)
    raise InferenceInputError(
        f"the tokenizer of {tokenizer.name_or_path!r} has neither a pad nor an eos token"
    )


def predict(model, tokenizer, papers: Sequence[dict], settings: dict, test_file="test set") -> list[dict]:
    """Return one prediction row per paper, in paper order, after checking every prompt fits the model."""
    prompt_ids = encode_prompts(tokenizer, [paper["prompt"] for paper in papers])
    max_length = settings["max_length"] or getattr(model.config, "max_position_embeddings", None)
    score = settings["mode"] == "score"
    answers = answer_token_ids(tokenizer) if score else None
    extra_tokens = max(len(a) for a in answers) - 1 if score else settings["max_new_tokens"]
    if max_length is not None:
        check_lengths(papers, prompt_ids, extra_tokens, int(max_length), test_file)
    pad_id = pad_token_id(tokenizer)
    with tqdm(
        total=len(papers), desc=f"infer ({settings['mode']})", unit="paper", file=sys.stderr
    ) as progress:
        if score:
            p_accept = score_papers(model, prompt_ids, answers, pad_id, settings["batch_size"], progress)
            return thresholded_rows(papers, p_accept, settings["threshold"])
        texts = generate_answers(
            model, tokenizer, prompt_ids, settings["batch_size"], settings["max_new_tokens"], pad_id, progress
        )
    return [
        {
            "id": paper["id"],
            "label": paper["label"],
            "pred": parse_answer(text),
            "p_accept": None,
            "raw_answer": text,
        }
        for paper, text in zip(papers, texts, strict=True)
    ]

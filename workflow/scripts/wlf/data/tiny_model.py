"""Embedded tiny model: a byte-level BPE tokenizer trained on the corpus plus a random-init Qwen2ForCausalLM."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from wlf.errors import InputError
from wlf.files import replace_dir
from wlf.labels import LABELS
from wlf.settings import resolve

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END]
# Qwen2's pre-tokenizer split: letters with one leading non-letter, single digits, punctuation runs, newlines.
PRETOKENIZE_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
# ChatML as Qwen2.5 renders it (without tools). The assistant reply and its <|im_end|> sit inside
# {% generation %} so that TRL's assistant_only_loss trains exactly the answer and the stop token.
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant' }}"
    "{%- generation %}"
    "{{- '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endgeneration %}"
    "{%- elif not (message['role'] == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)
# Repeating the answers makes BPE merge each into one token, as they appear after "<|im_start|>assistant\n".
ANSWER_REPEATS = 200
EXTRA_REPEATS = 20


def merge_settings(given: dict) -> dict:
    """Return the model sizes: the schema's defaults updated with given, raising ValueError on a bad size."""
    settings = resolve("tiny_model", given, "model.tiny")
    if settings["hidden_size"] % settings["num_attention_heads"]:
        raise InputError(
            f"model.tiny.hidden_size = {settings['hidden_size']} is not divisible by "
            f"num_attention_heads = {settings['num_attention_heads']}"
        )
    if settings["num_attention_heads"] % settings["num_key_value_heads"]:
        raise InputError(
            f"model.tiny.num_attention_heads = {settings['num_attention_heads']} is not divisible by "
            f"num_key_value_heads = {settings['num_key_value_heads']}"
        )
    return settings


def _strings(value) -> list[str]:
    """Return every string inside a JSON value (row fields, message contents), in a stable order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in sorted(value.items()) if key != "id" for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def corpus_texts(corpus_path: str | Path, extra_texts: list[str] = ()) -> list[str]:
    """Return the texts the tokenizer learns from: the corpus strings, the extra texts, then the answers."""
    path = Path(corpus_path)
    if not path.is_file():
        raise InputError(f"{path}: corpus file does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        rows = (
            json.loads(text)
            if text.lstrip().startswith("[")
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path}: the tokenizer corpus must be JSON lines or a JSON list ({error})"
        ) from None
    texts = _strings(rows)
    if not texts:
        raise InputError(f"{path}: corpus holds no text")
    # the prompts appear in every example, so learning their words shortens every example
    texts.extend(text for text in extra_texts for _ in range(EXTRA_REPEATS))
    texts.extend(f"assistant\n{word}" for word in LABELS for _ in range(ANSWER_REPEATS))
    return texts


def train_bpe(texts: list[str], vocab_size: int):
    """Return a byte-level BPE `tokenizers.Tokenizer` with Qwen2's pre-tokenizer, trained on texts."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import BpeTrainer

    tokenizer = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tokenizer


def wrap_tokenizer(bpe, model_max_length: int):
    """Return the BPE tokenizer as a transformers Qwen2Tokenizer with the ChatML template and Qwen2.5's tokens."""
    from transformers import Qwen2Tokenizer

    vocab = bpe.get_vocab()
    merges = [tuple(pair) for pair in json.loads(bpe.to_str())["model"]["merges"]]
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        bos_token=None,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        extra_special_tokens=[IM_START, IM_END],
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
        errors="replace",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def answer_token_ids(tokenizer) -> dict[str, list[int]]:
    """Return the token ids each answer word gets right after the assistant generation prompt."""
    prefix = tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True
    )
    n_prefix = len(tokenizer(prefix, add_special_tokens=False)["input_ids"])
    return {
        word: tokenizer(prefix + word, add_special_tokens=False)["input_ids"][n_prefix:] for word in LABELS
    }


def build_tokenizer(corpus_path: str | Path, settings: dict, extra_texts: list[str] = ()):
    """Return the trained, wrapped tokenizer, raising InputError unless Accept and Reject are single tokens."""
    bpe = train_bpe(corpus_texts(corpus_path, extra_texts), int(settings["vocab_size"]))
    tokenizer = wrap_tokenizer(bpe, int(settings["max_position_embeddings"]))
    answers = answer_token_ids(tokenizer)
    if any(len(ids) != 1 for ids in answers.values()):
        raise InputError(f"answers are not single tokens after the assistant prompt: {answers}")
    return tokenizer


def qwen2_model(config_kwargs: dict, endoftext_id: int, im_end_id: int, seed: int):
    """Return a seeded random-init Qwen2ForCausalLM of config_kwargs, with Qwen2.5-Instruct's special ids.

    As Qwen2.5-Instruct: <|endoftext|> is bos and pad, <|im_end|> ends a turn, and generation is greedy by
    default and stops on either end token.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        **config_kwargs, bos_token_id=endoftext_id, eos_token_id=im_end_id, pad_token_id=endoftext_id
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=endoftext_id,
        eos_token_id=[im_end_id, endoftext_id],
        pad_token_id=endoftext_id,
        do_sample=False,
    )
    return model


def build_model(tokenizer, settings: dict, seed: int):
    """Return a seeded random-init Qwen2ForCausalLM sized by settings, its ids matching the tokenizer."""
    im_end, endoftext = tokenizer.convert_tokens_to_ids([IM_END, ENDOFTEXT])
    sizes = {
        key: int(settings[key])
        for key in (
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "max_position_embeddings",
        )
    }
    config_kwargs = {
        "vocab_size": len(tokenizer),
        **sizes,
        "tie_word_embeddings": bool(settings["tie_word_embeddings"]),
    }
    return qwen2_model(config_kwargs, endoftext, im_end, seed)


def build_tiny_model(
    corpus_path: str | Path, settings: dict, seed: int, output_dir: str | Path, extra_texts: list[str] = ()
) -> Path:
    """Train the tokenizer, build the model and save both (safetensors) into output_dir; return it."""
    settings = merge_settings(settings)
    tokenizer = build_tokenizer(corpus_path, settings, extra_texts)
    model = build_model(tokenizer, settings, seed)
    output_dir = Path(output_dir)
    # build in a sibling folder and swap it in, so a failed run never leaves a half-saved model
    staging = output_dir.with_name(f".{output_dir.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    tokenizer.save_pretrained(staging)
    model.save_pretrained(staging, safe_serialization=True)
    replace_dir(staging, output_dir)
    return output_dir

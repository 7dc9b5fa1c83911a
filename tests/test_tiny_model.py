"""The embedded tiny model: loads offline, renders ChatML, answers are single tokens, TRL can mask them."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import tiny_model as tiny_model_cli
from wlf.data import tiny_model
from wlf.settings import defaults

MESSAGES = [
    {"role": "system", "content": "You review papers."},
    {"role": "user", "content": "Title: Graph Nets\n\nAbstract: We study graphs."},
    {"role": "assistant", "content": "Accept"},
]


@pytest.fixture(scope="module")
def tokenizer(data_tiny_model):
    return AutoTokenizer.from_pretrained(data_tiny_model)


@pytest.fixture(scope="module")
def model(data_tiny_model):
    return AutoModelForCausalLM.from_pretrained(data_tiny_model)


def test_tokenizer_loads_offline_with_qwen_special_tokens(tokenizer):
    assert type(tokenizer).__name__ == "Qwen2Tokenizer"
    assert (tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token) == (
        "<|im_end|>",
        "<|endoftext|>",
        None,
    )
    assert tokenizer.convert_ids_to_tokens(tokenizer("<|im_start|>user")["input_ids"])[0] == "<|im_start|>"
    assert 1000 < len(tokenizer) <= defaults("tiny_model")["vocab_size"]


def test_chat_template_renders_chatml(tokenizer):
    assert tokenizer.apply_chat_template(MESSAGES, tokenize=False) == (
        "<|im_start|>system\nYou review papers.<|im_end|>\n"
        "<|im_start|>user\nTitle: Graph Nets\n\nAbstract: We study graphs.<|im_end|>\n"
        "<|im_start|>assistant\nAccept<|im_end|>\n"
    )
    prompt = tokenizer.apply_chat_template(MESSAGES[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("We study graphs.<|im_end|>\n<|im_start|>assistant\n")
    default_system = tokenizer.apply_chat_template(MESSAGES[1:2], tokenize=False)
    assert default_system.startswith(
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    )


def test_accept_and_reject_are_single_distinct_tokens_after_the_prompt(tokenizer):
    answers = tiny_model.answer_token_ids(tokenizer)
    assert [len(ids) for ids in answers.values()] == [1, 1]
    assert answers["Accept"] != answers["Reject"]
    assert tokenizer.convert_ids_to_tokens(answers["Accept"] + answers["Reject"]) == ["Accept", "Reject"]


def test_assistant_mask_covers_exactly_the_answer_and_its_end_token(tokenizer):
    from trl.chat_template_utils import (
        get_training_chat_template,
        has_generation_markers,
        is_chat_template_stop_token_trained,
    )

    encoded = tokenizer.apply_chat_template(
        MESSAGES, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    masked = [
        token for token, keep in zip(encoded["input_ids"], encoded["assistant_masks"], strict=True) if keep
    ]
    assert tokenizer.convert_ids_to_tokens(masked) == ["Ċ", "Accept", "<|im_end|>", "Ċ"]
    # TRL keeps this template as it is (no swap) and trains the stop token
    assert has_generation_markers(tokenizer.chat_template)
    assert get_training_chat_template(tokenizer) is None
    assert is_chat_template_stop_token_trained(tokenizer)


def test_model_has_configured_sizes_and_runs_a_forward_pass(model, tokenizer):
    config = model.config
    assert (
        config.hidden_size,
        config.num_hidden_layers,
        config.num_attention_heads,
        config.num_key_value_heads,
        config.intermediate_size,
        config.max_position_embeddings,
    ) == (64, 2, 4, 2, 128, 512)
    assert config.tie_word_embeddings and config.vocab_size == len(tokenizer)
    assert config.eos_token_id == tokenizer.eos_token_id and config.pad_token_id == tokenizer.pad_token_id
    ids = tokenizer.apply_chat_template(MESSAGES, tokenize=True, return_dict=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**ids).logits
    assert logits.shape == (1, ids["input_ids"].shape[1], len(tokenizer))
    assert torch.isfinite(logits).all()


def test_same_seed_builds_byte_identical_files(data_corpus, data_tiny_model, tmp_path):
    from conftest import DATA_MODEL_SEED, DATA_MODEL_SETTINGS

    again = tiny_model.build_tiny_model(
        data_corpus[0], DATA_MODEL_SETTINGS, DATA_MODEL_SEED, tmp_path / "again"
    )
    names = sorted(path.name for path in data_tiny_model.iterdir())
    assert names == sorted(path.name for path in again.iterdir())
    assert "model.safetensors" in names and "tokenizer.json" in names
    for name in names:
        assert (again / name).read_bytes() == (data_tiny_model / name).read_bytes(), name


def test_cli_reports_bad_settings_and_missing_corpus(tmp_path, capsys, data_corpus):
    out = tmp_path / "model"
    bad = json.dumps({"hidden_size": 66})
    assert (
        tiny_model_cli.main(
            ["--corpus", str(data_corpus[0]), "--settings", bad, "--seed", "0", "--output-dir", str(out)]
        )
        == 2
    )
    assert (
        "model.tiny.hidden_size = 66 is not divisible by num_attention_heads = 4" in capsys.readouterr().err
    )
    assert (
        tiny_model_cli.main(
            ["--corpus", str(tmp_path / "none.jsonl"), "--seed", "0", "--output-dir", str(out)]
        )
        == 2
    )
    assert "none.jsonl: corpus file does not exist" in capsys.readouterr().err
    assert not out.exists()


def test_template_renders_and_masks_like_qwen2_5_and_trls_training_variant(tokenizer):
    from trl.chat_template_utils import qwen2_5_chat_template, qwen2_5_training_chat_template

    ours = tokenizer.apply_chat_template(MESSAGES, tokenize=False)
    assert ours == tokenizer.apply_chat_template(
        MESSAGES, tokenize=False, chat_template=qwen2_5_chat_template
    )
    masks = [
        tokenizer.apply_chat_template(
            MESSAGES,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
            chat_template=template,
        )
        for template in (None, qwen2_5_training_chat_template)
    ]
    assert masks[0]["input_ids"] == masks[1]["input_ids"]
    assert masks[0]["assistant_masks"] == masks[1]["assistant_masks"]


def test_extra_texts_such_as_prompts_join_the_tokenizer_corpus(data_corpus):
    texts = tiny_model.corpus_texts(data_corpus[0], ["Decide whether the submission is accepted."])
    assert texts.count("Decide whether the submission is accepted.") == tiny_model.EXTRA_REPEATS
    assert texts.count("assistant\nAccept") == tiny_model.ANSWER_REPEATS


def test_cli_rejects_extra_texts_that_are_not_a_list_of_strings(tmp_path, capsys, data_corpus):
    argv = ["--corpus", str(data_corpus[0]), "--seed", "0", "--output-dir", str(tmp_path / "m")]
    assert tiny_model_cli.main([*argv, "--extra-texts", '{"a": 1}']) == 2
    assert "--extra-texts must be a JSON list of strings" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()

"""The production-shaped stand-in (Qwen2.5's real tokenizer, template and 152,064-row head) through the chain.

make_dataset on long papers cut at data.max_paper_tokens, train one step, infer in both modes, evaluate; with
Qwen2.5's template and with a Qwen3-style one (rendered with enable_thinking=False); and the templates that are
refused because their completion is not the answer and the end-of-turn token.
"""

import json

import pytest

from model_chain import infer_and_evaluate, loss_positions, make_set, prepared_examples, rows_of, train
from standin_model import (
    QWEN3_STYLE_CHAT_TEMPLATE,
    QWEN25_CHAT_TEMPLATE,
    VOCAB_SIZE,
    build_standin_model,
    with_chat_template,
)
from wlf import chat_template
from wlf.data.chat_sets import read_chat_set
from wlf.evaluation import inference

# Qwen2.5's ids: the answers are single tokens of the real BPE, the turn ends with <|im_end|>
ACCEPT_ID, REJECT_ID, IM_END_ID, ENDOFTEXT_ID = 16646, 78413, 151645, 151643
ANSWER_IDS = {"Accept": ACCEPT_ID, "Reject": REJECT_ID}
MAX_PAPER_TOKENS = 48
DATA_SETTINGS = {"max_paper_tokens": MAX_PAPER_TOKENS, "max_examples": 8}
# one optimizer step over the 8 examples
TRAIN_SETTINGS = {
    "max_steps": 1,
    "per_device_train_batch_size": 8,
    "logging_steps": 1,
    "max_length": 512,
    "report_to": "none",
}
EXPERIMENT = {"name": "accept_gamma2.0_prop1_2", "prop": "1_2", "variant": "accept", "gamma": 2.0}
TEMPLATES = {"qwen2.5": QWEN25_CHAT_TEMPLATE, "qwen3-style": QWEN3_STYLE_CHAT_TEMPLATE}
RENDER_KWARGS = {"qwen2.5": {}, "qwen3-style": {"enable_thinking": False}}


@pytest.fixture(scope="module", params=list(TEMPLATES))
def chain(request, standin_model, alpaca_corpus, tmp_path_factory):
    """Return the folder of a finished chain on the stand-in with one chat template: data, model, predictions."""
    folder = tmp_path_factory.mktemp(f"chain-{request.param}")
    model = with_chat_template(standin_model, folder / "base", TEMPLATES[request.param])
    train_source, test_source = alpaca_corpus
    assert make_set(folder, model, "train", train_source, DATA_SETTINGS, test_source)[0] == 0
    assert make_set(folder, model, "test", test_source, DATA_SETTINGS)[0] == 0
    train(folder / "train.jsonl", model, TRAIN_SETTINGS, folder / "model")
    for mode in ("score", "generate"):
        settings = {"mode": mode, "batch_size": 4}
        infer_and_evaluate(folder / "model", folder / "test.jsonl", settings, EXPERIMENT, folder, mode)
    return {"folder": folder, "base": model, "template": request.param}


# ---- the stand-in itself ----
def test_standin_has_qwen25s_vocabulary_template_and_untied_head(standin_model):
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(standin_model)
    config = AutoConfig.from_pretrained(standin_model)
    assert len(tokenizer) == 151665 and config.vocab_size == VOCAB_SIZE == 152064
    assert config.tie_word_embeddings is False
    assert (tokenizer.eos_token, tokenizer.eos_token_id) == ("<|im_end|>", IM_END_ID)
    assert (tokenizer.pad_token, tokenizer.pad_token_id) == ("<|endoftext|>", ENDOFTEXT_ID)
    # Qwen3's <think> is no token of Qwen2.5's: it is spelled with ordinary BPE pieces
    assert len(tokenizer("<think>", add_special_tokens=False)["input_ids"]) > 1
    assert tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False) == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
    )


def test_standin_builds_the_same_weights_from_the_same_seed(standin_model, tmp_path):
    again = build_standin_model(tmp_path / "again")
    assert (again / "model.safetensors").read_bytes() == (standin_model / "model.safetensors").read_bytes()


def test_answers_are_qwens_real_single_tokens_and_qwen25_needs_no_render_arguments(standin_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(standin_model)
    assert chat_template.answer_token_ids(tokenizer) == [[ACCEPT_ID], [REJECT_ID]]
    assert chat_template.render_kwargs(tokenizer) == {}


def test_enable_thinking_is_found_among_the_variables_a_template_reads_not_in_its_text():
    from wlf.data.tiny_model import CHAT_TEMPLATE as TINY_CHAT_TEMPLATE

    assert "enable_thinking" in chat_template.template_variables(QWEN3_STYLE_CHAT_TEMPLATE)
    commented = "{# enable_thinking is not read #}" + QWEN25_CHAT_TEMPLATE
    assert "enable_thinking" not in chat_template.template_variables(commented)
    # transformers' {% generation %} tags, unknown to plain jinja2, do not stop the parse
    assert {"messages", "add_generation_prompt"} <= chat_template.template_variables(TINY_CHAT_TEMPLATE)


# ---- the chain, with Qwen2.5's template and with a Qwen3-style one ----
def test_long_papers_are_cut_at_max_paper_tokens_and_the_answer_survives(chain):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(chain["base"])
    for split in ("train", "test"):
        rows = rows_of(chain["folder"] / f"{split}.jsonl")
        stats = json.loads((chain["folder"] / f"{split}_stats.json").read_text())
        assert len(rows) == stats["n_truncated"] == 8
        assert stats["chat_template_kwargs"] == RENDER_KWARGS[chain["template"]]
        for row in rows:
            system, user, answer = row["messages"]
            paper = user["content"].split("\n\n", 1)[1]  # after the instruction of the user template
            assert row["truncated"] and row["n_paper_tokens"] > MAX_PAPER_TOKENS
            assert len(tokenizer(paper, add_special_tokens=False)["input_ids"]) <= MAX_PAPER_TOKENS
            assert answer == {"role": "assistant", "content": row["label"]}


def test_training_puts_the_loss_on_exactly_the_answer_and_im_end_where_inference_scores(chain, tmp_path):
    tokenizer, papers, examples = prepared_examples(
        chain["base"], chain["folder"] / "train.jsonl", tmp_path, TRAIN_SETTINGS
    )
    inference_prompts = inference.encode_prompts(tokenizer, [paper["prompt"] for paper in papers])
    answers = dict(zip(("Accept", "Reject"), inference.answer_token_ids(tokenizer), strict=True))
    assert answers == {"Accept": [ACCEPT_ID], "Reject": [REJECT_ID]}
    assert {paper["label"] for paper in papers} == {"Accept", "Reject"}
    for paper, prompt_ids, example in zip(papers, inference_prompts, examples, strict=True):
        labelled = loss_positions(example)
        # the loss: exactly the answer token and <|im_end|>, the last two tokens of the example
        assert [example["labels"][p] for p in labelled] == [ANSWER_IDS[paper["label"]], IM_END_ID]
        assert labelled == [len(example["input_ids"]) - 2, len(example["input_ids"]) - 1]
        # inference scores the answer after exactly the tokens training puts before it
        assert example["input_ids"][: labelled[0]] == prompt_ids


def test_qwen3_style_prompts_end_with_an_empty_think_block_and_qwen25s_with_the_assistant_turn(chain):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(chain["folder"] / "model")  # the trained model's own template
    prompt = read_chat_set(chain["folder"] / "test.jsonl")[0]["prompt"]
    text = tokenizer.decode(inference.encode_prompts(tokenizer, [prompt])[0])
    ending = {
        "qwen2.5": "<|im_start|>assistant\n",
        "qwen3-style": "<|im_start|>assistant\n<think>\n\n</think>\n\n",
    }
    assert text.endswith("<|im_end|>\n" + ending[chain["template"]])


def test_chain_trains_one_step_infers_in_both_modes_and_evaluates(chain):
    folder = chain["folder"]
    summary = json.loads((folder / "model" / "train_summary.json").read_text())
    assert summary["steps"] == summary["max_steps"] == 1 and summary["examples"] == 8
    assert summary["chat_template_kwargs"] == RENDER_KWARGS[chain["template"]]
    assert summary["final_loss"] > 0
    test_ids = [row["id"] for row in rows_of(folder / "test.jsonl")]
    scored = rows_of(folder / "predictions_score.jsonl")
    assert [row["id"] for row in scored] == test_ids
    assert all(0.0 < row["p_accept"] < 1.0 and row["pred"] in ("Accept", "Reject") for row in scored)
    generated = rows_of(folder / "predictions_generate.jsonl")
    assert [row["id"] for row in generated] == test_ids
    assert all(row["p_accept"] is None and isinstance(row["raw_answer"], str) for row in generated)
    for mode in ("score", "generate"):
        metrics = json.loads((folder / f"metrics_{mode}.json").read_text())
        assert metrics["n"] == 8 and 0.0 <= metrics["accuracy"] <= 1.0
    assert json.loads((folder / "metrics_score.json").read_text())["has_probabilities"] is True


# ---- templates that training and inference cannot share ----
REFUSED = {
    # a word before the answer: the loss would fall on it, while inference scores the answer after the prompt
    "text-before-the-answer": (
        QWEN25_CHAT_TEMPLATE.replace(
            "'<|im_start|>' + message['role'] + '\\n' + message['content']",
            "'<|im_start|>' + message['role'] + '\\n' + ('Decision: ' if message['role'] == 'assistant' else '')"
            " + message['content']",
        ),
        "'Decision: Accept<|im_end|>\\n'",
    ),
    # Qwen3's thinking block without the enable_thinking switch that would put it into the prompt
    "thinking-without-its-switch": (
        QWEN3_STYLE_CHAT_TEMPLATE.replace("enable_thinking is defined and enable_thinking is false", "false"),
        "'<think>\\n\\n</think>\\n\\nAccept<|im_end|>\\n'",
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_template_whose_completion_is_not_the_answer_is_refused_naming_the_model(
    name, standin_model, alpaca_corpus, tmp_path, capsys
):
    template, completion = REFUSED[name]
    model = with_chat_template(standin_model, tmp_path / name, template)
    train_source, test_source = alpaca_corpus
    code, output, stats = make_set(tmp_path, model, "train", train_source, DATA_SETTINGS, test_source)
    error = capsys.readouterr().err
    assert code == 2 and not output.exists() and not stats.exists()
    assert error.count("\n") == 1 and error.startswith(
        f"make_dataset: error: the chat template of {str(model)!r} renders the answer "
    )
    assert f"after the generation prompt as {completion}" in error and "not 'Accept<|im_end|>'" in error

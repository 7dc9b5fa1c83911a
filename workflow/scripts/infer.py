"""Predict Accept/Reject for every test paper with a fine-tuned causal LM, by scoring or by greedy generation.

Score mode: one prefill per paper gives log P(answer | prompt) for "Accept" and "Reject" (a multi-token answer
sums its teacher-forced token log-probs); P(Accept) is the softmax over the two, and the prediction is Accept
when P(Accept) >= threshold. Generate mode: greedy decoding, parsed by its leading word; anything else is
"invalid" and kept.
"""

from __future__ import annotations

import argparse
import sys
import time

from wlf.chat_template import render_kwargs
from wlf.data.chat_sets import read_chat_set
from wlf.errors import one_line_errors
from wlf.evaluation.inference import load_model, parse_settings, predict
from wlf.files import check_output_paths, write_jsonl
from wlf.labels import ACCEPT, INVALID


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="results/models/{exp}: full weights or a LoRA adapter")
    parser.add_argument("--test-file", required=True, help="chat test set JSONL (results/data/test.jsonl)")
    parser.add_argument("--settings", default="{}", help="JSON of config `infer` (+ trust_remote_code)")
    parser.add_argument("--output", required=True, help="prediction JSONL to write")
    return parser.parse_args(argv)


@one_line_errors("infer")
def main(argv=None) -> int:
    args = parse_args(argv)
    check_output_paths(files=[args.output])
    settings = parse_settings(args.settings)
    papers = read_chat_set(args.test_file)
    model, tokenizer = load_model(args.model, settings["trust_remote_code"])
    started = time.perf_counter()
    rows = predict(model, tokenizer, papers, settings, args.test_file)
    elapsed_s = time.perf_counter() - started
    write_jsonl(args.output, rows)
    n_accept = sum(row["pred"] == ACCEPT for row in rows)
    n_invalid = sum(row["pred"] == INVALID for row in rows)
    print(
        f"{args.model}: {len(rows)} papers in {elapsed_s:.1f} s ({len(rows) / max(elapsed_s, 1e-9):.2f} examples/s) "
        f"on {next(model.parameters()).device}, mode {settings['mode']}: {n_accept} Accept, {n_invalid} invalid; "
        f"chat template arguments {render_kwargs(tokenizer)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build a chat dataset (train set of accept fraction 1/N, or the test set) from a paper source, with stats."""

from __future__ import annotations

import argparse
import json
import sys

from wlf.data.dataset import make_dataset, merge_settings
from wlf.errors import one_line_errors
from wlf.files import check_output_paths, jsonl_text, write_together
from wlf.settings import resolve_object


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=("train", "test"), required=True)
    parser.add_argument(
        "--prop", help="proportion 1_N (train only): the set's accept fraction is exactly 1/N"
    )
    parser.add_argument("--source", required=True, help="paper source: file or load_from_disk folder")
    parser.add_argument("--test-source", help="test source (train only), checked for overlap with the source")
    parser.add_argument("--model", required=True, help="model path or hub id whose tokenizer measures tokens")
    parser.add_argument("--settings", default="{}", help="JSON of the config `data` section")
    parser.add_argument(
        "--max-length",
        type=int,
        help="longest example in tokens the next stage accepts: train.max_length (train); infer.max_length "
        "(test; default: the model's context length)",
    )
    parser.add_argument("--output", required=True, help="output JSONL of chat examples")
    parser.add_argument("--stats", required=True, help="output stats JSON")
    return parser.parse_args(argv)


@one_line_errors("make_dataset")
def main(argv=None) -> int:
    args = parse_args(argv)
    check_output_paths(files=[args.output, args.stats])
    settings = merge_settings(resolve_object(args.settings, "data settings"))
    examples, stats = make_dataset(
        args.split, args.source, args.model, settings, args.prop, args.test_source, args.max_length
    )
    # the set and its stats appear together or not at all
    write_together(
        {args.output: jsonl_text(examples), args.stats: json.dumps(stats, indent=2, sort_keys=True) + "\n"}
    )
    print(
        f"make_dataset: {args.split} {args.prop or ''} wrote {stats['n_examples']} examples "
        f"(accept fraction {stats['accept_fraction']:.4f}, {stats['n_truncated']} truncated) to {args.output}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

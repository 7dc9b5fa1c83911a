"""Write the synthetic ICLR-like corpus of the embedded default: a balanced training split and a test split."""

from __future__ import annotations

import argparse
import sys

from wlf.data.synthetic import generate_corpus
from wlf.errors import one_line_errors
from wlf.files import check_output_paths, jsonl_text, write_together
from wlf.settings import resolve_object


@one_line_errors("synthetic_corpus")
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", default="{}", help="JSON of the config data.synthetic section")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--train-out", required=True)
    parser.add_argument("--test-out", required=True)
    args = parser.parse_args(argv)
    check_output_paths(files=[args.train_out, args.test_out])
    train, test = generate_corpus(resolve_object(args.settings, "data.synthetic settings"), args.seed)
    write_together({args.train_out: jsonl_text(train), args.test_out: jsonl_text(test)})
    print(f"synthetic_corpus: {len(train)} train and {len(test)} test papers", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

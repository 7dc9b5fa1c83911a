"""Write the synthetic ICLR-like corpus of the embedded default: a balanced training split and a test split."""

from __future__ import annotations

import argparse
import json
import sys

from wlf.data.synthetic import generate_corpus
from wlf.files import write_jsonl


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", default="{}", help="JSON of the config data.synthetic section")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--train-out", required=True)
    parser.add_argument("--test-out", required=True)
    args = parser.parse_args(argv)
    try:
        train, test = generate_corpus(json.loads(args.settings), args.seed)
    except ValueError as error:
        print(f"synthetic_corpus: error: {error}", file=sys.stderr)
        return 2
    write_jsonl(args.train_out, train)
    write_jsonl(args.test_out, test)
    print(f"synthetic_corpus: {len(train)} train and {len(test)} test papers", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

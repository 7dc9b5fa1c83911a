"""Write the prior-shift counterpart of an experiment: the baseline's P(Accept) moved by the odds its weighting
and training mix imply (see wlf.evaluation.priorshift), thresholded like the fine-tuned model."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from wlf.errors import InputError, one_line_errors
from wlf.evaluation.predictions import read_predictions
from wlf.evaluation.priorshift import CLIP, odds_factor, shifted_rows
from wlf.experiments import PRIORSHIFT, parse_experiment_json
from wlf.files import check_output_paths, json_text, jsonl_text, write_together
from wlf.labels import ACCEPT


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--baseline-predictions", required=True, help="the baseline experiment's prediction JSONL"
    )
    parser.add_argument(
        "--baseline-experiment", required=True, help="JSON {name, prop, variant, gamma} of the baseline"
    )
    parser.add_argument("--experiment", required=True, help="JSON {name, prop, variant, gamma} to imitate")
    parser.add_argument(
        "--threshold", type=float, required=True, help="decision threshold on P(Accept) (infer.threshold)"
    )
    parser.add_argument(
        "--output", required=True, help="prediction JSONL of the counterpart (empty when skipped)"
    )
    parser.add_argument("--status", required=True, help='sidecar JSON: {"skipped": null | reason, ...}')
    return parser.parse_args(argv)


@one_line_errors("priorshift")
def main(argv=None) -> int:
    args = parse_args(argv)
    check_output_paths(files=[args.output, args.status])
    baseline = parse_experiment_json(args.baseline_experiment, "--baseline-experiment")
    experiment = parse_experiment_json(args.experiment)
    if not 0.0 <= args.threshold <= 1.0:
        raise InputError(f"--threshold = {args.threshold} must be in [0, 1]")
    baseline_rows = read_predictions(args.baseline_predictions)
    factor = odds_factor(
        experiment.variant, experiment.gamma, experiment.accept_fraction, baseline.accept_fraction
    )
    status = {
        "method": PRIORSHIFT,
        "experiment": experiment.name,
        "baseline": baseline.name,
        "baseline_predictions": str(args.baseline_predictions),
        "odds_factor": factor,
        "clip": CLIP,
        "threshold": args.threshold,
    }
    if baseline_rows[0]["p_accept"] is None:
        reason = (
            f"the baseline predictions {args.baseline_predictions} have no p_accept (infer.mode = generate), "
            "so there are no probabilities to shift"
        )
        # an empty prediction file plus the reason: downstream treats the counterpart as absent, never faked
        write_together({args.output: "", args.status: json_text({**status, "skipped": reason, "n": 0})})
        print(f"{experiment.name} (priorshift): skipped: {reason}", file=sys.stderr)
        return 0
    rows = shifted_rows(baseline_rows, factor, args.threshold)
    write_together(
        {args.output: jsonl_text(rows), args.status: json_text({**status, "skipped": None, "n": len(rows)})}
    )
    rate = np.mean([row["pred"] == ACCEPT for row in rows])
    print(
        f"{experiment.name} (priorshift): baseline odds x {factor:.4g}; predicted acceptance rate {rate:.3f}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

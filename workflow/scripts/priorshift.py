"""Prior-shift counterpart of an experiment: the baseline's P(Accept) moved by the odds its weighting and mix imply.

Weighting the loss of one class by gamma moves the optimal posterior odds by gamma (Accept) or 1/gamma (Reject);
training on an accept fraction pi instead of the baseline's pi0 moves them by [pi/(1-pi)] / [pi0/(1-pi0)].
So: odds' = odds_base * gamma^(+1 accept | -1 reject | 0 baseline) * [pi/(1-pi)] / [pi0/(1-pi0)].
What fine-tuning changes beyond this threshold move is what the experiment really learnt.
Baseline probabilities are clipped to [1e-6, 1 - 1e-6] first, so 0 and 1 have finite odds.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import experiments as grid
from json_files import write_json, write_jsonl
from prediction_files import read_predictions, thresholded_rows

CLIP = 1e-6


def odds_factor(variant: str, gamma: float, accept_fraction: float, baseline_accept_fraction: float) -> float:
    """Return the factor by which the experiment's weighting and training mix multiply the baseline's odds."""
    weighted = grid.WEIGHTED_LABEL[variant]
    class_factor = {None: 1.0, "Accept": gamma, "Reject": 1.0 / gamma}[weighted]
    prior_factor = (accept_fraction / (1.0 - accept_fraction)) / (
        baseline_accept_fraction / (1.0 - baseline_accept_fraction)
    )
    return class_factor * prior_factor


def shift_probabilities(p_accept: np.ndarray, factor: float) -> np.ndarray:
    """Return the probabilities whose odds are factor times those of p_accept (clipped to [CLIP, 1 - CLIP])."""
    clipped = np.clip(np.asarray(p_accept, dtype=float), CLIP, 1.0 - CLIP)
    odds = clipped / (1.0 - clipped) * factor
    return odds / (1.0 + odds)


def shifted_rows(baseline_rows: list[dict], factor: float, threshold: float) -> list[dict]:
    """Return prediction rows of the counterpart: shifted p_accept, thresholded like the fine-tuned model."""
    shifted = shift_probabilities(np.array([row["p_accept"] for row in baseline_rows]), factor)
    return thresholded_rows(baseline_rows, shifted, threshold)


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


def main(argv=None) -> int:
    args = parse_args(argv)
    baseline = grid.parse_experiment_json(args.baseline_experiment, "--baseline-experiment")
    experiment = grid.parse_experiment_json(args.experiment)
    if not 0.0 <= args.threshold <= 1.0:
        raise ValueError(f"--threshold = {args.threshold} must be in [0, 1]")
    baseline_rows = read_predictions(args.baseline_predictions)
    factor = odds_factor(
        experiment.variant, experiment.gamma, experiment.accept_fraction, baseline.accept_fraction
    )
    status = {
        "method": "priorshift",
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
        write_jsonl(args.output, [])
        write_json(args.status, {**status, "skipped": reason, "n": 0})
        print(f"{experiment.name} (priorshift): skipped: {reason}", file=sys.stderr)
        return 0
    rows = shifted_rows(baseline_rows, factor, args.threshold)
    write_jsonl(args.output, rows)
    write_json(args.status, {**status, "skipped": None, "n": len(rows)})
    rate = np.mean([row["pred"] == "Accept" for row in rows])
    print(
        f"{experiment.name} (priorshift): baseline odds x {factor:.4g}; predicted acceptance rate {rate:.3f}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run a training script with a pause after each optimizer step, so a test's signal lands mid-training.

    python tests/paced_training.py SECONDS workflow/scripts/train.py --train-file ... (train.py's arguments)
    accelerate launch ... tests/paced_training.py SECONDS workflow/scripts/train.py ...

The tiny model trains a step in ~15 ms: a test that waits for a logged step and then sends a signal can find
the run already finished (it did, on a loaded CI machine), and a SLURM job must still train when its time-limit
warning comes, whatever the machine's speed (tests/test_slurm.py). SECONDS 0 runs the script unpaced. The
pause comes before the trainer's step-end
callbacks, so a signal sent during it is seen by StopEarly at the end of that same step; the pause changes no
number the run computes. Test-only: the project never imports it.
"""

from __future__ import annotations

import sys
import time

from transformers.trainer_callback import CallbackHandler

from script_wrapper import run_as_main

_on_step_end = CallbackHandler.on_step_end


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit("usage: paced_training.py SECONDS SCRIPT [ARGS...]")
    pause_s = float(sys.argv[1])

    def paced_on_step_end(self, args, state, control, **kwargs):
        time.sleep(pause_s)
        return _on_step_end(self, args, state, control, **kwargs)

    if pause_s > 0:
        CallbackHandler.on_step_end = paced_on_step_end
    run_as_main(sys.argv[2:])


if __name__ == "__main__":
    main()

"""Stop signals: SLURM's warning before the time limit (profiles/slurm: --signal=USR1@...), a preemption notice
(`scancel --signal=USR1`) or SIGTERM make a run save a checkpoint after its current optimizer step and stop.

The handler only records the signal: the trainer (wlf.training.trainer.StopEarly) reads the record at the end
of each optimizer step, where a checkpoint can be saved. Torch-free, so train.py installs it before the slow
imports, and a signal that comes while the model loads is not lost.
"""

from __future__ import annotations

import signal
import threading

STOP_SIGNALS = (signal.SIGUSR1, signal.SIGTERM)


class StopSignalRecord:
    """The number of the first stop signal this process received, 0 while none has come."""

    def __init__(self) -> None:
        self.signal_number = 0

    def install(self, signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> StopSignalRecord:
        """Record these signals instead of dying of them (also when the parent ignores them); return self."""
        for stop_signal in signals:
            signal.signal(stop_signal, self._record)
        return self

    def ignore(self, signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> None:
        """Ignore these signals from now on: the run is over, and one that comes while Python shuts down would
        kill the process (Python restores the default action of the signals it handled before it exits)."""
        for stop_signal in signals:
            signal.signal(stop_signal, signal.SIG_IGN)

    def _record(self, signal_number: int, frame) -> None:
        if not self.signal_number:
            self.signal_number = signal_number


def signal_name(signal_number: int) -> str:
    """Return a signal's name, e.g. SIGUSR1."""
    return signal.Signals(signal_number).name


def ignore_in_launchers() -> None:
    """Ignore SIGUSR1 in this process and, by inheritance, in the processes it starts.

    Called by every Snakemake process of the workflow (rules/train.smk). SLURM sends a job's warning signal
    (--signal=USR1@...) and `scancel --signal=USR1` to every process of the job's steps: the nested Snakemake
    and the rule's shell too, which SIGUSR1 kills by default; the step would end and take train.py with it
    before its checkpoint is saved. train.py installs its own handler over the inherited "ignore".
    """
    if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)

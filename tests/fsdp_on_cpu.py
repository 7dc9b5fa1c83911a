"""Run a training script under accelerate's FSDP on CPU processes (gloo): the rehearsal of the cluster's FSDP run.

    accelerate launch --config_file config/accelerate/fsdp.yaml --num_processes 2 --mixed_precision no \\
        tests/fsdp_on_cpu.py workflow/scripts/train.py --train-file ... (train.py's arguments)

accelerate 1.15 turns a launch config's FSDP into `DistributedType.FSDP` only for accelerator devices:
`AcceleratorState.__init__` (accelerate/state.py) switches to FSDP inside its branch for MULTI_GPU, MULTI_XPU,
..., and CPU processes stay MULTI_CPU, so the Trainer sees no `fsdp_plugin` and wraps the model in DDP. Neither
the config file, ACCELERATE_USE_FSDP nor a launcher flag changes that. Torch itself shards on CPU: FSDP2's
`fully_shard`, DTensor and torch.distributed.checkpoint all work over gloo.

This script makes the one change accelerate's device branch would make, for the CPU case: after the state
is set up as MULTI_CPU with the FSDP plugin the Accelerator built from the launch config's environment, it
sets the distributed type to FSDP and keeps the plugin (as accelerate/state.py does for GPUs), then runs the
script unchanged. Everything else is the production path: the Trainer prepares the model with accelerate's
FSDP2 code (per-layer `fully_shard`, cpu_ram_efficient_loading, its activation checkpointing) and saves and
loads FSDP checkpoints. Test-only: the project never imports it.
"""

from __future__ import annotations

import sys

from accelerate.state import AcceleratorState, PartialState
from accelerate.utils import DistributedType

from script_wrapper import run_as_main

_accelerator_state_init = AcceleratorState.__init__


def _init_with_fsdp_on_cpu(self, *args, fsdp_plugin=None, **kwargs):
    _accelerator_state_init(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
    if self.distributed_type == DistributedType.MULTI_CPU and fsdp_plugin is not None:
        # the lines of accelerate's device branch that enable FSDP
        self.distributed_type = DistributedType.FSDP
        if self._mixed_precision != "no":
            fsdp_plugin.set_mixed_precision(self._mixed_precision)
        self.fsdp_plugin = fsdp_plugin
        PartialState._shared_state["distributed_type"] = self.distributed_type


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: fsdp_on_cpu.py SCRIPT [ARGS...]")
    AcceleratorState.__init__ = _init_with_fsdp_on_cpu
    run_as_main(sys.argv[1:])


if __name__ == "__main__":
    main()

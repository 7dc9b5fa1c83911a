"""How a run was spread over its processes: the `distributed` block of train_summary.json.

The plan is what accelerate's state made of the launch config; the evidence is read off the prepared model
itself (FSDP units, DTensor parameters, checkpoint wrappers), so a summary shows that a run was sharded, not
only that it was configured to be: a run whose accelerate state never switched to FSDP (as on a CPU machine,
where accelerate keeps MULTI_CPU whatever the config says) reads as the data-parallel run it was.
"""

from __future__ import annotations

from typing import Any


def plan(state) -> dict[str, Any]:
    """Return the distribution accelerate set up: type, processes, backend, precision and the FSDP plugin's
    sharding, state-dict type and loading (None where the run is not FSDP)."""
    plugin = getattr(state, "fsdp_plugin", None) if state.distributed_type.value == "FSDP" else None
    version = plugin.fsdp_version if plugin is not None else None
    return {
        "distributed_type": state.distributed_type.value,  # NO, MULTI_CPU, MULTI_GPU (DDP), FSDP, ...
        "num_processes": state.num_processes,
        "backend": state.backend,  # nccl on GPUs, gloo on CPUs, None for one process
        "mixed_precision": state.mixed_precision,
        "fsdp_version": version,
        # FSDP2 shards every unit's parameters and frees the gathered ones after its forward when True (as
        # FSDP1's FULL_SHARD), or keeps them until the backward (SHARD_GRAD_OP); FSDP1 names a strategy
        "reshard_after_forward": plugin.reshard_after_forward if version == 2 else None,
        "sharding_strategy": plugin.sharding_strategy.name if version == 1 else None,
        "state_dict_type": plugin.state_dict_type.name if plugin is not None else None,
        "cpu_ram_efficient_loading": bool(plugin.cpu_ram_efficient_loading) if plugin is not None else None,
    }


def evidence(model) -> dict[str, Any]:
    """Return what the prepared model is, on this process: its wrapper, its FSDP units by class, how many
    parameters are DTensors and the share of the weights held here, and who checkpoints activations."""
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper
    from torch.distributed.fsdp import FSDPModule, FullyShardedDataParallel
    from torch.distributed.tensor import DTensor

    modules = list(model.modules())
    units: dict[str, int] = {}
    for module in modules:
        if isinstance(module, FSDPModule | FullyShardedDataParallel):
            units[type(module).__name__] = units.get(type(module).__name__, 0) + 1
    parameters = [parameter for _, parameter in model.named_parameters()]
    n_elements = sum(parameter.numel() for parameter in parameters)
    n_local = sum(
        parameter.to_local().numel() if isinstance(parameter, DTensor) else parameter.numel()
        for parameter in parameters
    )
    return {
        # DistributedDataParallel, FSDPQwen2ForCausalLM (FSDP2 changes the class in place), Qwen2ForCausalLM
        "model_wrapper": type(model).__name__,
        "fsdp_units": dict(sorted(units.items())),
        "parameters": len(parameters),
        "dtensor_parameters": sum(isinstance(parameter, DTensor) for parameter in parameters),
        # 1.0 unless sharded: with FSDP over N processes each holds about 1/N of every unit's weights
        "local_weight_fraction": n_local / n_elements if n_elements else None,
        "activation_checkpointing": activation_checkpointing(
            sum(isinstance(module, CheckpointWrapper) for module in modules),
            any(getattr(module, "is_activation_checkpointing", False) for module in modules),
        ),
    }


def activation_checkpointing(n_fsdp_wrapped_layers: int, transformers_checkpointing: bool) -> str | None:
    """Return who recomputes activations in the backward: "fsdp" (its checkpoint wrappers around the decoder
    layers), "transformers" (activation_checkpointing_enable), or None."""
    if n_fsdp_wrapped_layers:
        return "fsdp"
    return "transformers" if transformers_checkpointing else None


def describe(state, model) -> dict[str, Any]:
    """Return the `distributed` block: the plan and the evidence of the prepared model."""
    return plan(state) | evidence(model)


def ignored_fsdp(state, environ) -> str | None:
    """Return a warning when the launch config asked for FSDP and accelerate set up something else, else None.

    accelerate launch passes the config's FSDP as ACCELERATE_USE_FSDP; accelerate 1.15 honours it only on
    accelerator devices (GPUs, ...), so on CPU processes the run silently becomes data-parallel.
    """
    kind = state.distributed_type.value
    if environ.get("ACCELERATE_USE_FSDP", "false").lower() != "true" or kind == "FSDP":
        return None
    return (
        f"the accelerate config asks for FSDP but accelerate set up {kind}: it enables FSDP only on GPUs and "
        "other accelerators, so this run is not sharded (tests/fsdp_on_cpu.py rehearses FSDP on CPU processes)"
    )


def one_line(block: dict[str, Any]) -> str:
    """Return the plan in words for the log, e.g. "FSDP2 (reshard_after_forward=True, FULL_STATE_DICT, ...)
    over 2 process(es), backend gloo"; "NO (one process)" for a single process."""
    kind = block["distributed_type"]
    if kind == "NO":
        return "NO (one process)"
    if kind == "FSDP":
        sharding = (
            f"reshard_after_forward={block['reshard_after_forward']}"
            if block["fsdp_version"] == 2
            else block["sharding_strategy"]
        )
        loading = f"cpu_ram_efficient_loading={block['cpu_ram_efficient_loading']}"
        kind = f"FSDP{block['fsdp_version']} ({sharding}, {block['state_dict_type']}, {loading})"
    return f"{kind} over {block['num_processes']} process(es), backend {block['backend']}"

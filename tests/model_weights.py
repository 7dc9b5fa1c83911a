"""Compare the weights two training runs saved: a resumed run against an uninterrupted one."""

from __future__ import annotations

from pathlib import Path


def assert_same_weights(model_dir: Path, expected_dir: Path, atol: float = 0.0) -> None:
    """Assert the model.safetensors of two model folders hold the same tensors, each value within atol (0: equal)."""
    import torch
    from safetensors.torch import load_file

    weights, expected = (load_file(str(folder / "model.safetensors")) for folder in (model_dir, expected_dir))
    assert weights.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(weights[name], value, atol=atol, rtol=0.0, msg=name)

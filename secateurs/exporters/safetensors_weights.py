"""pruned.safetensors: the pruned state_dict, for PyTorch consumers and the split-stage CLI."""

from __future__ import annotations

from pathlib import Path

from secateurs.exporters import register


@register
class SafetensorsWeights:
    name = "safetensors"
    filename = "pruned.safetensors"
    description = "pruned PyTorch state_dict (dense tensors)"
    accepted_by = "PyTorch (safetensors.torch.load_file)"

    def export(self, ctx, path: Path) -> None:
        save_state_dict(ctx.model, path, {"secateurs.model": ctx.info.spec})


def save_state_dict(model, path: Path, metadata: dict[str, str]) -> None:
    """Tied tensors are written once per key (cloned), so strict loading works."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=metadata)

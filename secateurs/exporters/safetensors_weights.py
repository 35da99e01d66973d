"""pruned.safetensors: the pruned state_dict, for PyTorch consumers and the split-stage CLI.

Both sides need torch (``safetensors_weights_torch``): it is written from the model and
proved by reloading it bit-identical.
"""

from __future__ import annotations

from pathlib import Path

from secateurs.exporters import CheckInputs, Format, register


@register
class SafetensorsWeights(Format):
    name = "safetensors"
    filename = "pruned.safetensors"
    description = "pruned PyTorch state_dict (dense tensors)"
    accepted_by = "PyTorch (safetensors.torch.load_file)"
    position = 1
    runtimes = ("pytorch",)
    size_reference = None  # the dense tensors themselves: nothing to weigh

    def export(self, ctx, path: Path) -> None:
        from secateurs.exporters.safetensors_weights_torch import save_state_dict

        save_state_dict(ctx.model, path, {"secateurs.model": ctx.info.spec})

    def checks(self, run: CheckInputs, path: Path) -> list:
        from secateurs.exporters.safetensors_weights_torch import state_dict_round_trip

        return [state_dict_round_trip(path, run.ctx.model)]

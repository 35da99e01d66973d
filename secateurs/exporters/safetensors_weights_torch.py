"""pruned.safetensors, torch side: write the state_dict and prove it reloads bit-identical."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from secateurs.validators.results import Check


def save_state_dict(model, path: Path, metadata: dict[str, str]) -> None:
    """Tied tensors are written once per key (cloned), so strict loading works."""
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=metadata)


def state_dict_round_trip(path: Path, model) -> Check:
    """The saved state_dict equals the in-memory pruned model bit for bit."""
    saved = load_file(str(path))
    state = model.state_dict()
    differ = [k for k in state if k not in saved or not torch.equal(saved[k], state[k])]
    differ += [k for k in saved if k not in state]
    label = "state_dict round trip (bit-exact)"
    if differ:
        return Check(path.name, label, False, f"differs: {', '.join(differ[:8])}")
    return Check(path.name, label, True, f"{len(state)} tensors equal")

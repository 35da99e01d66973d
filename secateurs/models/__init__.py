"""Registry of builtin demo models: a name maps to a factory, an input shape and shipped weights.

The weights are trained by `python -m secateurs.models.train` (``make train``) on the digits
train split (lenet, resnet) or the builtin:shapes train split (detector) and committed beside this file, so a demo run needs no download and no training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from secateurs.errors import InputError
from secateurs.models.detector import Detector
from secateurs.models.lenet import LeNet
from secateurs.models.resnet import ResNet

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class BuiltinModel:
    """One builtin: how to build it, what it eats, and where its trained weights live."""

    name: str
    factory: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    weights: Path
    description: str


BUILTINS: dict[str, BuiltinModel] = {
    "lenet": BuiltinModel(
        name="lenet",
        factory=LeNet,
        input_shape=(1, 1, 32, 32),
        weights=WEIGHTS_DIR / "lenet.safetensors",
        description="LeNet (2 conv + 3 fc) trained on 8x8 digits upscaled to 32x32",
    ),
    "resnet": BuiltinModel(
        name="resnet",
        factory=ResNet,
        input_shape=(1, 1, 32, 32),
        weights=WEIGHTS_DIR / "resnet.safetensors",
        description="small ResNet (4 BasicBlocks, >99% of params in conv weights) on digits",
    ),
    "detector": BuiltinModel(
        name="detector",
        factory=Detector,
        input_shape=(1, 3, 128, 128),
        weights=WEIGHTS_DIR / "detector.safetensors",
        description="small YOLO-style detector (two scales, YOLOv5 output layout) on builtin:shapes",
    ),
}


def get_builtin(name: str) -> BuiltinModel:
    """Look up a builtin by name; an unknown name lists the registered ones."""
    try:
        return BUILTINS[name]
    except KeyError:
        choices = ", ".join(sorted(BUILTINS))
        raise InputError(f"unknown builtin model {name!r}; choose from: {choices}") from None

"""Labelled training data for --finetune: the train split of builtin:digits or builtin:shapes
(the splits the builtin models were trained on, never the held-out ones ``--eval`` reads), or a
user's .npz with ``inputs`` and ``labels``. Which one is chosen is ``config.finetune_data``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from secateurs.errors import InputError
from secateurs.evaluation.data import load_eval_data
from secateurs.models import digits

SHAPES_IMAGES = 1000  # builtin:shapes train images per epoch, freshly drawn each epoch
SHAPES_SIZE = 128


@dataclass
class ClassifierData:
    source: str
    inputs: torch.Tensor  # float32 [N, ...]
    labels: torch.Tensor  # int64 [N]

    @property
    def n(self) -> int:
        return int(self.inputs.shape[0])


@dataclass
class DetectorData:
    source: str
    epoch_data: Callable[[int], tuple]  # epoch -> (images, boxes, classes), train_detector.fit's
    n: int


def load_classifier_data(spec: str, input_shape: tuple[int, ...]) -> ClassifierData:
    """builtin:digits' train split, or a .npz that must hold labels."""
    if spec == "builtin:digits":
        x, y = digits.load_split("train")
        if tuple(x.shape[1:]) != tuple(input_shape[1:]):
            raise InputError(
                f"builtin:digits: images shaped {list(x.shape[1:])} do not match the model input {list(input_shape)}"
            )
        return ClassifierData("builtin:digits (train split)", x, y)
    data = load_eval_data(spec, input_shape)
    if data.labels is None:
        raise InputError(f"{spec}: has no 'labels' array; fine-tuning needs labelled inputs")
    return ClassifierData(spec, torch.from_numpy(data.inputs), torch.from_numpy(data.labels))


def load_detector_data(spec: str, input_shape: tuple[int, ...], seed: int, images: int = SHAPES_IMAGES):
    """builtin:shapes' train split, ``images`` fresh images per epoch (drawn with seed + epoch)."""
    from secateurs.models.train_detector import train_data

    if tuple(input_shape[1:]) != (3, SHAPES_SIZE, SHAPES_SIZE):
        raise InputError(
            f"builtin:shapes: trains at 3x{SHAPES_SIZE}x{SHAPES_SIZE}, the model takes {list(input_shape)}"
        )
    return DetectorData(
        "builtin:shapes (train split)", lambda epoch: train_data(seed + epoch, images, SHAPES_SIZE), images
    )

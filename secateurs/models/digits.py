"""Deterministic train / held-out data for the builtin models, from scikit-learn's bundled 8×8
digits (offline, 1797 images). The held-out split is what accuracy claims are checked against,
so the split, upscaling and normalization are fixed here and must not change with the weights.
"""

from __future__ import annotations

import numpy as np
import torch

SPLIT_SEED = 0
TEST_FRACTION = 0.2
IMAGE_SIZE = 32
# Mean / std of the train split after scaling pixels to [0, 1] and bilinear upscaling to 32×32.
MEAN = 0.3054
STD = 0.3237
SPLITS = ("train", "test")


def split_indices() -> tuple[list[int], list[int]]:
    """Return (train, test) indices into load_digits(): stratified by label, fixed seed."""
    # scikit-learn (1-3 s to import, with scipy) only for the digits data: imported here, so
    # loading the pipeline (every run, sweep and split stage) does not pay for it
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    target = load_digits().target
    train, test = train_test_split(
        np.arange(len(target)),
        test_size=TEST_FRACTION,
        random_state=SPLIT_SEED,
        stratify=target,
    )
    return sorted(train.tolist()), sorted(test.tolist())


def load_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (images float32 [N,1,32,32] normalized by MEAN/STD, labels int64 [N])."""
    from sklearn.datasets import load_digits  # on use, as in split_indices

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from: {', '.join(SPLITS)}")
    digits = load_digits()
    idx = split_indices()[SPLITS.index(split)]
    images = torch.tensor(digits.images[idx], dtype=torch.float32).unsqueeze(1) / 16.0
    images = torch.nn.functional.interpolate(
        images, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False
    )
    labels = torch.tensor(digits.target[idx], dtype=torch.int64)
    return (images - MEAN) / STD, labels

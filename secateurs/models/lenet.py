"""LeNet as used in the YOLOv5 pruning write-up: a tiny CNN whose conv weights can be pruned."""

from __future__ import annotations

import torch
from torch import nn


class LeNet(nn.Module):
    """conv(1→6, 3×3) → pool → conv(6→16, 3×3) → pool → fc 576→120→84→10, on 1×1×32×32 input."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 6 * 6, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))  # 32 → 30 → 15
        x = self.pool(torch.relu(self.conv2(x)))  # 15 → 13 → 6
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)

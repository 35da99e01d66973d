"""A small residual CNN: conv + BatchNorm + skip connections, with almost all parameters in
conv weights, so that pruning conv layers shows real savings while training stays fast on CPU.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3×3 conv/BN pairs plus a skip; a 1×1 conv downsamples the skip when shape changes."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.downsample: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_ch),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.downsample(x))


class ResNet(nn.Module):
    """stem(16) → block(16) → block(32,/2) → block(64,/2) → block(128,/2) → avgpool → fc.

    Input 1×1×32×32; spatial sizes 32 → 32 → 16 → 8 → 4.
    """

    def __init__(self, num_classes: int = 10, widths: tuple[int, ...] = (16, 32, 64, 128)) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        blocks = [BasicBlock(widths[0], widths[0])]
        blocks += [BasicBlock(a, b, stride=2) for a, b in pairwise(widths)]
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        return self.fc(torch.flatten(self.pool(x), 1))

"""ResNet-18 and ResNet-50 (He et al. 2015, torchvision's v1.5 layout) built without torchvision.

torchvision does not import beside the CPU torch wheel here, so the benchmarks carry
their own copy: basic blocks [2, 2, 2, 2] (ResNet-18, 11,689,512 parameters) or
bottleneck blocks [3, 4, 6, 3] with the stride on the 3x3 conv (ResNet-50, 25,557,032
parameters), BatchNorm after every conv, a 1000-class fc, and torchvision's
initialisation (Kaiming-normal fan_out convs, BN weight 1 / bias 0). Weights are random
but seeded, so every benchmark run prunes the same tensors.

Model specs: ``benchmarks.resnet:resnet18`` and ``benchmarks.resnet:resnet50`` (run
from the repo root, or with it on sys.path).
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SHAPE = (1, 3, 224, 224)


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(out_ch)]


class BasicBlock(nn.Module):
    """3x3 (stride here) -> 3x3, plus a projected skip when the shape changes."""

    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv_bn(in_ch, width, 3, stride)
        self.conv2, self.bn2 = conv_bn(width, width, 3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = projection(in_ch, width * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (stride here) -> 1x1 expand (x4), plus a projected skip when needed."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv_bn(in_ch, width, 1)
        self.conv2, self.bn2 = conv_bn(width, width, 3, stride)
        self.conv3, self.bn3 = conv_bn(width, width * self.expansion, 1)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = projection(in_ch, width * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def projection(in_ch: int, out_ch: int, stride: int) -> nn.Module | None:
    """The 1x1 strided conv + BN on the skip path, where the block changes the shape."""
    return nn.Sequential(*conv_bn(in_ch, out_ch, 1, stride)) if stride != 1 or in_ch != out_ch else None


class ResNet(nn.Module):
    def __init__(self, block: type[nn.Module], layers: tuple[int, ...], num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv_bn(3, 64, 7, 2)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_ch = 64
        stages = []
        for i, (width, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for j in range(n):
                blocks.append(block(in_ch, width, stride=2 if i > 0 and j == 0 else 1))
                in_ch = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def seeded(build, seed: int) -> nn.Module:
    """Eval-mode ``build()`` with seeded random weights; the global RNG is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build()
    model.input_shape = INPUT_SHAPE
    return model.eval()


def resnet18(seed: int = 0) -> ResNet:
    return seeded(lambda: ResNet(BasicBlock, (2, 2, 2, 2)), seed)


def resnet50(seed: int = 0) -> ResNet:
    return seeded(lambda: ResNet(Bottleneck, (3, 4, 6, 3)), seed)

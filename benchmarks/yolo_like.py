"""A YOLOv5s-shaped detector (ultralytics/yolov5 v6+ ``models/yolov5s.yaml``) built without yolov5.

Neither the ``yolov5`` package nor ultralytics installs beside the CPU torch wheel of
the default environment, so the benchmarks carry a copy of the architecture, module by
module as yolov5's ``models/common.py`` and ``models/yolo.py`` write it:
  - Conv = Conv2d (no bias, "same" padding) + BatchNorm2d(eps 1e-3, momentum 0.03) + SiLU;
  - C3 = two 1x1 branches, n Bottlenecks on one, Concat, 1x1; SPPF = three chained 5x5
    max-pools concatenated;
  - backbone P1-P5 and the FPN/PAN neck with nearest Upsample + Concat, at depth 0.33
    and width 0.50 (the "s" size);
  - Detect: a 1x1 conv per level (3 anchors x 85 = 80 classes + 5), and in eval mode
    the grid/anchor decoding (sigmoid; xy = (2s + grid) * stride; wh = (2s)^2 * anchor),
    with the grids cached on the module as yolov5 does.
Eval-mode output, as yolov5's: ``(tensor[B, 25200, 85], [p3, p4, p5])`` at 640x640,
the raw levels being [B, 3, 80, 80, 85], [B, 3, 40, 40, 85] and [B, 3, 20, 20, 85].
7,235,389 parameters, yolov5s's count. Weights are random but seeded (PyTorch's default
init plus yolov5's Detect bias priors), so every benchmark run prunes the same tensors.

Model spec: ``benchmarks.yolo_like:yolov5s`` (run from the repo root, or with it on sys.path).
"""

from __future__ import annotations

import math

import torch
from torch import nn

INPUT_SHAPE = (1, 3, 640, 640)
ANCHORS = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))
STRIDES = (8, 16, 32)


class Conv(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1: int, c2: int, shortcut: bool = True) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c2, 1)
        self.cv2 = Conv(c2, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP bottleneck with 3 convolutions (hidden width c2 / 2)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True) -> None:
        super().__init__()
        c_ = c2 // 2
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c1, c_, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: one 5x5 max-pool applied three times in a chain."""

    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class Detect(nn.Module):
    """yolov5's Detect: per level a 1x1 conv to 3 x (5 + classes); eval mode decodes boxes."""

    def __init__(self, nc: int, ch: tuple[int, ...]) -> None:
        super().__init__()
        self.nc, self.no, self.nl, self.na = nc, nc + 5, len(ch), len(ANCHORS[0]) // 2
        self.grid = [torch.empty(0) for _ in range(self.nl)]
        self.anchor_grid = [torch.empty(0) for _ in range(self.nl)]
        self.register_buffer("stride", torch.tensor(STRIDES, dtype=torch.float32))
        anchors = torch.tensor(ANCHORS, dtype=torch.float32).view(self.nl, -1, 2)
        self.register_buffer("anchors", anchors / self.stride.view(-1, 1, 1))  # in grid cells
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)

    def forward(self, x: list[torch.Tensor]):
        z = []
        for i in range(self.nl):
            x[i] = self.m[i](x[i])
            bs, _, ny, nx = x[i].shape
            x[i] = x[i].view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            if not self.training:
                if self.grid[i].shape[2:4] != x[i].shape[2:4]:
                    self.grid[i], self.anchor_grid[i] = self._make_grid(nx, ny, i)
                xy, wh, conf = x[i].sigmoid().split((2, 2, self.nc + 1), 4)
                xy = (xy * 2 + self.grid[i]) * self.stride[i]
                wh = (wh * 2) ** 2 * self.anchor_grid[i]
                z.append(torch.cat((xy, wh, conf), 4).view(bs, self.na * nx * ny, self.no))
        return x if self.training else (torch.cat(z, 1), x)

    def _make_grid(self, nx: int, ny: int, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        d, t = self.anchors[i].device, self.anchors[i].dtype
        shape = 1, self.na, ny, nx, 2
        y, x = torch.arange(ny, device=d, dtype=t), torch.arange(nx, device=d, dtype=t)
        yv, xv = torch.meshgrid(y, x, indexing="ij")
        grid = torch.stack((xv, yv), 2).expand(shape) - 0.5  # add grid offset, i.e. y = 2.0 * x - 0.5
        anchor_grid = (self.anchors[i] * self.stride[i]).view((1, self.na, 1, 1, 2)).expand(shape)
        return grid, anchor_grid

    def initialize_biases(self) -> None:
        """yolov5's priors: objectness ~8 objects per 640 image, class ~0.6 / nc."""
        for conv, s in zip(self.m, STRIDES):
            b = conv.bias.view(self.na, -1)
            with torch.no_grad():
                b[:, 4] += math.log(8 / (640 / s) ** 2)
                b[:, 5 : 5 + self.nc] += math.log(0.6 / (self.nc - 0.99999))


class YOLOv5s(nn.Module):
    """Layers 0-24 of yolov5s.yaml; ``forward`` routes the skips as its ``from`` column does."""

    def __init__(self, nc: int = 80) -> None:
        super().__init__()
        self.backbone = nn.ModuleList(
            [
                Conv(3, 32, 6, 2, 2),  # 0 P1/2
                Conv(32, 64, 3, 2),  # 1 P2/4
                C3(64, 64, 1),
                Conv(64, 128, 3, 2),  # 3 P3/8
                C3(128, 128, 2),
                Conv(128, 256, 3, 2),  # 5 P4/16
                C3(256, 256, 3),
                Conv(256, 512, 3, 2),  # 7 P5/32
                C3(512, 512, 1),
                SPPF(512, 512, 5),  # 9
            ]
        )
        self.lat5 = Conv(512, 256, 1)  # 10
        self.up = nn.Upsample(None, 2, "nearest")  # 11, 15
        self.c3_p4 = C3(512, 256, 1, False)  # 13
        self.lat4 = Conv(256, 128, 1)  # 14
        self.c3_p3 = C3(256, 128, 1, False)  # 17 (P3/8 small)
        self.down3 = Conv(128, 128, 3, 2)  # 18
        self.c3_n4 = C3(256, 256, 1, False)  # 20 (P4/16 medium)
        self.down4 = Conv(256, 256, 3, 2)  # 21
        self.c3_n5 = C3(512, 512, 1, False)  # 23 (P5/32 large)
        self.detect = Detect(nc, (128, 256, 512))  # 24
        self.detect.initialize_biases()

    def forward(self, x: torch.Tensor):
        saved = []
        for layer in self.backbone:
            x = layer(x)
            saved.append(x)
        p3, p4 = saved[4], saved[6]
        h10 = self.lat5(x)
        h14 = self.lat4(self.c3_p4(torch.cat((self.up(h10), p4), 1)))
        out3 = self.c3_p3(torch.cat((self.up(h14), p3), 1))
        out4 = self.c3_n4(torch.cat((self.down3(out3), h14), 1))
        out5 = self.c3_n5(torch.cat((self.down4(out4), h10), 1))
        return self.detect([out3, out4, out5])


def yolov5s(seed: int = 0) -> YOLOv5s:
    """Eval-mode YOLOv5s-shaped detector with seeded random weights; the global RNG is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = YOLOv5s()
    model.input_shape = INPUT_SHAPE
    return model.eval()

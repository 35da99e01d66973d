"""A small YOLO-style detector for ``builtin:shapes``: Conv2d/BatchNorm/SiLU blocks, two scales.

Most parameters are in Conv2d weights, so pruning shows real savings. In eval mode the head
returns what YOLOv5's ``Detect`` returns: a nested output ``(decoded, [raw_p3, raw_p4])`` where
``decoded`` is float32 ``(B, N, 5 + nc)``, boxes as centre x, centre y, width, height in input
pixels, then objectness and per-class scores after the sigmoid (N = (H/8)(W/8) + (H/16)(W/16)),
and each raw map is ``(B, 1, H/s, W/s, 5 + nc)`` before decoding. In training mode it returns the
raw maps only. One prediction per grid cell (no anchors): on the scale chosen by the object's
size (``assign_scale``), the cell holding its centre and the two neighbours nearest to the centre
predict it, as YOLOv5 assigns targets.
"""

from __future__ import annotations

import torch
from torch import nn

STRIDES = (8, 16)
SCALE_SPLIT_PX = 32.0  # objects whose longer side is below this go to stride 8, the rest to 16


def conv(in_ch: int, out_ch: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.SiLU(),
    )


def assign_scale(longer_side_px: torch.Tensor) -> torch.Tensor:
    """Index into STRIDES of the scale that predicts an object of this size (int64, same shape)."""
    return (longer_side_px >= SCALE_SPLIT_PX).long()


class Detector(nn.Module):
    """stem /2 → /4 → /8 (P3) → /16 (P4); a 1×1 head per scale; input 1×3×128×128 by default."""

    def __init__(self, num_classes: int = 4, widths: tuple[int, ...] = (16, 32, 64, 128)) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths
        self.nc = num_classes
        self.no = 5 + num_classes
        self.stem = nn.Sequential(conv(3, w0, 2), conv(w0, w1, 2))
        self.p3 = nn.Sequential(conv(w1, w2, 2), conv(w2, w2), conv(w2, w2))
        self.p4 = nn.Sequential(conv(w2, w3, 2), conv(w3, w3), conv(w3, w3))
        self.head = nn.ModuleList([nn.Conv2d(w2, self.no, 1), nn.Conv2d(w3, self.no, 1)])

    def raw(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Raw maps, one per stride: float32 (B, 1, H/s, W/s, 5 + nc), before any sigmoid."""
        p3 = self.p3(self.stem(x))
        p4 = self.p4(p3)
        maps = []
        for head, feature in zip(self.head, (p3, p4)):
            y = head(feature)
            b, _, h, w = y.shape
            maps.append(y.view(b, 1, self.no, h, w).permute(0, 1, 3, 4, 2).contiguous())
        return maps

    def forward(self, x: torch.Tensor):
        maps = self.raw(x)
        if self.training:
            return maps
        return torch.cat([decode(m, s) for m, s in zip(maps, STRIDES)], 1), maps


def decode(raw: torch.Tensor, stride: int) -> torch.Tensor:
    """(B, 1, ny, nx, no) raw map → (B, ny·nx, no): xywh in input pixels, sigmoid scores.

    Centre = (cell + 2·sigmoid(t) - 0.5) · stride, as YOLOv5, so a neighbouring cell can reach an
    object's centre; size = exp(t) · stride (t clamped at 6).
    """
    b, _, ny, nx, no = raw.shape
    gy, gx = torch.meshgrid(
        torch.arange(ny, dtype=raw.dtype, device=raw.device),
        torch.arange(nx, dtype=raw.dtype, device=raw.device),
        indexing="ij",
    )
    grid = torch.stack((gx, gy), -1).view(1, 1, ny, nx, 2)
    xy = (raw[..., :2].sigmoid() * 2 - 0.5 + grid) * stride
    wh = raw[..., 2:4].clamp(max=6.0).exp() * stride
    return torch.cat((xy, wh, raw[..., 4:].sigmoid()), -1).view(b, ny * nx, no)

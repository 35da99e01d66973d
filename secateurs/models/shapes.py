"""``builtin:shapes``: a synthetic detection dataset drawn on the fly, for offline detector checks.

Coloured circles, squares, triangles and crosses on textured backgrounds (noise, gradients,
stripes), from small to large, partly overlapping, some scenes crowded. Image ``i`` of a split is
drawn from its own seed stream ``(seed, split, i)``, so it is the same bytes in every call and
process whatever ``n`` is, and ``train`` and ``val`` never share an image.

Ground truth follows YOLO datasets: a box is the full pixel extent of a shape even where later
shapes cover part of it, and a shape with less than ``MIN_VISIBLE`` of its pixels left in view is
not labelled (it stays drawn, as an unlabelled occluded object does in real data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

NAMES = ("circle", "square", "triangle", "cross")
SPLITS = ("train", "val")
MIN_VISIBLE = 0.3
CROWDED_P = 0.2  # share of scenes with CROWDED objects; the rest hold 1-5
CROWDED = (10, 20)


@dataclass(frozen=True)
class Sample:
    """One image and its labels, in pixels of ``image``.

    image: uint8 [H, W, 3] RGB. boxes: float32 [K, 4] xyxy, pixel edges (a shape covering
    columns 3..9 has x1=3, x2=10). classes: int64 [K] indices into NAMES. visible: float32 [K],
    the share of each labelled shape's pixels left in view (>= MIN_VISIBLE).
    """

    image: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    visible: np.ndarray


def make_split(split: str, n: int, size: int = 128, seed: int = 0) -> list[Sample]:
    """Return images 0..n-1 of ``split`` ("train" or "val"), each ``size`` x ``size``.

    Raises ValueError for an unknown split, n < 0 or size < 32.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from: {', '.join(SPLITS)}")
    if n < 0 or size < 32:
        raise ValueError(f"make_split needs n >= 0 and size >= 32, got n={n}, size={size}")
    return [_scene(np.random.default_rng([seed, SPLITS.index(split), i]), size) for i in range(n)]


def _scene(rng: np.random.Generator, size: int) -> Sample:
    canvas = Image.fromarray(_background(rng, size))
    ids = Image.new("L", (size, size), 0)  # which shape owns each pixel: 1 + its index, 0 = none
    crowded = rng.random() < CROWDED_P
    count = int(rng.integers(CROWDED[0], CROWDED[1] + 1)) if crowded else int(rng.integers(1, 6))
    boxes, classes, areas = [], [], []
    for k in range(count):
        cls = int(rng.integers(len(NAMES)))
        side = float(np.exp(rng.uniform(np.log(8), np.log(size * (0.3 if crowded else 0.6)))))
        x0, y0 = rng.uniform(1, size - side - 1, size=2)
        ox, oy = int(x0), int(y0)  # the shape is drawn in a small patch at (ox, oy)
        mask = Image.new("L", (int(side) + 3,) * 2, 0)
        _draw(ImageDraw.Draw(mask), cls, x0 - ox, y0 - oy, side, rng.uniform(0, 2 * np.pi), fill=255)
        pixels = np.asarray(mask) > 0
        under = np.asarray(canvas.crop((ox, oy, ox + mask.width, oy + mask.height)))[pixels]
        canvas.paste(_contrasting(rng, under), box=(ox, oy), mask=mask)
        ids.paste(k + 1, box=(ox, oy), mask=mask)
        ys, xs = np.nonzero(pixels)
        boxes.append((ox + xs.min(), oy + ys.min(), ox + xs.max() + 1, oy + ys.max() + 1))
        classes.append(cls)
        areas.append(len(xs))
    owners = np.bincount(np.asarray(ids).ravel(), minlength=count + 1)[1:]
    visible = owners / np.asarray(areas)
    keep = visible >= MIN_VISIBLE
    return Sample(
        image=np.asarray(canvas).copy(),
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[keep],
        classes=np.asarray(classes, dtype=np.int64)[keep],
        visible=visible[keep].astype(np.float32),
    )


def _draw(draw: ImageDraw.ImageDraw, cls: int, x0: float, y0: float, side: float, angle: float, fill):
    box = (x0, y0, x0 + side, y0 + side)
    if NAMES[cls] == "circle":
        draw.ellipse(box, fill=fill)
    elif NAMES[cls] == "square":
        draw.rectangle(box, fill=fill)
    elif NAMES[cls] == "triangle":  # equilateral, any rotation, inscribed in the square
        draw.regular_polygon(
            (x0 + side / 2, y0 + side / 2, side / 2), 3, rotation=np.degrees(angle), fill=fill
        )
    else:  # cross: a plus sign with arms a third of its side thick
        t = side / 3
        draw.rectangle((x0 + t, y0, x0 + 2 * t, y0 + side), fill=fill)
        draw.rectangle((x0, y0 + t, x0 + side, y0 + 2 * t), fill=fill)


def _contrasting(rng: np.random.Generator, under: np.ndarray) -> tuple[int, int, int]:
    """A saturated random colour, bright on a dark patch and dark on a bright one."""
    lum = float(under.mean()) if under.size else 128.0
    lo, hi = (160, 256) if lum < 128 else (0, 96)
    rgb = rng.integers(lo, hi, size=3)
    rgb[rng.integers(3)] = lo if lum < 128 else hi - 1  # one channel off the others: a hue, not grey
    return tuple(int(c) for c in rgb)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """uint8 [size, size, 3]: noise, a gradient or stripes between two random colours."""
    a, b = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    ramp = np.arange(size, dtype=np.float32) / size
    theta = rng.uniform(0, np.pi)
    along = np.float32(np.cos(theta)) * ramp[None, :] + np.float32(np.sin(theta)) * ramp[:, None]
    kind = int(rng.integers(3))
    if kind == 0:
        t = np.full((size, size), 0.5, dtype=np.float32)
    elif kind == 1:
        t = (along - along.min()) / (along.max() - along.min())
    else:
        t = 0.5 + 0.5 * np.sin(np.float32(2 * np.pi * rng.uniform(2, 10)) * along)
    noise = rng.standard_normal((size, size, 3), dtype=np.float32) * np.float32(rng.uniform(4, 24))
    return np.clip(a + (b - a) * t[..., None] + noise, 0, 255).astype(np.uint8)

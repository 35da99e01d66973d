"""A few evaluation images with the dense and the pruned model's boxes side by side (Pillow).

The images shown are those where the two models disagree most: per image, the boxes scoring
>= ``CONF`` that have no box of the same class at IoU >= 0.5 in the other model's (greedy, best
score first), counted over both models; ties go to the earlier image. Each pair of panels is
drawn on the original image (``DetectionData.original``), scaled to fit ``TILE`` pixels, with
the ground truth, where there is one, as black-and-white dashes and the detections as solid
boxes in their class's colour; those scoring >= ``LABEL_CONF`` (the ``LABELS`` best) carry a
tag with the class name and score, the weaker ones are thin and untagged. PNG of 256 colours.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from secateurs import files
from secateurs.evaluation.boxes import Boxes, box_iou
from secateurs.evaluation.detection_data import DetectionData
from secateurs.evaluation.detection_metrics import REFERENCE_CONF

FILENAME = "eval_boxes.png"
CONF = REFERENCE_CONF  # 0.25: ultralytics predict's default, and the label-free reference's
LABEL_CONF = 0.5  # boxes scoring less are drawn thin and without a tag: a weak box hides nothing
LABELS = 20  # at most this many tags per panel (the best scores): more cover the image
MATCH_IOU = 0.5
SHOWN = 4
TILE = 256  # an image panel's longer side, pixels (builtin:shapes' 128 x 2)
PAIRS_PER_ROW = 2
GAP, PAIR_GAP, MARGIN, HEAD = 6, 28, 10, 44  # pixels; HEAD: the two text lines over a pair
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
INK, BACKGROUND = "#1f2328", "#ffffff"


def disagreement(dense: Boxes, pruned: Boxes, conf: float = CONF) -> int:
    """Boxes scoring >= ``conf`` of either model without a same-class partner at IoU >= MATCH_IOU
    in the other's (greedy, best score first): 0 when the two draw the same boxes."""
    a = dense.take(dense.scores >= conf)
    b = pruned.take(pruned.scores >= conf)
    free = np.ones(len(b), dtype=bool)
    matched = 0
    for i in np.argsort(-a.scores, kind="stable"):
        candidates = np.flatnonzero(free & (b.classes == a.classes[i]))
        if len(candidates):
            iou = box_iou(a.xyxy[i], b.xyxy[candidates])
            best = int(iou.argmax())
            if iou[best] >= MATCH_IOU:
                free[candidates[best]] = False
                matched += 1
    return len(a) + len(b) - 2 * matched


def choose(dense: list[Boxes], pruned: list[Boxes], k: int = SHOWN) -> list[tuple[int, int]]:
    """The ``k`` images (index, disagreement) where the models disagree most; ties: earlier first."""
    scores = [disagreement(d, p) for d, p in zip(dense, pruned)]
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
    return [(i, scores[i]) for i in order]


def write(
    path: Path,
    data: DetectionData,
    dense: list[Boxes],
    pruned: list[Boxes],
    pruned_label: str,
    chosen: list[tuple[int, int]],
) -> None:
    """Draw the ``chosen`` images (``choose``) as dense | pruned pairs, PAIRS_PER_ROW pairs a
    row, a legend under them; written atomically as a PNG to ``path``."""
    font, small, tag = _font(14), _font(12), _font(10)
    cols = min(PAIRS_PER_ROW, len(chosen)) or 1
    rows = -(-len(chosen) // cols)
    pair_w, row_h, legend_h = 2 * TILE + GAP, HEAD + TILE, 26
    width = 2 * MARGIN + cols * pair_w + (cols - 1) * PAIR_GAP
    height = 2 * MARGIN + rows * row_h + (rows - 1) * PAIR_GAP + legend_h
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    drawn: set[int] = set()
    for n, (i, unmatched) in enumerate(chosen):
        x0 = MARGIN + (n % cols) * (pair_w + PAIR_GAP)
        y0 = MARGIN + (n // cols) * (row_h + PAIR_GAP)
        head = f"{data.image_ids[i]}: {_count(unmatched)} without a match in the other model's"
        draw.text((x0, y0), head, INK, font)
        h, w = (int(v) for v in data.original_hw[i])
        scale = TILE / max(h, w)
        resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.BILINEAR
        picture = Image.fromarray(data.original(i)).resize((round(w * scale), round(h * scale)), resample)
        for j, (label, found) in enumerate((("dense", dense[i]), (pruned_label, pruned[i]))):
            shown = found.take(found.scores >= CONF)
            left, top = x0 + j * (TILE + GAP), y0 + HEAD
            draw.text((left, top - 19), f"{label}: {_count(len(shown))}", INK, small)
            panel = picture.copy()
            truth = None if data.boxes is None else data.boxes[i]
            drawn |= _panel(ImageDraw.Draw(panel), data, shown, truth, scale, tag)
            canvas.paste(panel, (left, top))
            draw.rectangle([left - 1, top - 1, left + panel.width, top + panel.height], outline="#d0d7de")
    _legend(
        draw, data, data.boxes is not None, sorted(drawn), (MARGIN, height - MARGIN - legend_h + 6), small
    )
    files.write_bytes(path, _png(canvas))


def _panel(pen: ImageDraw.ImageDraw, data, shown: Boxes, truth, scale: float, font) -> set[int]:
    """Ground truth, then the boxes weakest first (the best on top), the LABELS best of those
    scoring >= LABEL_CONF with a tag; returns the classes drawn."""
    for box in () if truth is None else truth:
        _dashed(pen, box * scale)
    order = np.argsort(shown.scores, kind="stable")
    tagged = set(order[::-1][:LABELS].tolist())
    for k in order:
        c, score = int(shown.classes[k]), float(shown.scores[k])
        text = f"{_name(data, c)} {score:.2f}" if k in tagged and score >= LABEL_CONF else ""
        _detection(pen, shown.xyxy[k] * scale, c, text, font)
    return {int(c) for c in shown.classes}


def _count(n: int) -> str:
    return f"{n} box{'es' * (n != 1)}"


def _detection(pen: ImageDraw.ImageDraw, box: np.ndarray, c: int, text: str, font) -> None:
    """A box in its class's colour with ``text`` on a tab of that colour above it (inside it at
    the image's top edge); without text, a thin box."""
    colour = _colour(c)
    x1, y1, x2, y2 = _corners(box)
    pen.rectangle([x1, y1, x2, y2], outline=colour, width=2 if text else 1)
    if not text:
        return
    left, top, right, bottom = pen.textbbox((0, 0), text, font=font)
    w, h = right - left + 4, bottom - top + 3
    ty = y1 - h if y1 - h >= 0 else y1
    tx = max(0.0, min(x1, pen.im.size[0] - w))
    pen.rectangle([tx, ty, tx + w, ty + h], fill=colour)
    pen.text((tx + 2 - left, ty + 1 - top), text, fill=_text_on(colour), font=font)


def _dashed(pen: ImageDraw.ImageDraw, box: np.ndarray, dash: int = 5) -> None:
    """Black with white dashes over it: visible on any background, unlike any detection."""
    x1, y1, x2, y2 = _corners(box)
    pen.rectangle([x1, y1, x2, y2], outline="#000000", width=2)
    for (ax, ay), (bx, by) in (
        ((x1, y1), (x2, y1)),
        ((x2, y1), (x2, y2)),
        ((x2, y2), (x1, y2)),
        ((x1, y2), (x1, y1)),
    ):
        length = max(abs(bx - ax), abs(by - ay))
        for start in np.arange(0, length, 2 * dash):
            end = min(start + dash, length)
            f0, f1 = start / length, end / length
            pen.line(
                [ax + (bx - ax) * f0, ay + (by - ay) * f0, ax + (bx - ax) * f1, ay + (by - ay) * f1],
                "#ffffff",
                2,
            )


def _legend(
    draw: ImageDraw.ImageDraw, data, truth: bool, classes: list[int], at: tuple[int, int], font
) -> None:
    """One line: the ground-truth style, then each class drawn with its colour (as many as fit)."""
    x, y = at
    if truth:
        _dashed(draw, np.array([x, y + 1, x + 26, y + 13], dtype=np.float32))
        draw.text((x + 32, y), "ground truth", INK, font)
        x += 32 + int(draw.textlength("ground truth", font)) + 18
    head = f"detections scoring >= {CONF} (thin and untagged below {LABEL_CONF}), by class:"
    draw.text((x, y), head, INK, font)
    x += int(draw.textlength(head, font)) + 10
    for c in classes:
        name = _name(data, c)
        if x + 46 + draw.textlength(name, font) > draw.im.size[0] - MARGIN:
            draw.text((x, y), "...", INK, font)
            break
        draw.rectangle([x, y + 1, x + 26, y + 13], outline=_colour(c), width=2)
        draw.text((x + 32, y), name, INK, font)
        x += 32 + int(draw.textlength(name, font)) + 14


def _corners(box: np.ndarray) -> tuple[float, float, float, float]:
    """x1 <= x2 and y1 <= y2, whatever order a model's box came in (Pillow needs it)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _colour(c: int) -> str:
    return PALETTE[c % len(PALETTE)]


def _text_on(colour: str) -> str:
    r, g, b = (int(colour[k : k + 2], 16) for k in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#ffffff"


def _name(data: DetectionData, c: int) -> str:
    return data.names[c] if c < len(data.names) else f"class {c}"


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType: a scalable font
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def _png(image: Image.Image) -> bytes:
    """256 colours (fast octree, no dithering): a third of the bytes of full colour, at a
    tenth of the time of ``optimize`` on noisy photographs."""
    buf = io.BytesIO()
    image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(buf, format="PNG")
    return buf.getvalue()

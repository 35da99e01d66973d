"""Detection evaluation data: images letterboxed to the model input, ground truth in original pixels.

``--eval`` may name ``builtin:shapes``, an ultralytics ``data.yaml``, a folder holding ``images/``
and ``labels/``, a COCO annotations ``.json``, a folder of images without labels, or ``random:N``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from secateurs.config import EVAL_RANDOM, guess_task
from secateurs.errors import InputError, UsageError
from secateurs.evaluation import detection_readers as readers
from secateurs.models import shapes

SHAPES_N = 500  # builtin:shapes evaluates on this many held-out val images
SHAPES_SIZE = 128


@dataclass
class DetectionData:
    """N images ready for the model, and what is needed to score its boxes in original pixels.

    images: uint8 [N, 3, H, W], RGB, letterboxed to the model input (H, W); ``inputs(start, stop)``
    gives a batch as the model takes it (float32 in [0, 1]). Held as uint8, a quarter of float32:
    1.2 MB per image at 640x640.
    original_hw: int64 [N, 2], each image's (height, width) before letterboxing.
    ratios: float64 [N] and pads: int64 [N, 2] (pad_w, pad_h), as ``letterbox`` returns them.
    boxes: per image float32 [K, 4] xyxy in original pixels, and classes: per image int64 [K]
    indices into ``names``; both None for label-free data.
    """

    source: str
    images: np.ndarray
    original_hw: np.ndarray
    ratios: np.ndarray
    pads: np.ndarray
    boxes: list[np.ndarray] | None
    classes: list[np.ndarray] | None
    names: tuple[str, ...]
    image_ids: tuple[str, ...]

    @property
    def n(self) -> int:
        return int(self.images.shape[0])

    def inputs(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Images ``start:stop`` as float32 [n, 3, H, W] RGB in [0, 1] (divided by 255)."""
        return self.images[start:stop].astype(np.float32) / np.float32(255)

    def original(self, i: int) -> np.ndarray:
        """Image ``i`` as uint8 [h, w, 3] RGB in its original pixels, where its boxes are: the
        letterbox undone (padding cut off, resized back), so detail finer than the model
        input is lost; the file is not read again (random:N and builtin:shapes have none)."""
        h, w = (int(v) for v in self.original_hw[i])
        r, (left, top) = float(self.ratios[i]), (int(p) for p in self.pads[i])
        nh, nw = max(1, round(h * r)), max(1, round(w * r))
        content = np.ascontiguousarray(self.images[i, :, top : top + nh, left : left + nw].transpose(1, 2, 0))
        if (nh, nw) == (h, w):
            return content
        return np.asarray(Image.fromarray(content).resize((w, h), Image.Resampling.BILINEAR))


def letterbox(
    image: np.ndarray, new_hw: tuple[int, int], color: int = 114
) -> tuple[np.ndarray, tuple[float, tuple[int, int]]]:
    """Fit a uint8 [h, w, 3] image into [H, W, 3] as ultralytics/YOLOv5 validation does.

    The method of ultralytics' ``LetterBox`` (``data/augment.py``) and YOLOv5's ``letterbox``
    (``utils/augmentations.py``): scale by r = min(H/h, W/w), keeping the aspect ratio (up or
    down), resize to (round(h*r), round(w*r)), pad centred with ``color``. Resizing is Pillow's
    bilinear (antialiased when shrinking), where they use OpenCV's. Returns the image and
    (r, (pad_w, pad_h)): the integer left and top padding, as ultralytics' ``ratio_pad``,
    so input pixel x maps to original (x - pad_w) / r.
    """
    h, w = image.shape[:2]
    r = min(new_hw[0] / h, new_hw[1] / w)
    nh, nw = max(1, round(h * r)), max(1, round(w * r))
    if (nh, nw) != (h, w):
        image = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BILINEAR))
    left = round((new_hw[1] - nw) / 2 - 0.1)
    top = round((new_hw[0] - nh) / 2 - 0.1)
    out = np.full((new_hw[0], new_hw[1], 3), color, dtype=np.uint8)
    out[top : top + nh, left : left + nw] = image
    return out, (r, (left, top))


def boxes_to_original(
    boxes: np.ndarray, ratio: float, pad: tuple[float, float], original_hw: tuple[int, int]
) -> np.ndarray:
    """Map xyxy boxes [K, 4] in letterboxed input pixels back to original pixels, clipped to the
    image; float32 [K, 4]. The inverse of ``letterbox``'s placement (ultralytics ``scale_boxes``)."""
    out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
    out[:, [0, 2]] = np.clip((out[:, [0, 2]] - pad[0]) / ratio, 0, original_hw[1])
    out[:, [1, 3]] = np.clip((out[:, [1, 3]] - pad[1]) / ratio, 0, original_hw[0])
    return out


def load_detection_data(
    spec: str, input_hw: tuple[int, int], limit: int | None = None, seed: int = 0
) -> DetectionData:
    """Read ``spec`` (see the module docstring), keeping its first ``limit`` images in sorted
    order (COCO: file order). ``random:N`` is N seeded uniform-noise images of the input size,
    label-free. Raises UsageError for limit < 1, InputError (one line, naming the
    file, and the line of a label file) for unreadable or malformed data or no images."""
    if limit is not None and limit < 1:
        raise UsageError(f"the detection data limit must be >= 1, got {limit}")
    if spec == "builtin:shapes":
        return _shapes(spec, input_hw, limit or SHAPES_N)
    if m := EVAL_RANDOM.match(spec):
        n = min(int(m.group(1)), limit or int(m.group(1)))
        rng = np.random.default_rng(seed)
        images = [rng.integers(0, 256, (*input_hw, 3), dtype=np.uint8) for _ in range(n)]
        items = [readers.Item(Path(f"random/{i:06d}"), f"random/{i:06d}", None, None) for i in range(n)]
        return _assemble(spec, items, images, (), input_hw)
    path = Path(spec)
    if path.suffix.lower() in (".yaml", ".yml") and path.is_file():
        items, names = readers.read_yolo_yaml(path)
    elif path.suffix.lower() == ".json" and path.is_file():
        items, names = readers.read_coco(path)
    elif guess_task(spec) == "detect" and path.is_dir():
        items, names = readers.read_yolo_folder(path)
    elif path.is_dir():
        items, names = readers.read_image_folder(path)
    else:
        raise InputError(f"{spec}: not found (or not a data.yaml, COCO .json, folder or builtin:shapes)")
    items = items[:limit]
    if not items:
        raise InputError(f"{spec}: no images found (looked for {', '.join(readers.IMAGE_SUFFIXES)})")
    return _assemble(spec, items, (_read_image(item.path) for item in items), names, input_hw)


def _assemble(source: str, items: list[readers.Item], images, names, input_hw) -> DetectionData:
    letterboxed = np.empty((len(items), 3, *input_hw), dtype=np.uint8)
    hws, ratios, pads = [], [], []
    for i, (item, image) in enumerate(zip(items, images)):
        h, w = image.shape[:2]
        if item.hw is not None and item.hw != (h, w):
            raise InputError(f"{item.path}: is {w}x{h} but the annotations say {item.hw[1]}x{item.hw[0]}")
        boxed, (r, pad) = letterbox(image, input_hw)
        letterboxed[i] = boxed.transpose(2, 0, 1)
        hws.append((h, w))
        ratios.append(r)
        pads.append(pad)
        if item.normalised:
            item.boxes = item.boxes * np.array([w, h, w, h], dtype=np.float32)
    labelled = items[0].boxes is not None
    return DetectionData(
        source=source,
        images=letterboxed,
        original_hw=np.asarray(hws, dtype=np.int64),
        ratios=np.asarray(ratios, dtype=np.float64),
        pads=np.asarray(pads, dtype=np.int64),
        boxes=[item.boxes for item in items] if labelled else None,
        classes=[item.classes for item in items] if labelled else None,
        names=tuple(names),
        image_ids=tuple(item.image_id for item in items),
    )


def _read_image(path: Path) -> np.ndarray:
    """uint8 [h, w, 3] RGB, turned upright by its EXIF orientation (as OpenCV's imread does)."""
    try:
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"{path}: not a readable image ({e})") from e


def _shapes(spec: str, input_hw: tuple[int, int], n: int) -> DetectionData:
    samples = shapes.make_split("val", n, size=SHAPES_SIZE)
    items = [
        readers.Item(Path(spec, f"val/{i:06d}"), f"val/{i:06d}", s.boxes, s.classes)
        for i, s in enumerate(samples)
    ]
    return _assemble(spec, items, (s.image for s in samples), shapes.NAMES, input_hw)

"""Write a small YOLO-format dataset (images/val + labels/val + data.yaml) from builtin:shapes.

    python examples/yolo/make_shapes_dataset.py OUT_DIR [--n 16] [--nc 80]

Images are builtin:shapes scenes (seeded, secateurs/models/shapes.py) at several sizes and aspect
ratios (so letterboxing is exercised), saved as PNG; labels are ``class cx cy w h`` normalised,
classes 0..3. ``names`` in data.yaml has ``--nc`` entries (80 = the COCO class count of the
YOLOv5/YOLOv8/YOLO11 yaml configs), so the model's output fits the data's class count.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from secateurs.models import shapes

SIZES = ((640, 640), (480, 640), (640, 480), (320, 320), (360, 640), (512, 384))  # (h, w)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--nc", type=int, default=80)
    args = parser.parse_args()
    images, labels = args.out / "images" / "val", args.out / "labels" / "val"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    for i, sample in enumerate(shapes.make_split("val", args.n, size=256)):
        h, w = SIZES[i % len(SIZES)]
        image = Image.fromarray(sample.image).resize((w, h), Image.Resampling.BILINEAR)
        image.save(images / f"{i:06d}.png")
        scale = np.array([w / 256, h / 256, w / 256, h / 256], dtype=np.float32)
        xyxy = sample.boxes * scale
        lines = []
        for (x1, y1, x2, y2), c in zip(xyxy, sample.classes):
            cx, cy, bw, bh = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h
            lines.append(f"{int(c)} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
        (labels / f"{i:06d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    names = list(shapes.NAMES) + [f"class{c}" for c in range(len(shapes.NAMES), args.nc)]
    yaml = [f"path: {args.out.resolve()}", "train: images/val", "val: images/val", "names:"]
    yaml += [f"  {c}: {name}" for c, name in enumerate(names[: args.nc])]
    (args.out / "data.yaml").write_text("\n".join(yaml) + "\n", encoding="utf-8")
    print(f"wrote {args.n} images and labels, data.yaml with {args.nc} names, under {args.out}")


if __name__ == "__main__":
    main()

"""Find the images and ground truth of on-disk detection datasets: YOLO, COCO, or bare images.

Each reader returns ``(items, names)``; the images themselves are read later, by
``detection_data``, for the items it keeps. YOLO conventions follow ultralytics
(``data/utils.py``: ``img2label_paths``, ``check_det_dataset``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from secateurs.errors import InputError
from secateurs.evaluation.data_yaml import read_data_yaml

IMAGE_SUFFIXES = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
COORD_TOLERANCE = 0.01  # how far outside [0, 1] a normalised YOLO coordinate may stray (then clipped)


@dataclass
class Item:
    """One image to read. ``boxes`` are xyxy, normalised to [0, 1] when ``normalised`` (YOLO),
    else in pixels (COCO); None for label-free data. ``hw``: the size the annotations promise."""

    path: Path
    image_id: str
    boxes: np.ndarray | None = None
    classes: np.ndarray | None = None
    normalised: bool = False
    hw: tuple[int, int] | None = None


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder``, recursively, sorted by path."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def read_yolo_yaml(path: Path) -> tuple[list[Item], tuple[str, ...]]:
    """``val`` (a folder, a .txt list, or a list of them) resolved against ``path:``. A relative
    ``path:`` is looked up beside the yaml, then in the current directory; absent, it is the yaml's
    folder. Relative lines of a .txt list are relative to the .txt."""
    cfg = read_data_yaml(path)
    if not cfg.get("val"):
        raise InputError(f"{path}: has no 'val' entry (the images to evaluate on)")
    names = _names(cfg, path)
    root = Path(str(cfg.get("path") or "."))
    beside = path.parent / root  # an absolute path: itself
    root = beside if beside.is_dir() or not root.is_dir() else root  # else from the current directory
    images: list[Path] = []
    for entry in cfg["val"] if isinstance(cfg["val"], list) else [cfg["val"]]:
        where = root / str(entry)
        if where.is_dir():
            images += list_images(where)
        elif where.suffix == ".txt" and where.is_file():
            lines = where.read_text(encoding="utf-8").splitlines()
            images += [where.parent / line.strip() for line in lines if line.strip()]
        else:
            raise InputError(f"{path}: val entry {entry!r} is neither a folder nor a .txt list ({where})")
    return _yolo_items(images, root, names, path), names


def read_yolo_folder(folder: Path) -> tuple[list[Item], tuple[str, ...]]:
    """``folder/images`` (recursively) with ``folder/labels``. Without a data.yaml there are no
    names: classes are named by index, up to the largest one in the labels."""
    subs = {p.name for p in (folder / "images").iterdir() if p.is_dir()}
    if "train" in subs and subs & {"val", "valid"}:
        raise InputError(f"{folder}/images holds train and val splits: pass the dataset's data.yaml")
    items = _yolo_items(list_images(folder / "images"), folder, None, folder)
    top = max((int(i.classes.max()) for i in items if i.classes.size), default=-1)
    return items, tuple(str(c) for c in range(top + 1))


def read_image_folder(folder: Path) -> tuple[list[Item], tuple[str, ...]]:
    """Label-free: every image under ``folder``; ground truth None."""
    if (folder / "images").is_dir():
        raise InputError(
            f"{folder}: has images/ but no labels/; for label-free evaluation pass {folder / 'images'}"
        )
    return [Item(p, p.relative_to(folder).as_posix()) for p in list_images(folder)], ()


def read_coco(path: Path) -> tuple[list[Item], tuple[str, ...]]:
    """COCO detection JSON; category ids map to class indices in sorted id order. ``iscrowd``
    annotations are dropped. Images: see ``coco_image_root``."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a readable JSON file ({e})") from e
    for key in ("images", "annotations", "categories"):
        if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
            raise InputError(f"{path}: not a COCO detection file: no '{key}' list")
    try:
        categories = sorted(doc["categories"], key=lambda c: c["id"])
        index = {c["id"]: i for i, c in enumerate(categories)}
        truth: dict[object, list] = {image["id"]: [] for image in doc["images"]}
        for a in doc["annotations"]:
            if a.get("iscrowd"):
                continue
            for key, known in (("category_id", index), ("image_id", truth)):
                if a[key] not in known:
                    raise InputError(
                        f"{path}: annotation {a.get('id')} has {key} {a[key]!r}, not in the file"
                    )
            x, y, w, h = (float(v) for v in a["bbox"])
            truth[a["image_id"]].append((x, y, x + w, y + h, index[a["category_id"]]))
        images = [(str(im["file_name"]), truth[im["id"]], _coco_hw(im)) for im in doc["images"]]
        names = tuple(str(c["name"]) for c in categories)
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{path}: malformed COCO entry ({type(e).__name__}: {e})") from e
    root = coco_image_root(path, images[0][0]) if images else path.parent
    items = []
    for name, rows, hw in images:
        t = np.asarray(rows, dtype=np.float32).reshape(-1, 5)
        items.append(Item(root / name, name, t[:, :4], t[:, 4].astype(np.int64), hw=hw))
    return items, names


def coco_image_root(path: Path, first: str) -> Path:
    """The folder that ``file_name``s are relative to: the first of the JSON's folder, its
    ``images/``, the parent's ``images/``, and (COCO's own layout, ``annotations/instances_val2017.json``
    beside ``val2017/``) the parent's folder named by the JSON's stem after its last ``_``
    that holds the first image."""
    tried = [path.parent, path.parent / "images", path.parent.parent / "images"]
    tried.append(path.parent.parent / path.stem.rsplit("_", 1)[-1])
    for root in tried:
        if (root / first).is_file():
            return root
    raise InputError(f"{path}: image {first!r} not found in any of: {', '.join(map(str, tried))}")


def _coco_hw(image: dict) -> tuple[int, int] | None:
    """(height, width) when the image entry gives them (COCO's do), to check the file against."""
    return (int(image["height"]), int(image["width"])) if "height" in image and "width" in image else None


def _names(cfg: dict, path: Path) -> tuple[str, ...]:
    names, nc = cfg.get("names"), cfg.get("nc")
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise InputError(f"{path}: names must be numbered 0..{len(names) - 1}")
        names = [names[i] for i in range(len(names))]
    if names is None and isinstance(nc, int):
        names = [f"class_{i}" for i in range(nc)]  # as ultralytics does
    if not isinstance(names, list) or not names:
        raise InputError(f"{path}: needs 'names' (a list or a 0..N-1 mapping) or 'nc'")
    if nc is not None and nc != len(names):
        raise InputError(f"{path}: nc is {nc} but {len(names)} names are given")
    return tuple(str(n) for n in names)


def label_path(image: Path) -> Path:
    """ultralytics' rule: the last ``images`` folder in the path becomes ``labels``, suffix ``.txt``."""
    parts = list(image.parts)
    if "images" in parts:
        parts[len(parts) - 1 - parts[::-1].index("images")] = "labels"
    return Path(*parts).with_suffix(".txt")


def _yolo_items(images: list[Path], root: Path, names: tuple[str, ...] | None, source: Path) -> list[Item]:
    if images and not any(label_path(p).is_file() for p in images):
        raise InputError(f"{source}: no label files found (for .../images/x.jpg, .../labels/x.txt)")
    return [_yolo_item(p, root, names) for p in images]


def _yolo_item(image: Path, root: Path, names: tuple[str, ...] | None) -> Item:
    labels = label_path(image)
    image_id = image.relative_to(root).as_posix() if image.is_relative_to(root) else str(image)
    rows = _read_labels(labels, names) if labels.is_file() else np.zeros((0, 5), np.float32)
    cx, cy, w, h = rows[:, 1:].T
    boxes = np.clip(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1), 0, 1)
    return Item(image, image_id, boxes.astype(np.float32), rows[:, 0].astype(np.int64), normalised=True)


def _read_labels(path: Path, names: tuple[str, ...] | None) -> np.ndarray:
    """float64 [K, 5]: class cx cy w h, checked line by line."""
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read label file ({e})") from e
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{lineno}"
        if len(fields) != 5:
            hint = " (segmentation polygons are not read: export boxes)" if len(fields) > 5 else ""
            raise InputError(f"{where}: expected 5 fields 'class cx cy w h', got {len(fields)}{hint}")
        try:
            row = [float(f) for f in fields]
        except ValueError:
            raise InputError(f"{where}: fields must be numbers, got {line.strip()[:80]!r}") from None
        c = row[0]
        if not (c.is_integer() and c >= 0 and (names is None or c < len(names))):
            have = f"0..{len(names) - 1}" if names else "a class index >= 0"
            raise InputError(f"{where}: class {fields[0]} is out of range (expected {have})")
        if not all(-COORD_TOLERANCE <= v <= 1 + COORD_TOLERANCE for v in row[1:]):
            raise InputError(f"{where}: cx cy w h must be normalised to [0, 1], got {' '.join(fields[1:])}")
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 5)

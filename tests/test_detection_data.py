"""Detection evaluation data: real YOLO / COCO / image-folder datasets written with Pillow,
the letterbox and its inverse, and the builtin:shapes generator."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from secateurs.config import guess_task
from secateurs.errors import InputError, UsageError
from secateurs.evaluation.data_yaml import read_data_yaml
from secateurs.evaluation.detection_data import (
    boxes_to_original,
    letterbox,
    load_detection_data,
)
from secateurs.models.shapes import MIN_VISIBLE, NAMES, make_split

REPO = Path(__file__).resolve().parents[1]


def png(path: Path, w: int, h: int, rgb=(200, 40, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h), rgb).save(path)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


DATA_YAML = """\
# ultralytics-style dataset file
path: .  # the dataset root
train: images/train
val: images/val
names:
  0: cat
  1: "hot dog"
download: |
  from pathlib import Path
  val: not/this
"""


@pytest.fixture
def yolo(tmp_path):
    root = tmp_path / "ds"
    png(root / "images/val/a.png", 64, 48)
    write(root / "labels/val/a.txt", "0 0.5 0.5 0.5 0.25\n\n1 0.25 0.75 0.5 0.5\n")
    png(root / "images/val/b.png", 32, 32)  # no label file: no objects
    return root, write(root / "data.yaml", DATA_YAML)


def test_yolo_dataset_from_data_yaml(yolo):
    _, yaml = yolo
    d = load_detection_data(str(yaml), (64, 64))
    assert d.names == ("cat", "hot dog")
    assert d.image_ids == ("images/val/a.png", "images/val/b.png")
    assert d.images.shape == (2, 3, 64, 64) and d.images.dtype == np.uint8
    assert d.inputs().shape == (2, 3, 64, 64) and d.inputs().dtype == np.float32
    np.testing.assert_allclose(d.inputs()[0, :, 32, 32], np.array([200, 40, 40]) / 255, atol=1e-6)
    np.testing.assert_array_equal(d.original_hw, [[48, 64], [32, 32]])
    np.testing.assert_allclose(d.boxes[0], [[16, 18, 48, 30], [0, 24, 32, 48]])
    np.testing.assert_array_equal(d.classes[0], [0, 1])
    assert d.boxes[1].shape == (0, 4) and d.classes[1].dtype == np.int64
    np.testing.assert_allclose(d.ratios, [1.0, 2.0])
    np.testing.assert_array_equal(d.pads, [[0, 8], [0, 0]])


def test_data_yaml_with_a_txt_list_and_flow_names(yolo):
    root, _ = yolo
    write(root / "val.txt", "./images/val/b.png\n\n  images/val/a.png  \n")
    yaml = write(root / "other.yaml", "val: val.txt\nnames: [cat, 'hot dog']\nnc: 2\n")
    d = load_detection_data(str(yaml), (32, 32))
    assert d.names == ("cat", "hot dog")
    assert [len(b) for b in d.boxes] == [0, 2]


def test_data_yaml_path_relative_to_the_current_directory(yolo, tmp_path, monkeypatch):
    root, _ = yolo
    yaml = write(tmp_path / "configs/data.yaml", "path: ds\nval: images/val\nnames: [cat, dog]\n")
    monkeypatch.chdir(tmp_path)  # ds/ is not beside the yaml, but is in the current directory
    assert load_detection_data(str(yaml), (32, 32)).image_ids == ("images/val/a.png", "images/val/b.png")


def test_data_yaml_reader_skips_other_keys_and_rejects_what_it_cannot_read(tmp_path):
    cfg = read_data_yaml(write(tmp_path / "d.yaml", DATA_YAML))
    assert cfg == {
        "path": ".",
        "train": "images/train",
        "val": "images/val",
        "names": {0: "cat", 1: "hot dog"},
    }
    text = "---\nval:  # two folders\n  - 'a #1'\n  - b\nnc: 3\nnames: [x, \"y, z\", w]  # listed\n"
    assert read_data_yaml(write(tmp_path / "l.yaml", text)) == {
        "val": ["a #1", "b"],
        "nc": 3,
        "names": ["x", "y, z", "w"],
    }
    bad = write(tmp_path / "bad.yaml", "val: images\nnames: {0: cat}\n")
    with pytest.raises(InputError, match=r"bad.yaml:2: unsupported YAML value"):
        read_data_yaml(bad)


def test_yolo_folder_without_yaml_names_classes_by_index(tmp_path):
    png(tmp_path / "images/x.jpg", 20, 10)
    write(tmp_path / "labels/x.txt", "2 0.5 0.5 1 1\n")
    d = load_detection_data(str(tmp_path), (32, 32))
    assert d.names == ("0", "1", "2")
    np.testing.assert_allclose(d.boxes[0], [[0, 0, 20, 10]])


def test_coco_dataset(tmp_path):
    png(tmp_path / "val2017/1.png", 40, 30)
    png(tmp_path / "val2017/2.png", 30, 40)
    doc = {
        "images": [
            {"id": 7, "file_name": "1.png", "width": 40, "height": 30},
            {"id": 9, "file_name": "2.png", "width": 30, "height": 40},
        ],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 5, "bbox": [2, 3, 10, 20]},
            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 4, 4]},
            {"id": 3, "image_id": 7, "category_id": 1, "bbox": [0, 0, 40, 30], "iscrowd": 1},
        ],
        "categories": [{"id": 5, "name": "dog"}, {"id": 1, "name": "person"}],
    }
    ann = write(tmp_path / "annotations/instances_val2017.json", json.dumps(doc))
    d = load_detection_data(str(ann), (64, 64))
    assert d.names == ("person", "dog")  # sorted by category id
    assert d.image_ids == ("1.png", "2.png")
    np.testing.assert_allclose(d.boxes[0], [[2, 3, 12, 23], [0, 0, 4, 4]])
    np.testing.assert_array_equal(d.classes[0], [1, 0])
    assert d.boxes[1].shape == (0, 4)

    doc["images"][1]["width"] = 31
    write(ann, json.dumps(doc))
    with pytest.raises(InputError, match=r"2.png: is 30x40 but the annotations say 31x40"):
        load_detection_data(str(ann), (64, 64))


def test_coco_images_beside_the_json(tmp_path):
    png(tmp_path / "a.png", 8, 8)
    doc = {
        "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
        "annotations": [],
        "categories": [],
    }
    d = load_detection_data(str(write(tmp_path / "ann.json", json.dumps(doc))), (16, 16))
    assert d.n == 1 and d.names == ()


def test_label_free_folder(tmp_path):
    png(tmp_path / "b.png", 10, 20)
    png(tmp_path / "sub/a.jpg", 20, 10)
    write(tmp_path / "notes.txt", "not an image")
    d = load_detection_data(str(tmp_path), (32, 32))
    assert d.boxes is None and d.classes is None
    assert d.image_ids == ("b.png", "sub/a.jpg")
    np.testing.assert_array_equal(d.pads, [[8, 0], [0, 8]])


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.new("RGB", (20, 10), (9, 9, 9)).save(tmp_path / "x.jpg", exif=exif)
    d = load_detection_data(str(tmp_path), (32, 32))
    np.testing.assert_array_equal(d.original_hw, [[20, 10]])


def test_limit(yolo):
    _, yaml = yolo
    assert load_detection_data(str(yaml), (32, 32), limit=1).image_ids == ("images/val/a.png",)
    with pytest.raises(UsageError, match=">= 1"):
        load_detection_data(str(yaml), (32, 32), limit=0)


@pytest.mark.parametrize("hw", [(90, 30), (30, 90), (50, 50), (301, 499)])
def test_letterbox_round_trip(hw):
    rng = np.random.default_rng(0)
    image = np.zeros((*hw, 3), dtype=np.uint8)
    x1, y1 = hw[1] // 4, hw[0] // 4
    x2, y2 = x1 + hw[1] // 2, y1 + hw[0] // 2
    image[y1:y2, x1:x2] = 255
    boxed, (r, pad) = letterbox(image, (96, 128))
    assert boxed.shape == (96, 128, 3)
    # arithmetic: forward by r and pad, back by boxes_to_original
    boxes = np.sort(rng.uniform(0, min(hw), size=(20, 2, 2)), axis=1).reshape(20, 4)
    forward = boxes * r + np.array([pad[0], pad[1], pad[0], pad[1]])
    np.testing.assert_allclose(boxes_to_original(forward, r, pad, hw), boxes, atol=0.5)
    # pixels: the white block found in the letterboxed image maps back onto the drawn one
    ys, xs = np.nonzero(boxed[..., 0] > 127)
    found = boxes_to_original([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], r, pad, hw)
    np.testing.assert_allclose(found[0], [x1, y1, x2, y2], atol=0.5 + 1 / r)


def test_letterbox_pads_with_114_centred():
    boxed, (r, pad) = letterbox(np.zeros((50, 100, 3), np.uint8), (101, 100))
    assert (r, pad) == (1.0, (0, 25))
    assert (boxed[:25] == 114).all() and (boxed[75:] == 114).all()
    assert (boxed[25:75] == 0).all()
    assert (letterbox(np.zeros((50, 100, 3), np.uint8), (100, 100), color=0)[0] == 0).all()


def test_boxes_to_original_clips_to_the_image():
    out = boxes_to_original(np.array([[-10, -10, 500, 500]]), 2.0, (4, 6), (30, 40))
    np.testing.assert_array_equal(out, [[0, 0, 40, 30]])
    assert out.dtype == np.float32


def _digest(samples) -> str:
    h = hashlib.sha256()
    for s in samples:
        for a in (s.image, s.boxes, s.classes):
            h.update(a.tobytes())
    return h.hexdigest()


def test_shapes_are_reproducible_across_calls_and_processes():
    first = make_split("val", 12)
    assert _digest(first) == _digest(make_split("val", 12))
    assert _digest(first[:5]) == _digest(make_split("val", 5))  # image i does not depend on n
    code = "from secateurs.models.shapes import make_split; from tests.test_detection_data import _digest;"
    code += "print(_digest(make_split('val', 12)))"
    env = {"PYTHONPATH": str(REPO), "PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == _digest(first), out.stderr[-2000:]
    assert _digest(make_split("val", 12, seed=1)) != _digest(first)


def test_shapes_val_split():
    val = make_split("val", 500)
    train = {s.image.tobytes() for s in make_split("train", 500)}
    assert not train & {s.image.tobytes() for s in val}
    classes = np.concatenate([s.classes for s in val])
    assert np.bincount(classes, minlength=len(NAMES)).min() > 0.2 * len(classes)
    assert max(len(s.classes) for s in val) >= 10  # crowded scenes
    visible = np.concatenate([s.visible for s in val])
    assert visible.min() >= MIN_VISIBLE and (visible < 0.9).sum() > 50  # occluded, not dropped
    boxes = np.concatenate([s.boxes for s in val])
    assert (boxes >= 0).all() and (boxes <= 128).all() and (boxes[:, 2:] > boxes[:, :2]).all()
    sides = boxes[:, 2] - boxes[:, 0]
    assert sides.min() < 12 and sides.max() > 60  # small and large objects
    assert val[0].image.shape == (128, 128, 3) and val[0].image.dtype == np.uint8


def test_shapes_boxes_are_the_tight_drawn_extent():
    """Shapes are flat colours on noisy backgrounds: an unoccluded shape's colour reaches each edge
    row and column of its box and no row or column just outside it."""
    checked = 0
    for s in make_split("val", 40):
        for (x1, y1, x2, y2), vis in zip(s.boxes.astype(int), s.visible):
            if vis < 1:
                continue
            fill = np.all(s.image == s.image[(y1 + y2) // 2, (x1 + x2) // 2], axis=-1)  # centre: inside
            assert fill[y1, x1:x2].any() and fill[y2 - 1, x1:x2].any()
            assert fill[y1:y2, x1].any() and fill[y1:y2, x2 - 1].any()
            assert not fill[y1 - 1, x1:x2].any() and not fill[y2 % 128, x1:x2].any()
            assert not fill[y1:y2, x1 - 1].any() and not fill[y1:y2, x2 % 128].any()
            checked += 1
    assert checked > 50


def test_builtin_shapes_loads_the_val_split():
    d = load_detection_data("builtin:shapes", (160, 128), limit=6)
    samples = make_split("val", 6)
    assert d.n == 6 and d.names == NAMES
    np.testing.assert_array_equal(d.pads[0], [0, 16])
    for got, s in zip(d.boxes, samples):
        np.testing.assert_array_equal(got, s.boxes)
    np.testing.assert_array_equal(d.images[0, :, 16:144].transpose(1, 2, 0), samples[0].image)
    assert load_detection_data("builtin:shapes", (32, 32)).n == 500


def bad_label(root, text):
    png(root / "images/a.png", 10, 10)
    write(root / "labels/a.txt", text)
    return str(write(root / "d.yaml", "val: images\nnames: [a, b]\n")), "a.txt:2"


def bad_coco(root, doc):
    return str(write(root / "c.json", json.dumps(doc))), "c.json"


BAD = {
    "wrong field count": lambda r: bad_label(r, "0 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1\n"),
    "class out of range": lambda r: bad_label(r, "0 0.5 0.5 0.1 0.1\n2 0.5 0.5 0.1 0.1\n"),
    "fractional class": lambda r: bad_label(r, "0 0.5 0.5 0.1 0.1\n0.5 0.5 0.5 0.1 0.1\n"),
    "coordinates outside [0, 1]": lambda r: bad_label(r, "\n1 0.5 1.2 0.1 0.1\n"),
    "not numbers": lambda r: bad_label(r, "0 0.5 0.5 0.1 0.1\n1 0.5 nope 0.1 0.1\n"),
    "unreadable image": lambda r: (
        str(write(r / "images/x.png", "not a png").parent),
        "x.png",
    ),
    "data.yaml without val": lambda r: (str(write(r / "d.yaml", "train: a\nnames: [a]\n")), "d.yaml"),
    "val folder missing": lambda r: (str(write(r / "d.yaml", "val: nowhere\nnames: [a]\n")), "d.yaml"),
    "no label files": lambda r: (
        png(r / "images/a.png", 4, 4) and str(write(r / "d.yaml", "val: images\nnames: [a]\n")),
        "d.yaml",
    ),
    "coco without annotations": lambda r: bad_coco(r, {"images": [], "categories": []}),
    "coco unknown category": lambda r: bad_coco(
        r,
        {
            "images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1]}],
            "categories": [{"id": 1, "name": "a"}],
        },
    ),
    "coco bbox malformed": lambda r: bad_coco(
        r,
        {
            "images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1]}],
            "categories": [{"id": 1, "name": "a"}],
        },
    ),
    "coco image missing": lambda r: bad_coco(
        r, {"images": [{"id": 1, "file_name": "gone.png"}], "annotations": [], "categories": []}
    ),
    "not json": lambda r: (str(write(r / "c.json", "{")), "c.json"),
    "empty image folder": lambda r: (str(write(r / "empty/readme.md", "").parent), "empty"),
    "images without labels": lambda r: (str(png(r / "ds/images/a.png", 4, 4).parents[1]), "labels/"),
    "train and val under images/": lambda r: (
        png(r / "ds/images/train/a.png", 4, 4)
        and png(r / "ds/images/val/a.png", 4, 4)
        and str(write(r / "ds/labels/val/a.txt", "").parents[2]),
        "data.yaml",
    ),
    "missing path": lambda r: (str(r / "nope.yaml"), "nope.yaml"),
}


CAUSES = {
    "wrong field count": "expected 5 fields",
    "class out of range": "class 2 is out of range",
    "fractional class": "class 0.5 is out of range",
    "coordinates outside [0, 1]": "normalised to [0, 1]",
    "not numbers": "must be numbers",
    "unreadable image": "not a readable image",
    "data.yaml without val": "no 'val' entry",
    "val folder missing": "neither a folder nor a .txt list",
    "no label files": "no label files found",
    "coco without annotations": "no 'annotations' list",
    "coco unknown category": "category_id 3, not in the file",
    "coco bbox malformed": "malformed COCO entry",
    "coco image missing": "image 'gone.png' not found",
    "not json": "not a readable JSON file",
    "empty image folder": "no images found",
    "images without labels": "has images/ but no labels/",
    "train and val under images/": "holds train and val splits",
    "missing path": "not found",
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_naming_the_file_and_cause(tmp_path, case):
    spec, named = BAD[case](tmp_path)
    with pytest.raises(InputError) as e:
        load_detection_data(spec, (32, 32))
    message = str(e.value)
    assert named in message and CAUSES[case] in message and "\n" not in message


@pytest.mark.parametrize(
    ("spec", "task"),
    [
        ("builtin:shapes", "detect"),
        ("data/coco.yaml", "detect"),
        ("instances_val2017.json", "detect"),
        ("builtin:digits", "classify"),
        ("eval.npz", "classify"),
        ("random:8", None),
        ("photos", None),
    ],
)
def test_guess_task(spec, task):
    assert guess_task(spec) == task


def test_guess_task_on_folders(tmp_path):
    (tmp_path / "images").mkdir()
    assert guess_task(str(tmp_path)) is None  # images alone: label-free or a mistake, not detection
    (tmp_path / "labels").mkdir()
    assert guess_task(str(tmp_path)) == "detect"

"""builtin:detector: YOLOv5's output layout, nested outputs, and the held-out mAP it ships with."""

from __future__ import annotations

import pytest
import torch

from secateurs.evaluation import boxes, detect, detection_metrics
from secateurs.evaluation.detection_data import load_detection_data
from secateurs.model.load import load_model
from secateurs.models import shapes
from secateurs.models.detector import Detector, decode
from secateurs.models.train_detector import build_targets

HELD_OUT_MAP50 = 0.90  # the target; measured 0.9047 (benchmarks/DETECT.md)


def test_eval_output_is_yolov5s_nested_layout():
    model = Detector(num_classes=4).eval()
    with torch.no_grad():
        decoded, raw = model(torch.zeros(2, 3, 128, 128))
    assert decoded.shape == (2, 16 * 16 + 8 * 8, 9)
    assert [r.shape for r in raw] == [(2, 1, 16, 16, 9), (2, 1, 8, 8, 9)]
    assert boxes.layout(tuple(decoded.shape), nc=4) == "yolov5"
    assert model.train()(torch.zeros(1, 3, 128, 128))[0].shape == (1, 1, 16, 16, 9)  # raw maps only


def test_targets_decode_back_to_the_boxes():
    """A raw map that predicts exactly the training targets decodes to the labelled boxes."""
    xyxy = torch.tensor([[10.0, 20.0, 26.0, 30.0], [40.0, 40.0, 100.0, 90.0]])  # small -> /8, large -> /16
    targets = build_targets([xyxy.numpy()], [torch.tensor([1, 3]).numpy()], (128, 128), nc=4)
    found = []
    for (mask, box, onehot), stride in zip(targets, (8, 16)):
        raw = torch.zeros(1, 1, *mask.shape[1:], 9)
        offset = box[..., :2].clamp(-0.49, 1.49)
        raw[0, 0, ..., :2] = torch.logit((offset[0] + 0.5) / 2)
        raw[0, 0, ..., 2:4] = box[0, ..., 2:]
        out = decode(raw, stride)[0][mask[0].flatten()]
        found += [(tuple((out[:, :2] - out[:, 2:4] / 2).round().tolist()[0]), int(onehot[mask].argmax(1)[0]))]
        assert int(mask.sum()) == 3  # the centre's cell and the two nearest neighbours
    assert sorted(found) == sorted([((10.0, 20.0), 1), ((40.0, 40.0), 3)])


@pytest.fixture(scope="module")
def held_out():
    model, _ = load_model("builtin:detector", None, None)
    data = load_detection_data("builtin:shapes", (128, 128))
    return model, data, detect.torch_detections(model, data)


def test_shipped_weights_find_the_shapes(held_out):
    _, data, found = held_out
    m = detection_metrics.evaluate(found, detect.truths(data), data.names)
    assert m.mAP50 >= HELD_OUT_MAP50 and m.mAP50_95 > 0.7
    assert set(m.per_class_ap) == set(shapes.NAMES) and min(a["AP50"] for a in m.per_class_ap.values()) > 0.85


def test_onnxruntime_finds_what_pytorch_finds(held_out, tmp_path):
    model, data, found = held_out
    path = tmp_path / "detector.onnx"
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, 128, 128),),
        str(path),
        dynamo=False,
        input_names=["input"],
        dynamic_axes={"input": {0: "batch"}},
    )
    onnx_found = detect.onnx_detections(path, data)
    gt = detect.truths(data)
    a = detection_metrics.evaluate(found, gt, data.names)
    b = detection_metrics.evaluate(onnx_found, gt, data.names)
    assert abs(a.mAP50 - b.mAP50) <= 1e-3 and abs(a.mAP50_95 - b.mAP50_95) <= 1e-3

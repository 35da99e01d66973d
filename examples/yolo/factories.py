"""Model factories for ``secateurs run examples.yolo.factories:NAME`` (run from the repository root),
building real YOLO detectors from their yaml configs with random weights (nothing downloaded).

secateurs calls a ``module:factory`` spec with no arguments, so each config gets a function:
  yolov5n, yolov5s   the ``yolov5`` pip package (``yolov5.models.yolo.Model``; it wants a path to
                     its yaml, so the package's own ``yolov5/models/*.yaml`` is named here)
  yolov8n, yolo11n   the ``ultralytics`` package (``ultralytics.nn.tasks.DetectionModel``, which
                     finds its yaml by name)
Set ``YOLO_OFFLINE=1`` so ultralytics does not reach the network. Add ``--weights best.pt``-style
state_dicts with ``--weights``; a trainer's own checkpoint is a pickle: pass it as MODEL with
``--trust-model-code`` instead (benchmarks/REAL_DETECTORS.md).
"""

from __future__ import annotations

from pathlib import Path


def _yolov5(name: str):
    import yolov5
    from yolov5.models.yolo import Model

    return Model(str(Path(yolov5.__file__).parent / "models" / f"{name}.yaml"))


def _ultralytics(name: str):
    from ultralytics.nn.tasks import DetectionModel

    return DetectionModel(f"{name}.yaml", verbose=False)


def yolov5n():
    return _yolov5("yolov5n")


def yolov5s():
    return _yolov5("yolov5s")


def yolov8n():
    return _ultralytics("yolov8n")


def yolo11n():
    return _ultralytics("yolo11n")

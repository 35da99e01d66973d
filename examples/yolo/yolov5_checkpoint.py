"""Save a randomly initialised YOLOv5s as YOLOv5's train.py saves a checkpoint: a pickle of
``{"model": <module in float16>, "ema": <module in float16>, …}``.

    python examples/yolo/yolov5_checkpoint.py /tmp/yolov5s-ckpt.pt   # from the repository root

Load it with ``secateurs run /tmp/yolov5s-ckpt.pt --trust-model-code --input-shape 1,3,640,640``.
"""

import sys
from copy import deepcopy

import torch

sys.path.insert(0, ".")
from examples.yolo.factories import yolov5s  # noqa: E402

torch.manual_seed(0)
model = yolov5s()
ckpt = {
    "epoch": 0,
    "best_fitness": 0.0,
    "model": deepcopy(model).half(),
    "ema": deepcopy(model).half(),
    "updates": 0,
    "optimizer": None,
    "opt": {},
    "git": None,
    "date": "2026-12-02",
}
torch.save(ckpt, sys.argv[1])
print("saved", sys.argv[1])

"""Train an ultralytics detector from its yaml on a YOLO dataset, on the CPU, offline.

    YOLO_OFFLINE=1 python examples/yolo/train_ultralytics.py yolov8n.yaml 150 320 /tmp/train 0.003

Arguments: config, epochs, image size, project folder, AdamW learning rate. Used for
benchmarks/REAL_DETECTORS.md on the 16 images of make_shapes_dataset.py (train = val: the weights
memorise them; the point is a real head that detects, so every metric and the label-free mode
have something to measure). Augmentation is off and warmup is 0 (ultralytics warms up for at
least 100 iterations, which is 50 of these 2-batch epochs). Writes PROJECT/run/weights/best.pt,
a checkpoint as ultralytics saves it: ``{"model": <DetectionModel in float16>, "ema": None, …}``.
"""

import sys
import time

from ultralytics import YOLO

cfg, epochs, imgsz, project, lr0 = (
    sys.argv[1],
    int(sys.argv[2]),
    int(sys.argv[3]),
    sys.argv[4],
    float(sys.argv[5]),
)
data = sys.argv[6] if len(sys.argv) > 6 else "/tmp/yolo-data/data.yaml"
t = time.time()
YOLO(cfg).train(
    data=data,
    epochs=epochs,
    imgsz=imgsz,
    batch=8,
    device="cpu",
    workers=0,
    plots=False,
    amp=False,
    project=project,
    name="run",
    exist_ok=True,
    seed=0,
    deterministic=True,
    val=True,
    verbose=False,
    mosaic=0.0,
    close_mosaic=0,
    augment=False,
    fliplr=0.0,
    hsv_h=0,
    hsv_s=0,
    hsv_v=0,
    translate=0.0,
    scale=0.0,
    optimizer="AdamW",
    lr0=lr0,
    warmup_epochs=0,
    cos_lr=False,
    lrf=1.0,
)
print("train seconds", round(time.time() - t, 1))

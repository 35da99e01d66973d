"""A zoo of tiny conv models covering the Conv2d variants pruning and export must survive.

Every factory takes no arguments, returns an eval-mode module seeded for determinism,
and declares ``input_shape`` so the CLI needs no --input-shape.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import torch
from torch import nn


def _seeded(model: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
    model.input_shape = input_shape
    return model.eval()


def plain():
    torch.manual_seed(0)
    return _seeded(
        nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3)), (1, 3, 12, 12)
    )


def grouped():
    torch.manual_seed(1)
    return _seeded(
        nn.Sequential(nn.Conv2d(4, 8, 3, groups=2, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1, groups=4)),
        (1, 4, 10, 10),
    )


def depthwise():
    torch.manual_seed(2)
    return _seeded(
        nn.Sequential(nn.Conv2d(6, 6, 3, groups=6, padding=1, bias=False), nn.Conv2d(6, 12, 1)), (1, 6, 9, 9)
    )


def dilated_strided():
    torch.manual_seed(3)
    return _seeded(
        nn.Sequential(
            nn.Conv2d(3, 8, 3, dilation=2, padding=2),
            nn.Conv2d(8, 8, 3, stride=2),
            nn.Conv2d(8, 4, (1, 3), stride=(2, 1)),
        ),
        (1, 3, 17, 15),
    )


def padding_modes():
    torch.manual_seed(4)
    layers = [
        nn.Conv2d(3, 6, 3, padding=1, padding_mode=m) for m in ("zeros", "reflect", "replicate", "circular")
    ]
    return _seeded(
        nn.Sequential(
            layers[0],
            *[nn.Conv2d(6, 6, 3, padding=1, padding_mode=m) for m in ("reflect", "replicate", "circular")],
        ),
        (1, 3, 8, 8),
    )


def no_bias_bn():
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, bias=False),
        nn.BatchNorm2d(8),
    )
    with torch.no_grad():  # non-trivial running stats, so BatchNorm folding changes the weights
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    return _seeded(model, (1, 3, 10, 10))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.body = nn.Conv2d(8, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 16, 1, stride=2)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        x = x + self.body(x)
        return self.head(self.down(x).mean(dim=(2, 3)))


def residual():
    torch.manual_seed(6)
    return _seeded(Residual(), (1, 3, 8, 8))


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 3, 1)

    def forward(self, x):
        y = self.a(x)
        return y, self.b(y)


def two_outputs():
    torch.manual_seed(7)
    return _seeded(TwoOutputs(), (2, 2, 6, 6))


class Tied(nn.Module):
    """One Conv2d applied twice, plus a second module sharing its weight tensor."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.alias = nn.Conv2d(4, 4, 3, padding=1)
        self.alias.weight = self.conv.weight

    def forward(self, x):
        return self.alias(torch.relu(self.conv(x)))


def tied():
    torch.manual_seed(8)
    return _seeded(Tied(), (1, 4, 6, 6))


def no_conv():
    torch.manual_seed(9)
    return _seeded(nn.Sequential(nn.Flatten(), nn.Linear(12, 4)), (1, 3, 2, 2))


def no_shape():
    """A conv model that does not declare its input shape."""
    torch.manual_seed(10)
    return nn.Sequential(nn.Conv2d(3, 4, 3)).eval()


def raises():
    raise RuntimeError("factory exploded")


def not_a_module():
    return 42


# What a default run writes besides report.json, report.md, report.html and manifest.json
# (reference.npz: the validation inputs and PyTorch outputs, for `secateurs verify`;
# state/state.json: the stage state the split-stage commands resume from).
ARTIFACTS = {
    "state/state.json",
    "reference.npz",
    "model.onnx",
    "pruned.safetensors",
    "model.sparse.onnx",
    "model.onnx.spz",
    "weights.npz",
}

# `--formats` with every registered format: the default leaves model.bitmask.onnx out.
EVERY_FORMAT = ("--formats", "onnx,safetensors,sparse-onnx,bitmask-onnx,spz,npz")

ZOO = [plain, grouped, depthwise, dilated_strided, padding_modes, no_bias_bn, residual, two_outputs, tied]

# `run`/`export` arguments for tests that are about loading, pruning, reports or output safety,
# not about the export: the legacy exporter takes ~0.1 s on these models where dynamo (the
# default) takes ~1 s. The default exporter keeps its own end-to-end tests: the zoo
# (test_pipeline.py), byte determinism in one process and across processes, --opset and
# dynamic axes, nested outputs with verify, .pt2 programs (dynamo only), the sparse artifacts
# on builtin:resnet, `run` with its CLI defaults, --auto and the accuracy gate.
TORCHSCRIPT = ("--exporter", "torchscript")


class SignedBatchNorm(nn.Module):
    """Convs with BatchNorm folded in at negative scales, a conv with a bias, and three convs
    of one shape (two without BatchNorm)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.a = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.b = nn.Conv2d(8, 8, 3, padding=1)
        self.c = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        x = torch.relu(self.bn1(self.stem(x)))
        y = torch.relu(self.bn2(self.a(x)))
        return self.head(x + self.b(y) + self.c(x)).mean(dim=(2, 3))


def signed_bn():
    """Folded BatchNorm factors of both signs: a pruned weight in a negative channel exports
    as -0.0. Not in ZOO: model.sparse.onnx and model.bitmask.onnx store those zeros as +0.0,
    so their bit-exact check fails once a negative channel loses weights (exit 1)."""
    torch.manual_seed(11)
    model = SignedBatchNorm()
    with torch.no_grad():
        for bn in (model.bn1, model.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(-1.5, 1.5)
    return _seeded(model, (1, 3, 8, 8))


def already_pruned():
    """Carries live torch.nn.utils.prune state (weight_orig, weight_mask, a pre-hook)."""
    from torch.nn.utils import prune

    model = plain()
    prune.l1_unstructured(model[0], "weight", amount=0.2)
    return model


def weight_normed():
    model = plain()
    nn.utils.parametrizations.weight_norm(model[2])
    return model


def fixed_hw():
    """Flatten + Linear pins height and width: no dynamic spatial axes possible."""
    torch.manual_seed(11)
    return _seeded(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)), (1, 3, 8, 8))


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = self.conv(x)
        if y.sum() > 0:  # control flow on tensor values: torch.export cannot capture it
            return y * 2
        return y


def data_dependent():
    torch.manual_seed(12)
    return _seeded(DataDependent(), (1, 3, 4, 4))


class DictOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        y = self.conv(x)
        return {"features": y, "logits": self.head(y)}


def dict_output():
    torch.manual_seed(13)
    return _seeded(DictOutput(), (1, 3, 6, 6))


class FixedBatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 * 4 * 4, 2)

    def forward(self, x):
        return self.fc(self.conv(x).view(1, -1))  # pins batch size 1


def fixed_batch():
    torch.manual_seed(14)
    return _seeded(FixedBatch(), (1, 3, 6, 6))


# --- models as training leaves them (nested outputs, wrappers, hooks, lazy modules) ---


class TinyDetect(nn.Module):
    """A YOLOv5-style head: eval mode returns (decoded detections, [raw per-level maps])."""

    def __init__(self, nc=2, ch=(8, 16), na=2):
        super().__init__()
        self.nc, self.no, self.na = nc, nc + 5, na
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * na, 1) for c in ch)

    def forward(self, feats):
        z, raw = [], []
        for conv, x in zip(self.m, feats):
            x = conv(x)
            bs, _, ny, nx = x.shape
            x = x.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            raw.append(x)
            z.append(x.sigmoid().view(bs, -1, self.no))
        return torch.cat(z, 1), raw


class TinyDetector(nn.Module):
    def __init__(self, head="yolov5"):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.SiLU())
        self.p4 = nn.Sequential(nn.Conv2d(8, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.SiLU())
        self.detect = TinyDetect()
        self.head = head

    def forward(self, x):
        p3 = self.stem(x)
        det, raw = self.detect([p3, self.p4(p3)])
        if self.head == "yolov5":
            return det, raw
        # ultralytics 8.4: (decoded [B, 4 + nc, N], {"boxes", "scores", "feats": [...]}); None dropped
        return det.transpose(1, 2), {"boxes": det[..., :4], "scores": det[..., 5:], "feats": raw, "aux": None}


def yolov5_style():
    torch.manual_seed(15)
    return _seeded(TinyDetector("yolov5"), (1, 3, 32, 32))


def ultralytics_style():
    torch.manual_seed(15)
    return _seeded(TinyDetector("ultralytics"), (1, 3, 32, 32))


def pixel_detector():
    """builtin:detector's architecture, narrow and untrained: boxes in input pixels, spread over
    the image (yolov5_style's sigmoid boxes are under a pixel, so they all overlap)."""
    from secateurs.models.detector import Detector

    torch.manual_seed(16)
    model = Detector(num_classes=2, widths=(4, 8, 8, 8))
    with torch.no_grad():  # features, not the head's biases, decide the boxes: pruning moves them
        for conv in model.modules():
            if isinstance(conv, nn.Conv2d):
                conv.weight.mul_(3.0)
                if conv.bias is not None:
                    conv.bias.zero_()
    return _seeded(model, (1, 3, 32, 32))


def untrained_detector():
    """pixel_detector with class biases set as YOLOv5/YOLOv8/YOLO11 heads initialise them (far
    negative): every score stays below 0.25, as a real detector's do with random weights."""
    model = pixel_detector()
    with torch.no_grad():
        for conv in model.head:
            conv.bias[4:].fill_(-12.0)  # objectness and classes
    return model


class TwinHeads(nn.Module):
    """Two heads, one a deepcopy of the other, on the same feature map (YOLO26's ``one2one_cv3``
    and ``cv3`` before training): the dynamo exporter merges them into one Conv node."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8))
        self.twin = copy.deepcopy(self.head)

    def forward(self, x):
        f = self.stem(x)
        return self.head(f), {"twin": self.twin(f.detach())}


def twin_heads():
    torch.manual_seed(17)
    return _seeded(TwinHeads(), (1, 3, 16, 16))


class NonTensorOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x), 0.5


def non_tensor_output():
    torch.manual_seed(16)
    return _seeded(NonTensorOutput(), (1, 3, 6, 6))


class ConvLinear(nn.Module):
    """Conv2d and Linear layers, the shape a global prune over both touches."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(self.conv2(torch.relu(self.bn(self.conv(x)))).mean((2, 3)))


def conv_linear():
    torch.manual_seed(17)
    model = ConvLinear()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.3, 0.3)
        model.bn.running_var.uniform_(0.5, 1.5)
    return _seeded(model, (1, 3, 8, 8))


def hooked_everywhere():
    """Every kind of weight-recomputing state, on Conv2d and Linear alike."""
    from torch.nn.utils import parametrize, prune

    model = conv_linear()
    prune.global_unstructured(
        [(model.conv, "weight"), (model.fc, "weight")], pruning_method=prune.L1Unstructured, amount=0.2
    )
    nn.utils.weight_norm(model.conv2)  # hook-based (torch.nn.utils.weight_norm)
    parametrize.register_parametrization(model.bn, "weight", Doubled())
    return model.eval()


class Doubled(nn.Module):
    def forward(self, w):
        return 2 * w


def spectral_normed():
    model = conv_linear()
    nn.utils.spectral_norm(model.fc)  # hook-based
    nn.utils.parametrizations.spectral_norm(model.conv2)  # parametrization-based
    return model.eval()


class WSConv2d(nn.Conv2d):
    """Weight standardization: forward convolves with (w - mean) / std, never w itself."""

    def forward(self, x):
        w = self.weight
        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True) + 1e-5)
        return self._conv_forward(x, w, self.bias)


def weight_standardized():
    torch.manual_seed(18)
    return _seeded(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), WSConv2d(8, 4, 3)), (1, 3, 10, 10))


def recomputing_hook():
    """A forward pre-hook secateurs does not know, which rebuilds the weight from another tensor."""
    model = plain()
    conv = model[2]
    conv.register_buffer("raw", conv.weight.detach().clone())

    def rebuild(module, args):
        module.weight = nn.Parameter(module.raw * 1.0)

    conv.register_forward_pre_hook(rebuild)
    return model


class LazyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.LazyConv2d(8, 3, padding=1, bias=False), nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(8, 1)
        )
        self.fc = nn.LazyLinear(3)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def lazy():
    torch.manual_seed(19)
    return _seeded(LazyNet(), (1, 3, 8, 8))


def lazy_no_shape():
    torch.manual_seed(19)
    return LazyNet().eval()


class Backboned(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        return self.head(self.backbone(x))


def backboned():
    torch.manual_seed(20)
    return _seeded(Backboned(), (1, 3, 8, 8))


def compiled_backbone():
    """A submodule wrapped by torch.compile, as `model.backbone = torch.compile(model.backbone)`."""
    model = backboned()
    model.backbone = torch.compile(model.backbone)
    return model


def spectral_conv():
    model = conv_linear()
    nn.utils.spectral_norm(model.conv)  # hook-based, on a Conv2d
    return model.eval()


class InputNamedOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return {"input": self.conv(x)}


def input_named_output():
    torch.manual_seed(21)
    return _seeded(InputNamedOutput(), (1, 3, 6, 6))


def rewriting_hook():
    """A forward pre-hook that copies a dense master weight into the conv's weight, in place:
    the convolution receives the parameter itself, but never its zeros."""
    model = plain()
    conv = model[2]
    conv.register_buffer("master", conv.weight.detach().clone())

    def restore(module, args):
        with torch.no_grad():
            module.weight.copy_(module.master)

    conv.register_forward_pre_hook(restore)
    return model


LOADS: list[str] = []  # every call of counted(), so a test can prove a model was never loaded


def counted():
    """plain(), recording the call in LOADS: options checkable without the model must fail first."""
    LOADS.append("counted")
    return plain()


class SlowEager(nn.Module):
    """Each eager forward sleeps 0.5 s (never while exporting). With SECATEURS_TEST_HOLD=PATH set,
    a forward after model.onnx exists (validate's) creates PATH and then sleeps up to 120 s: the run
    is certainly mid-way when a test that waited for PATH sends its signal, however loaded the machine."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        if not (torch.jit.is_tracing() or torch.compiler.is_compiling()):
            hold = os.environ.get("SECATEURS_TEST_HOLD")
            if hold and list(Path.cwd().glob("*.staging-*/model.onnx")):
                Path(hold).touch()
                time.sleep(120)
            time.sleep(0.5)
        return self.conv(x)


def slow_eager():
    torch.manual_seed(13)
    return _seeded(SlowEager(), (1, 3, 8, 8))


class Separable(nn.Module):
    """MobileNet-style: stem, depthwise 3x3 + pointwise 1x1 with BatchNorm, pooled Linear head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.dw = nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU()
        )
        self.pw = nn.Sequential(nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.grouped = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        x = self.grouped(self.pw(self.dw(self.stem(x))))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def separable():
    torch.manual_seed(11)
    return _seeded(Separable(), (1, 3, 10, 10))


class Concat(nn.Module):
    """Two branches concatenated on channels, a residual add, and a conv head as the output."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.left = nn.Conv2d(8, 6, 3, padding=1)
        self.right = nn.Conv2d(8, 10, 1)
        self.fuse = nn.Conv2d(16, 8, 1)
        self.out = nn.Conv2d(8, 5, 1)

    def forward(self, x):
        s = torch.relu(self.stem(x))
        y = torch.cat([torch.relu(self.left(s)), torch.relu(self.right(s))], dim=1)
        return self.out(torch.relu(self.fuse(y)) + s)


def concat():
    torch.manual_seed(12)
    return _seeded(Concat(), (1, 3, 8, 8))


class BufferShift(nn.Module):
    """A per-channel buffer added after a conv: a coupling Torch-Pruning's graph does not hold."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 4, 1)
        self.register_buffer("shift", torch.linspace(-1, 1, 8).reshape(8, 1, 1))

    def forward(self, x):
        return self.b(torch.relu(self.a(x) + self.shift))


def buffer_shift():
    torch.manual_seed(13)
    return _seeded(BufferShift(), (1, 3, 6, 6))

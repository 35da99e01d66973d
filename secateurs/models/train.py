"""Train the builtin models and ship their weights: lenet and resnet on the digits train split,
detector on the builtin:shapes train split (``train_detector``).

Run `python -m secateurs.models.train [--model lenet|resnet|detector|all]`. Training is seeded and
deterministic, so rerunning with the same torch version rewrites the same weights; the held-out
accuracy and the settings go into the safetensors metadata, which the tests recheck.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from safetensors.torch import save_file

from secateurs.models import BUILTINS, digits, train_detector

SEED = 0
THREADS = 2
# Per-model settings: fixed epoch counts, Adam with a cosine-decayed learning rate.
SETTINGS: dict[str, dict[str, float | int]] = {
    "lenet": {"epochs": 40, "batch_size": 64, "lr": 3e-3, "weight_decay": 0.0},
    "resnet": {"epochs": 8, "batch_size": 64, "lr": 2e-3, "weight_decay": 1e-4},
}


@torch.no_grad()
def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> int:
    """Return how many images the model classifies correctly (top-1), in eval mode."""
    model.eval()
    correct = 0
    for start in range(0, len(images), 256):
        logits = model(images[start : start + 256])
        correct += int((logits.argmax(1) == labels[start : start + 256]).sum())
    return correct


def fit(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int = 0,
    after_step: Callable[[float], None] | None = None,
    after_epoch: Callable[[int], None] | None = None,
) -> None:
    """Adam with a cosine learning rate per step, cross-entropy on shuffled batches of (x, y).
    ``after_step(loss)`` runs after each optimizer step (fine-tuning re-applies its masks
    there), ``after_epoch(epoch)`` after each epoch; neither changes the numbers."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-len(x) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if after_step is not None:
                after_step(float(loss.detach()))
        if after_epoch is not None:
            after_epoch(epoch)


def train(name: str) -> dict[str, str]:
    """Train one builtin from scratch, save its weights, and return the metadata written."""
    if name == "detector":
        return train_detector.train(BUILTINS[name].weights)
    settings = SETTINGS[name]
    epochs, batch_size = int(settings["epochs"]), int(settings["batch_size"])
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(THREADS)

    x_train, y_train = digits.load_split("train")
    x_test, y_test = digits.load_split("test")
    model = BUILTINS[name].factory()
    started = time.perf_counter()
    fit(model, x_train, y_train, epochs, batch_size, settings["lr"], settings["weight_decay"], SEED)
    seconds = time.perf_counter() - started

    correct = evaluate(model, x_test, y_test)
    accuracy = correct / len(y_test)
    metadata = {
        "model": name,
        "test_accuracy": repr(accuracy),
        "test_correct": str(correct),
        "test_count": str(len(y_test)),
        "dataset": "sklearn load_digits, upscaled 8x8->32x32 bilinear",
        "split_seed": str(digits.SPLIT_SEED),
        "test_fraction": str(digits.TEST_FRACTION),
        "normalize_mean": str(digits.MEAN),
        "normalize_std": str(digits.STD),
        "seed": str(SEED),
        "threads": str(THREADS),
        "optimizer": "Adam, cosine LR per step",
        "torch_version": torch.__version__,
        **{k: str(v) for k, v in settings.items()},
    }
    path = BUILTINS[name].weights
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=metadata)
    print(
        f"{name}: held-out top-1 {accuracy:.4f} ({correct}/{len(y_test)}), "
        f"trained {seconds:.1f}s, wrote {path} ({path.stat().st_size} bytes)"
    )
    return metadata


def main(argv: list[str] | None = None) -> None:
    """Parse --model and train the chosen builtin(s)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*BUILTINS, "all"], default="all")
    args = parser.parse_args(argv)
    for name in BUILTINS if args.model == "all" else [args.model]:
        train(name)


if __name__ == "__main__":
    main()

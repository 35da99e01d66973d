"""Stand-ins for a sweep ``Tuner`` and a sensitivity ``Probe`` whose accuracy drop is a known
function of the amount, so the search algorithms can be checked against the exact answer
without loading a model or running a forward pass."""

from __future__ import annotations

from types import SimpleNamespace

from secateurs.tuning.tuner import Tuner


class StubTuner:
    """What ``auto_amount`` and ``sweep`` use of a Tuner: ``labelled``, ``data``, ``evaluate`` and
    (the real Tuner's) ``check_budgets``.

    ``drop(amount)`` is the accuracy drop (labelled) and ``1 - agreement(amount)`` the top-1
    disagreement; sparsity equals the amount. Every evaluate call is recorded in ``calls``.
    """

    task = None  # a classifier
    check_budgets = Tuner.check_budgets

    def __init__(self, drop=lambda a: a**2, agreement=None, labelled: bool = True, n: int = 100):
        self.drop = drop
        self.agreement = agreement or (lambda a: 1.0 - drop(a))
        self.labelled = labelled
        self.data = SimpleNamespace(source="stub:data", n=n, labels=[0] * n if labelled else None)
        self.calls: list[float] = []
        self.sized: list[float] = []

    def evaluate(self, amount: float) -> dict:
        self.calls.append(amount)
        row = {
            "amount": amount,
            "sparsity": amount,
            "metrics": {"top1_agreement": self.agreement(amount)},
            "deltas": {},
        }
        if self.labelled:
            row["metrics"]["accuracy"] = 0.9 - self.drop(amount)
            row["deltas"]["accuracy"] = -self.drop(amount)
        return row  # a fresh dict each call, as Tuner.evaluate returns a copy

    def artifact_sizes(self, amount: float, timed=None) -> tuple[dict[str, int], str]:
        assert timed is None  # a stub has no model.onnx to time
        self.sized.append(amount)
        return {"model.onnx": 1000, "model.onnx.spz": round(1000 * (1 - amount)) + 10}, "exported"


class StubProbe:
    """What ``sensitivity``, ``build_recipe`` and ``uniform_within`` use of a Probe.

    The drop of a set of per-layer amounts is ``sum(weight[layer] * amount**2)``: additive,
    monotone in every layer, and 0 with nothing pruned. ``tuner`` evaluates a uniform amount
    with the same function, so ``uniform_within`` sees the same model.
    """

    def __init__(self, weights: dict[str, float], numel: dict[str, int], labelled: bool = True, n=100):
        self.layers = list(weights)
        self.weights = weights
        self.numel = [numel[name] for name in self.layers]
        self.labelled = labelled
        self.key = "accuracy" if labelled else "agreement"
        self.metric = "accuracy drop" if labelled else "1 - top-1 agreement"
        self.evaluations = 0
        self.measured: list[dict[str, float]] = []
        total = sum(weights.values())
        self.tuner = StubTuner(drop=lambda a: total * a**2, labelled=labelled, n=n)

    def drop_of(self, layer_amounts: dict[str, float]) -> float:
        return sum(self.weights[name] * a**2 for name, a in layer_amounts.items())

    def sparsity_of(self, layer_amounts: dict[str, float]) -> float:
        removed = sum(round(layer_amounts.get(name, 0.0) * k) for name, k in zip(self.layers, self.numel))
        return removed / sum(self.numel)

    def measure(self, layer_amounts: dict[str, float]) -> tuple[float, float]:
        unknown = set(layer_amounts) - set(self.layers)
        assert not unknown, f"measured unknown layers {unknown}"
        self.measured.append(dict(layer_amounts))
        self.evaluations += 1
        return self.drop_of(layer_amounts), self.sparsity_of(layer_amounts)

"""Result objects shared by every validator, in the Polygraphy style: data, not exceptions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class OutputCompare:
    """One output of one run compared against its reference."""

    name: str
    passed: bool
    max_abs: float = 0.0
    max_rel: float = 0.0
    mean_abs: float = 0.0
    n_bad: int = 0
    numel: int = 0
    atol: float = 0.0
    rtol: float = 0.0
    message: str = ""

    def __bool__(self) -> bool:
        return self.passed


@dataclass
class Check:
    """One named check on one artifact, e.g. ('model.onnx', 'onnxruntime vs torch @ 1x1x32x32').

    A check with nothing to check (zero tensors encoded, zero layers pruned) is not a pass:
    it is *not applicable* (``applicable=False``, ``passed=False``, ``detail`` the reason).
    It neither counts as passed nor fails the run.
    """

    artifact: str
    name: str
    passed: bool
    detail: str = ""
    outputs: list[OutputCompare] = field(default_factory=list)
    applicable: bool = True

    def __bool__(self) -> bool:
        return self.passed

    @classmethod
    def not_applicable(cls, artifact: str, name: str, reason: str) -> Check:
        return cls(artifact, name, False, reason, applicable=False)

    @property
    def failed(self) -> bool:
        return self.applicable and not self.passed

    @property
    def verdict(self) -> str:
        """PASS, FAIL or n/a, as every rendering writes it."""
        return verdict_word(self.passed, self.applicable)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Check:
        outputs = [OutputCompare(**o) for o in data.get("outputs", [])]
        return cls(**{**data, "outputs": outputs})


def check_failed(check: dict) -> bool:
    """``Check.failed`` for a check read back from report.json: a not-applicable check
    (``applicable: false``, ``passed: false``) is no failure."""
    return check.get("applicable", True) and not check["passed"]


@dataclass
class ValidationResult:
    checks: list[Check] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)  # input shapes run, e.g. "1x3x224x224"
    provider: str = "CPUExecutionProvider"  # the onnxruntime execution provider the artifacts ran on
    tolerances: dict = field(default_factory=dict)  # provider -> {"atol", "rtol"} (validators.tolerances)

    def __bool__(self) -> bool:
        """Passed: at least one check passed and none failed (not-applicable ones are neither)."""
        return any(c.passed for c in self.checks) and not self.failures

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    @property
    def not_applicable(self) -> list[Check]:
        return [c for c in self.checks if not c.applicable]

    def add(self, check: Check) -> None:
        self.checks.append(check)

    def to_json(self) -> dict:
        return {
            "passed": bool(self),
            "n_checks": len(self.checks),
            "n_failed": len(self.failures),
            "n_not_applicable": len(self.not_applicable),
            "shapes": self.shapes,
            "provider": self.provider,
            "tolerances": self.tolerances,
            "checks": [c.to_json() for c in self.checks],
        }

    @classmethod
    def from_json(cls, data: dict) -> ValidationResult:
        return cls(
            [Check.from_json(c) for c in data.get("checks", [])],
            data.get("shapes", []),
            data.get("provider", "CPUExecutionProvider"),
            data.get("tolerances", {}),
        )


def verdict_word(passed: bool, applicable: bool = True) -> str:
    """PASS, FAIL or n/a: one spelling for the report, the terminal and JUnit."""
    return "n/a" if not applicable else ("PASS" if passed else "FAIL")

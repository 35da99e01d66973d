"""JUnit XML from validation checks and accuracy gates, for CI test reporters.

The subset written is the one GitHub reporters (dorny/test-reporter,
mikepenz/action-junit-report), GitLab's ``artifacts:reports:junit`` and Jenkins all read:
``<testsuites><testsuite><testcase classname name><failure message type>``. One testcase
per artifact output compared, per other check, and per accuracy gate, so a CI page lists
each verdict. No timestamps or durations: the same results give the same bytes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from secateurs.errors import OutputError
from secateurs.files import write_bytes
from secateurs.validators.results import Check, OutputCompare

GATE_CLASSNAME = "accuracy gate"
Case = tuple  # (classname, name, None or (failure message, failure text) or Skipped)
# Characters XML 1.0 cannot hold even escaped (control characters, lone surrogates, U+FFFE/F).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Skipped(str):
    """A not-applicable check: a <skipped message=reason/> testcase, neither passed nor failed."""


def write_junit(path: Path, suite: str, checks: list[Check], gates: list[dict] | None = None) -> None:
    """Write ``checks`` and ``gates`` (report.json's evaluation.gates) as one JUnit suite at ``path``.

    The parent directory is created (CI jobs pass e.g. reports/junit.xml); the file is
    replaced atomically.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{path}: cannot create its directory ({e.strerror or e})") from e
    write_bytes(path, render(suite, checks, gates))


def render(suite: str, checks: list[Check], gates: list[dict] | None = None) -> bytes:
    cases = [case for check in _numbered(checks) for case in _check_cases(check)]
    cases += [_gate_case(g) for g in gates or []]
    _make_unique(cases)
    skipped = sum(1 for *_, failure in cases if isinstance(failure, Skipped))
    failures = sum(1 for *_, failure in cases if failure is not None) - skipped
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0"}
    root = ET.Element("testsuites", {"name": _clean(suite), **counts, "time": "0"})
    element = ET.SubElement(
        root, "testsuite", {"name": _clean(suite), **counts, "skipped": str(skipped), "time": "0"}
    )
    for classname, name, failure in cases:
        case = ET.SubElement(
            element, "testcase", {"classname": _clean(classname), "name": _clean(name), "time": "0"}
        )
        if isinstance(failure, Skipped):
            ET.SubElement(case, "skipped", {"message": _clean(f"not applicable: {failure}")})
        elif failure is not None:
            message, text = failure
            kind = "GateFailed" if classname == GATE_CLASSNAME else "ValidationFailed"
            node = ET.SubElement(case, "failure", {"message": _clean(message), "type": kind})
            node.text = _clean(text)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _check_cases(check: Check) -> list[Case]:
    """One case per compared output; a check without outputs (or failing for another reason) is one case."""
    if not check.applicable:
        return [(check.artifact, check.name, Skipped(check.detail or "nothing to check"))]
    cases = [
        (check.artifact, f"{check.name} [{o.name}]", None if o.passed else _output_failure(check, o))
        for o in check.outputs
    ]
    if not cases or (not check.passed and all(o.passed for o in check.outputs)):
        failure = None if check.passed else (check.detail or "failed", _check_text(check))
        cases.append((check.artifact, check.name, failure))
    return cases


def _output_failure(check: Check, o: OutputCompare) -> tuple[str, str]:
    numbers = f"max_abs={_num(o.max_abs)} max_rel={_num(o.max_rel)} atol={_num(o.atol)} rtol={_num(o.rtol)}"
    message = f"{o.message or 'outside tolerance'} ({numbers})"
    text = (
        f"{check.artifact}: {check.name}, output {o.name!r}\n{message}\n"
        f"mean_abs={_num(o.mean_abs)} n_bad={o.n_bad} of numel={o.numel};"
        f" an element fails where |a - b| > atol + rtol * |b|, or where either is NaN/Inf"
    )
    return message, text


def _check_text(check: Check) -> str:
    return f"{check.artifact}: {check.name}\n{check.detail or 'failed'}"


def _gate_case(gate: dict) -> Case:
    judged, metric = gate.get("judged", "?"), gate.get("metric")
    name = f"{judged}: {metric}" if metric else str(judged)
    if gate.get("passed"):
        return (GATE_CLASSNAME, name, None)
    detail = gate.get("detail") or "failed"
    text = f"{name}: {detail}\nvalue={_num(gate.get('value'))} limit={_num(gate.get('limit'))}"
    return (GATE_CLASSNAME, name, (detail, text))


def _numbered(checks: list[Check]) -> list[Check]:
    """Repeated checks (one per seeded input) get ' #2', ' #3'...: reporters merge equal names."""
    seen: dict[tuple[str, str], int] = {}
    numbered = []
    for check in checks:
        n = seen[check.artifact, check.name] = seen.get((check.artifact, check.name), 0) + 1
        numbered.append(replace(check, name=f"{check.name} #{n}") if n > 1 else check)
    return numbered


def _make_unique(cases: list[Case]) -> None:
    """Whatever still repeats (e.g. an output listed twice) is numbered the same way."""
    seen: dict[tuple[str, str], int] = {}
    for i, (classname, name, failure) in enumerate(cases):
        n = seen[classname, name] = seen.get((classname, name), 0) + 1
        if n > 1:
            cases[i] = (classname, f"{name} #{n}", failure)


def _num(x) -> str:
    """report.json stores non-finite floats as the strings 'inf'/'nan'; print them as they are."""
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def _clean(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))

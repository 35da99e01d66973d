"""Read the few keys of an ultralytics ``data.yaml`` that evaluation needs, without PyYAML.

Only top-level ``path``, ``train``, ``val``, ``test``, ``nc`` and ``names`` are read; every other
key is skipped with its indented block (ultralytics files carry ``download:`` scripts). Values are
plain or quoted scalars, flow lists ``[a, 'b c']``, block lists (``- a``) and, for ``names``, block
mappings (``  0: person``). Anything else under a read key raises InputError naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path

from secateurs.errors import InputError

KEYS = ("path", "train", "val", "test", "nc", "names")
_FLOW_ITEM = re.compile(r"""\s*('[^']*'|"[^"]*"|[^,]+)\s*(?:,|$)""")


def read_data_yaml(path: Path) -> dict[str, object]:
    """Return the read keys: str/int scalars, lists of them, or ``{int: str}`` for names.

    Raises InputError (naming the file and line) for an unreadable file or syntax outside the subset.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({e})") from e
    out: dict[str, object] = {}
    key = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).rstrip()
        if not line.strip() or line.strip() == "---":
            continue
        where = f"{path}:{lineno}"
        if not line[0].isspace():
            key, sep, value = line.partition(":")
            if not sep:
                raise InputError(f"{where}: expected 'key: value', got {line.strip()[:80]!r}")
            key, value = key.strip(), value.strip()
            if key in KEYS:
                out[key] = _value(value, where) if value else None
        elif key in KEYS:
            out[key] = _block_entry(out[key], line.strip(), where)
    return out


def _block_entry(current, entry: str, where: str):
    if entry.startswith("- ") and isinstance(current, (list, type(None))):
        return [*(current or []), _scalar(entry[2:].strip())]
    k, sep, v = entry.partition(":")
    if sep and k.strip().isdigit() and isinstance(current, (dict, type(None))):
        return {**(current or {}), int(k): str(_scalar(v.strip()))}
    raise InputError(f"{where}: unsupported YAML here (expected '- item' or 'N: name'): {entry[:80]!r}")


def _value(value: str, where: str):
    if value.startswith("["):
        if not value.endswith("]"):
            raise InputError(f"{where}: a flow list must open and close on one line")
        return [_scalar(m.group(1)) for m in _FLOW_ITEM.finditer(value[1:-1]) if m.group(1).strip()]
    if value.startswith(("{", "|", ">", "&", "*", "!")):
        raise InputError(f"{where}: unsupported YAML value {value[:80]!r} (use a list or a block mapping)")
    return _scalar(value)


def _scalar(value: str) -> str | int:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return int(value) if re.fullmatch(r"[+-]?\d+", value) else value


def _strip_comment(line: str) -> str:
    """Drop a ``#`` comment that starts the line or follows a space, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line

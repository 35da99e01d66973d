"""Per-layer pruning recipes: ``{"schema": "secateurs.recipe/1", "default": 0.0, "layers": {name: amount}}``.

``secateurs sensitivity --max-accuracy-drop`` writes one; ``secateurs run --recipe FILE`` prunes each
listed layer by its own amount. ``default`` (optional) is the amount for layers the
recipe does not list; without it the run's ``--amount`` applies. A recipe is JSON, which
is also valid YAML; ``.yaml``/``.yml`` files are read with PyYAML when it is installed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from secateurs.config import STRUCTURES, RunConfig, check_fraction
from secateurs.errors import InputError, UsageError
from secateurs.files import write_json

SCHEMA = "secateurs.recipe/1"


def _amount(path: Path, where: str, value) -> float:
    return check_fraction(f"{path}: {where}", value, InputError)


def _parse(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: recipe file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read recipe ({e})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:  # PyYAML is optional (in no extra): imported only for a .yaml recipe
            import yaml
        except ImportError:
            raise InputError(f"{path}: YAML recipes need PyYAML (pip install pyyaml); or use JSON") from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InputError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


def read_recipe(path: Path) -> tuple[dict[str, float], float | None]:
    """(layer amounts, default amount or None), every value checked; InputError names the file."""
    path = Path(path)
    data = _parse(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: a recipe must be an object with a 'layers' mapping")
    if data.get("schema", SCHEMA) != SCHEMA:
        raise InputError(f"{path}: unknown recipe schema {data.get('schema')!r}, expected {SCHEMA!r}")
    layers = data.get("layers")
    if not isinstance(layers, dict) or not layers:
        raise InputError(f"{path}: 'layers' must be a non-empty mapping of layer name to amount")
    amounts = {}
    for name, value in layers.items():
        if not isinstance(name, str) or not name:
            raise InputError(f"{path}: layer names must be non-empty strings, got {name!r}")
        amounts[name] = _amount(path, f"layers[{name!r}]", value)
    default = data.get("default")
    return amounts, None if default is None else _amount(path, "'default'", default)


def run_as_measured(cfg: RunConfig, round_to_given: bool) -> RunConfig:
    """``cfg`` set to cut what its --recipe's measurement cut: a channel recipe's meta.round_to
    unless the caller gave a round-to itself (a different one is a UsageError); the recipe's
    --structure is checked (``measured_with``). Torch-free; used by the CLI and the API."""
    if cfg.recipe is None:
        return cfg
    round_to = measured_with(cfg.recipe, cfg.structure)
    if round_to is None or round_to == cfg.round_to:
        return cfg
    if not round_to_given:
        return replace(cfg, round_to=round_to)
    raise UsageError(
        f"{cfg.recipe} was measured with --round-to {round_to}; give --round-to {round_to} or leave it out"
    )


def measured_with(path: Path, structure: str) -> int | None:
    """How ``path`` was measured, checked against this run: a recipe written by ``sensitivity
    --structure S`` (its meta.structure) prunes with S only, since its amounts are fractions of
    channels or of weights (UsageError otherwise; a recipe without meta.structure, written by
    hand, fits either). Returns the channel recipe's meta.round_to (null, as recipes written
    before rounding became the default say, means 1: exact counts), else None."""
    data = _parse(Path(path))
    meta = data.get("meta") if isinstance(data, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    made = meta.get("structure")
    if made is not None and made not in STRUCTURES:
        raise UsageError(f"{path}: meta.structure {made!r} is not one of {', '.join(STRUCTURES)}")
    if made is not None and made != structure:
        raise UsageError(
            f"{path}: this recipe was made by `secateurs sensitivity --structure {made}` and its amounts"
            f" are fractions of {'channels' if made == 'channels' else 'weights'}; run it with"
            f" --structure {made}"
        )
    if made != "channels" or "round_to" not in meta:
        return None
    round_to = meta["round_to"]
    if round_to is None:
        return 1
    if isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1:
        raise UsageError(f"{path}: meta.round_to must be an integer >= 1 (or null), got {round_to!r}")
    return round_to


def write_recipe(path: Path, layers: dict[str, float], default: float | None = None, **meta) -> None:
    """Write a recipe atomically; ``meta`` (budget, measured drop ...) goes under "meta"."""
    data: dict = {"schema": SCHEMA}
    if default is not None:
        data["default"] = float(default)
    data["layers"] = {name: float(a) for name, a in layers.items()}
    if meta:
        data["meta"] = meta
    write_json(Path(path), data)

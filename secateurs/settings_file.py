"""Settings from the user's repo: ``secateurs.toml``, or ``[tool.secateurs]`` in pyproject.toml.

Part of the CLI layer. The file becomes click's ``default_map``, so a flag given on the
command line always overrides the file (click's own precedence), and a value from the file
goes through the same type check as the flag. Top-level keys apply to every command that
has that option; a table named after a command (``[run]``, ``[tool.secateurs.sweep]``)
overrides them for that command. Relative paths in the file are relative to the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click

from secateurs.errors import UsageError

SETTINGS_TOML = "secateurs.toml"
PYPROJECT = "pyproject.toml"
COMMA_LISTS = ("formats", "input-shape", "amounts")  # a TOML list is joined with ","
REPEATED = ("max-drop",)  # a TOML list is the option given once per item
COMMAND_LINE_ONLY = ("trust-model-code",)  # a file in a cloned repo must not grant it
SPEC_OR_PATH = ("model", "eval", "finetune-data")  # a path when it has no ':' (builtin:NAME, pkg.mod:factory)


@dataclass(frozen=True)
class Settings:
    path: Path  # absolute
    shown: str  # as the report and error messages name it
    prefix: str  # "" for secateurs.toml, "tool.secateurs." for pyproject.toml
    table: dict
    cwd: Path  # where relative paths on the command line start


def find(start: Path) -> Path | None:
    """The nearest settings file from ``start`` upwards; the walk ends at a ``.git`` directory."""
    for directory in (start, *start.parents):
        candidates = [directory / SETTINGS_TOML] if (directory / SETTINGS_TOML).is_file() else []
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and _pyproject_table(pyproject, shown(pyproject, start)) is not None:
            candidates.append(pyproject)
        if len(candidates) == 2:
            raise UsageError(
                f"{shown(directory, start)}: both {SETTINGS_TOML} and {PYPROJECT} [tool.secateurs]"
                " hold settings; keep one, or choose with --config FILE"
            )
        if candidates:
            return candidates[0]
        if (directory / ".git").exists():
            return None
    return None


def load(path: Path, cwd: Path) -> Settings:
    """A secateurs.toml (its top level is the settings) or a pyproject.toml's [tool.secateurs]."""
    path = path.resolve()
    name = shown(path, cwd)
    if path.name == PYPROJECT:
        table = _pyproject_table(path, name)
        if table is None:
            raise UsageError(f"{name}: has no [tool.secateurs] table")
        return Settings(path, name, "tool.secateurs.", table, cwd.resolve())
    return Settings(path, name, "", parse_toml(path, name), cwd.resolve())


def shown(path: Path, cwd: Path) -> str:
    """``path`` relative to ``cwd`` where it is under cwd or one of its parents, else absolute."""
    path, cwd = path.resolve(), cwd.resolve()
    if path == cwd or cwd in path.parents or path.parent in (cwd, *cwd.parents):
        return os.path.relpath(path, cwd)
    return str(path)


def default_map(settings: Settings, commands: dict[str, click.Command], invoked: str | None) -> dict:
    """{command: {param name: value}} for click; the invoked command's values are type-checked.

    Unknown keys are rejected for every command, so a typo fails whichever command runs.
    """
    options = {name: _settable(cmd) for name, cmd in commands.items()}
    known = sorted(set().union(*options.values()))
    scalars = {k: v for k, v in settings.table.items() if not isinstance(v, dict)}
    only = next(iter(commands)) if len(commands) == 1 else None  # a jobs file: `run`'s keys only
    top, tables = _keys(settings, "", scalars, set(known), only), {}
    for key, value in settings.table.items():
        if isinstance(value, dict):
            if key not in commands:
                hint = "; in secateurs.toml the settings sit at the top level" if key == "tool" else ""
                raise UsageError(
                    f"{settings.shown}: {settings.prefix}{key}: not a command{hint}; tables are named"
                    f" after one: {', '.join(sorted(commands))}"
                )
            tables[key] = _keys(settings, f"{key}.", value, set(options[key]), key)
    result = {}
    for name, cmd in commands.items():
        values = {k: v for k, v in top.items() if k in options[name]} | tables.get(name, {})
        if not values:
            continue
        params = options[name]
        result[name] = {
            params[k].name: _value(settings, dotted, params[k], v) for k, (dotted, v) in values.items()
        }
        if name == invoked:
            _check(settings, cmd, params, values, result[name])
    return result


def _settable(cmd: click.Command) -> dict[str, click.Parameter]:
    """Key (long flag without dashes) -> param; hidden, help and command-line-only options excluded."""
    found = {}
    for p in cmd.params:
        if isinstance(p, click.Argument):
            if p.name == "model":
                found["model"] = p
            continue
        if getattr(p, "hidden", False) or p.name == "help":
            continue
        for opt in p.opts:
            if opt.startswith("--") and opt[2:] not in COMMAND_LINE_ONLY:
                found[opt[2:]] = p
    return found


def _keys(settings: Settings, where: str, table: dict, valid: set[str], command: str | None) -> dict:
    """Normalized key (dashes) -> (dotted key as written, value); unknown or doubled keys fail."""
    out = {}
    for key, value in table.items():
        dotted = f"{settings.prefix}{where}{key}"
        norm = key.replace("_", "-")
        if norm in COMMAND_LINE_ONLY:
            raise UsageError(f"{settings.shown}: {dotted}: --{norm} can only be given on the command line")
        if isinstance(value, dict):
            raise UsageError(f"{settings.shown}: {dotted}: a table is not allowed here")
        if norm not in valid:
            what = f"an option of `secateurs {command}`" if command else "an option of any command"
            raise UsageError(
                f"{settings.shown}: {dotted}: unknown setting, not {what}; valid: {', '.join(sorted(valid))}"
            )
        if norm in out:
            raise UsageError(f"{settings.shown}: {dotted}: given twice (as {out[norm][0]})")
        out[norm] = (dotted, value)
    return out


def _value(settings: Settings, dotted: str, param: click.Parameter, value):
    """A TOML value as the command line would spell it: lists joined, paths made relative to cwd."""
    key = dotted.rsplit(".", 1)[-1].replace("_", "-")
    if isinstance(value, list):
        if key not in COMMA_LISTS + REPEATED:
            raise UsageError(
                f"{settings.shown}: {dotted}: a list is only allowed for {', '.join(COMMA_LISTS + REPEATED)}"
            )
        if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
            raise UsageError(f"{settings.shown}: {dotted}: list items must be strings or numbers")
        return tuple(str(v) for v in value) if key in REPEATED else ",".join(str(v) for v in value)
    if not isinstance(value, (str, int, float, bool)):
        raise UsageError(f"{settings.shown}: {dotted}: {value!r} is not a string, number, boolean or list")
    is_path = isinstance(param.type, click.Path) or (key in SPEC_OR_PATH and ":" not in str(value))
    if is_path and isinstance(value, str) and value:
        return _rebase(value, settings.path.parent, settings.cwd)
    if getattr(param, "multiple", False):  # --exclude: one value, as on the command line
        return (value,)
    return value


def _rebase(value: str, base: Path, cwd: Path) -> str:
    """A path written relative to the settings file, as seen from the current directory."""
    if Path(value).is_absolute() or base == cwd:
        return value
    target = os.path.normpath(base / value)
    return os.path.relpath(target, cwd) if base in cwd.parents else target


def _check(settings: Settings, cmd: click.Command, params: dict, values: dict, converted: dict) -> None:
    """Run each value through its option's type now, so a bad one names the file."""
    ctx = click.Context(cmd, info_name=cmd.name)
    for key, (dotted, _raw) in values.items():
        param = params[key]
        try:
            param.type_cast_value(ctx, converted[param.name])
        except click.BadParameter as e:
            raise UsageError(f"{settings.shown}: {dotted}: {e.message}") from None


def parse_toml(path: Path, name: str) -> dict:
    """The TOML file ``path`` as a dict; unreadable or invalid TOML is a UsageError naming ``name``."""
    toml = _tomllib(name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{name}: cannot read ({getattr(e, 'strerror', None) or e})") from e
    try:
        return toml.loads(text)
    except toml.TOMLDecodeError as e:
        raise UsageError(f"{name}: invalid TOML: {e}") from None


def _pyproject_table(path: Path, name: str) -> dict | None:
    """[tool.secateurs] of a pyproject.toml, or None; one that never says 'secateurs' is not parsed."""
    try:
        if b"secateurs" not in path.read_bytes():
            return None
    except OSError:
        return None
    tool = parse_toml(path, name).get("tool", {})
    table = tool.get("secateurs") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise UsageError(f"{name}: tool.secateurs must be a table")
    return table


def _tomllib(name: str):
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise UsageError(f"{name}: reading it needs Python >= 3.11 or `pip install tomli`") from None
    return tomllib


def use(ctx: click.Context, path: Path | None, skip: bool) -> str | None:
    """The group's part: find or load the file, install its default_map; returns its name."""
    if path is not None and skip:
        raise UsageError("give --config FILE or --no-config, not both")
    if skip:
        return None
    cwd = Path.cwd()
    if path is None:
        path = find(cwd.resolve())
        if path is None:
            return None
        click.echo(f"secateurs: using settings from {shown(path, cwd)}", err=True)
    settings = load(path, cwd)
    ctx.default_map = default_map(settings, ctx.command.commands, ctx.invoked_subcommand)
    return settings.shown


def from_file(ctx: click.Context, names) -> tuple[str, ...]:
    """Which of ``names`` took their value from the settings file (no flag given)."""
    source = click.core.ParameterSource.DEFAULT_MAP
    return tuple(sorted(n for n in names if ctx.get_parameter_source(n) is source))


def recorded(cfg, ctx: click.Context, names):
    """A resumed RunConfig (export, validate) that also records this stage's values from the file.

    The earlier stage's record stays where this stage took nothing from a file, and is
    merged where both used the same file.
    """
    from dataclasses import replace

    now, used = from_file(ctx, names), (ctx.obj or {}).get("settings")
    if not now:
        return cfg
    earlier = cfg.settings_from_file if cfg.settings_file == used else ()
    return replace(cfg, settings_file=used, settings_from_file=tuple(sorted({*earlier, *now})))

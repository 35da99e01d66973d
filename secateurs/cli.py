"""The `secateurs` command line: `run` for the whole pipeline, one command per stage.

Only the CLI (this module and secateurs/commands/) reads click; it builds a RunConfig
and hands it to the runner.
Errors print one line on stderr and exit with the code documented in the README.
"""

from __future__ import annotations

import signal
import sys
import traceback
from pathlib import Path

import click

from secateurs import __version__
from secateurs.batch.command import batch
from secateurs.commands.export import export
from secateurs.commands.prune import prune
from secateurs.commands.report import report_command
from secateurs.commands.run import run
from secateurs.commands.sensitivity import sensitivity
from secateurs.commands.spz import inspect, pack, unpack
from secateurs.commands.sweep import sweep
from secateurs.commands.validate import validate
from secateurs.commands.verify import verify
from secateurs.errors import EXIT_CODES, EXIT_USAGE, SecateursError


def exit_code_help(codes=tuple(EXIT_CODES)) -> str:
    """The "Exit codes:" epilog of a command's --help, listing only ``codes``."""
    return "\b\nExit codes:\n" + "\n".join(f"  {code}  {EXIT_CODES[code]}" for code in codes)


EXIT_CODE_HELP = exit_code_help()

# What each command can return (README "Exit codes"): 0 ok, 1 validation failed, 2 usage,
# 3 input, 4 export, 5 output, 6 accuracy gate.
COMMAND_EXIT_CODES = {
    "run": (0, 1, 2, 3, 4, 5, 6),
    "prune": (0, 2, 3, 5),
    "export": (0, 2, 3, 4, 5),
    "validate": (0, 1, 2, 3, 5),
    "report": (0, 2, 3, 5),
    "pack": (0, 2, 3, 5),
    "unpack": (0, 2, 3, 5),
    "inspect": (0, 2, 3),
    "sweep": (0, 2, 3, 4, 5),
    "sensitivity": (0, 2, 3, 5),
    "verify": (0, 1, 2, 3, 5),
    "batch": (0, 1, 2, 3, 4, 5, 6),
}


class SecateursGroup(click.Group):
    """Turns SecateursError into one stderr line and its exit code; --debug adds the traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SecateursError as e:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"secateurs: error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("secateurs: interrupted; no outputs were promoted", err=True)
            ctx.exit(130)
        except ModuleNotFoundError as e:
            missing = (e.name or "").split(".")[0]
            if missing not in EXPORT_EXTRA_MODULES:
                raise
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            command = ctx.invoked_subcommand or "this command"
            click.echo(
                f"secateurs: error: `secateurs {command}` needs {missing}, which is not installed;"
                " install the export extra: pip install 'secateurs[export]'"
                " (verify, unpack and inspect work without it)",
                err=True,
            )
            ctx.exit(EXIT_USAGE)


# Imported only by commands that load, prune or export a model (pyproject's [export] extra).
EXPORT_EXTRA_MODULES = {"torch", "onnxscript", "scipy", "safetensors", "sklearn", "matplotlib"}


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; the staging context managers clean up as it propagates.

    A subclass on purpose: when a bare KeyboardInterrupt leaves code run through PyRun_String
    (pybind11's ``py::exec``/``py::eval`` in extension modules), CPython records it as unhandled
    and ends the process by SIGINT at exit (status -2), even after the CLI caught it and asked
    for exit code 130. That check compares the exact type, so a subclass keeps the exit code.
    """


def _interrupt(signum, frame):
    raise Interrupted


def _install_interrupt_handlers() -> None:
    """SIGINT and SIGTERM raise Interrupted; a signal the parent set to be ignored stays ignored."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _interrupt)


@click.group(cls=SecateursGroup, epilog=EXIT_CODE_HELP)
@click.version_option(__version__, prog_name="secateurs")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Settings: a secateurs.toml, or a pyproject.toml with [tool.secateurs]. Flags override it."
    " [default: the nearest one from here up to the repository root]",
)
@click.option("--no-config", is_flag=True, help="Read no settings file.")
@click.pass_context
def main(ctx, debug, config_file, no_config):
    """Prune a PyTorch CNN's Conv2d weights, export small sparse artifacts, and prove they match.

    \b
    Examples:
      secateurs run builtin:resnet --amount 0.3 --out artifacts/demo
      secateurs run torchvision.models:resnet18 --input-shape 1,3,224,224 --weights r18.safetensors
      secateurs prune builtin:lenet --amount 0.5 --out work && secateurs export work \\
        && secateurs validate work && secateurs report work
    """
    from secateurs.settings_file import use  # on use: settings files are not read for --help

    ctx.obj = {"debug": debug}
    _install_interrupt_handlers()
    ctx.obj["settings"] = use(ctx, config_file, no_config)


def _register_commands() -> None:
    for command in (
        run,
        prune,
        export,
        validate,
        report_command,
        pack,
        unpack,
        inspect,
        sweep,
        sensitivity,
        verify,
        batch,
    ):
        command.epilog = exit_code_help(COMMAND_EXIT_CODES[command.name])
        main.add_command(command)


_register_commands()


if __name__ == "__main__":
    sys.exit(main())

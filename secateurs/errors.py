"""User-facing errors. Each class carries the process exit code the CLI uses for it.

Programmer errors (TypeError, AttributeError, ...) are never wrapped: they surface as
tracebacks, because they are bugs, not bad input.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VALIDATION = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_EXPORT = 4
EXIT_OUTPUT = 5
EXIT_GATE = 6

EXIT_CODES = {
    EXIT_OK: "ok",
    EXIT_VALIDATION: "validation failed",
    EXIT_USAGE: "usage error",
    EXIT_INPUT: "input cannot be loaded or is invalid",
    EXIT_EXPORT: "export failed",
    EXIT_OUTPUT: "output/I-O error",
    EXIT_GATE: "accuracy gate failed (pruning cost more than the budget)",
}


class SecateursError(Exception):
    """Base class: a failure the user can act on, printed as one line."""

    exit_code = EXIT_INPUT


class UsageError(SecateursError):
    """A bad option value or combination (exit 2)."""

    exit_code = EXIT_USAGE


class InputError(SecateursError):
    """A model, weights file or artifact that cannot be loaded or is invalid (exit 3)."""

    exit_code = EXIT_INPUT


class ExportError(SecateursError):
    """The exporter could not turn the model into an artifact (exit 4)."""

    exit_code = EXIT_EXPORT


class OutputError(SecateursError):
    """Writing or promoting outputs failed (exit 5)."""

    exit_code = EXIT_OUTPUT


class ValidationFailed(SecateursError):
    """Validation ran and at least one check failed (exit 1)."""

    exit_code = EXIT_VALIDATION


class GateFailed(SecateursError):
    """The pruned model broke an accuracy or agreement budget (exit 6)."""

    exit_code = EXIT_GATE

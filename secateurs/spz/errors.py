"""What pack, unpack and inspect raise: ``SpzError`` and its subclasses, each a one-line
message that names the file and the cause.

The container's own failures are kept apart from the application's exit codes: a caller
(the secateurs CLI, the exporter) maps them. Lower-level helpers raise ``ValueError``;
the entry points turn it into one of these, prefixed with the file's path.
"""

from __future__ import annotations


class SpzError(Exception):
    """Base class of every failure pack, unpack or inspect reports."""


class BadInput(SpzError):
    """The file handed in cannot be used (the CLI's input error)."""


class UnreadableInput(BadInput):
    """Not found, a directory, or an OS error while reading it."""


class InvalidModel(BadInput):
    """Not an ONNX model, or its external data is missing, short or outside its folder."""


class CorruptContainer(BadInput):
    """A .spz that fails a check: magic, crc32, declared sizes, bounds, paths."""


class UnsupportedVersion(BadInput):
    """A .spz of a version or with flags this reader does not know."""


class WriteFailed(SpzError):
    """An output could not be created, written or moved into place."""


class InvalidArgument(SpzError):
    """A bad argument: a zstd level out of range, an output that is the input, an unknown encoding."""


class OutputExists(InvalidArgument):
    """An output file is already there and the caller did not ask to overwrite it."""

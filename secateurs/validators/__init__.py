"""Checks that return result objects. They never exit and never raise on a failed check:
the caller turns ``bool(result)`` into an exit code and the report renders the same object.

results.py is on the `secateurs --help` path (the format declarations name ``Check``); onnx
and onnxruntime are imported where a check uses them, so only a command that runs one pays for them."""

"""Checks that return result objects. They never exit and never raise on a failed check:
the caller turns ``bool(result)`` into an exit code and the report renders the same object."""

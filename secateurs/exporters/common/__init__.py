"""Helpers shared by two or more formats; never a format themselves (the registry skips this package)."""

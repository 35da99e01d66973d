"""Choosing how much to prune: sweeps over amounts and the bisection behind ``--auto``."""

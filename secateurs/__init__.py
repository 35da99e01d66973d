"""secateurs: prune a PyTorch CNN, export small sparse artifacts, and prove they still match."""

__version__ = "0.1.0"

"""The five stages (load, prune, export, validate, report) and the runner that orders them."""

"""Commands beyond the pipeline stages, one module each; cli.py registers them."""

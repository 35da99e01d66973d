"""Commands beyond the pipeline stages, one module each; cli.py registers them.

`secateurs --help` imports every command module, so each imports the library (and with it
torch, onnx, numpy) inside its callback, where it runs: tests/test_torch_free.py checks that
--help loads none of them.
"""

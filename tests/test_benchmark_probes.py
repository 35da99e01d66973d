"""`make bench` times named library functions; a renamed or moved one must fail here, in
`make test`, rather than silently drop its row from the benchmark table."""

import importlib

import pytest

from benchmarks.call_timer import PROBES


@pytest.mark.parametrize(("label", "spec", "attr"), PROBES, ids=[p[0] for p in PROBES])
def test_every_probe_names_a_function(label, spec, attr):
    module_name, _, cls = spec.partition(":")
    owner = importlib.import_module(module_name)
    if cls:
        owner = getattr(owner, cls)
    assert callable(getattr(owner, attr, None)), f"{label}: {spec}.{attr} is gone"

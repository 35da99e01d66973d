"""match_pruned picks, among same-shaped Conv weights, the first holding exactly the layer's
zeros, else the first holding at least them; it checks candidates only until that is decided."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from secateurs.validators.pruned_map import match_pruned


def _convs(weights: dict[str, np.ndarray]):
    """One Conv per initializer, in the order given."""
    nodes = [helper.make_node("Conv", ["x", name], [f"y{i}"]) for i, name in enumerate(weights)]
    outputs = [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(len(weights))]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])],
        outputs,
        initializer=[numpy_helper.from_array(w, n) for n, w in weights.items()],
    )
    return helper.make_model(graph)


LAYER = np.array([[[[0.0, 1.0, 2.0]] * 3] * 2] * 4, np.float32)  # [4, 2, 3, 3]: a third zero
MORE_ZEROS = LAYER * (np.arange(3) != 1)  # holds the layer's zeros and more
EXACT = LAYER * 3  # the same zeros, other values (as BatchNorm folding scales them)
LOST = LAYER + 1  # lost the zeros


def test_exact_zeros_win_over_a_superset_that_comes_first():
    model = _convs({"a": MORE_ZEROS, "b": EXACT})
    assert match_pruned(model, {"conv": LAYER}).matches == {"conv": "b"}


def test_a_superset_of_the_zeros_is_taken_when_none_is_exact():
    model = _convs({"a": LOST, "b": MORE_ZEROS, "c": MORE_ZEROS * 2})
    assert match_pruned(model, {"conv": LAYER}).matches == {"conv": "b"}


def test_lost_zeros_and_missing_shapes_are_told_apart():
    found = match_pruned(_convs({"a": LOST}), {"conv": LAYER, "other": np.zeros((5, 2, 1, 1), np.float32)})
    assert found.matches == {} and found.lossy == ["conv"] and found.missing == ["other"]


def test_each_conv_is_claimed_once():
    model = _convs({"a": EXACT, "b": EXACT})
    assert match_pruned(model, {"one": LAYER, "two": LAYER}).matches == {"one": "a", "two": "b"}


def test_layers_with_the_same_weight_may_share_a_conv_node_the_exporter_merged():
    """dynamo's optimizer merges identical convs on one input into one node (YOLO26's one2one
    head at random initialisation): that node serves both layers; an equal zero set is not enough."""
    model = _convs({"a": EXACT})
    assert match_pruned(model, {"one": LAYER, "two": LAYER.copy()}).matches == {"one": "a", "two": "a"}
    found = match_pruned(model, {"one": LAYER, "two": LAYER * 2})
    assert found.matches == {"one": "a"} and found.missing == ["two"]

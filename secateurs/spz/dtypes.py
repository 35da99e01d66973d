"""ONNX TensorProto data types: their names and the element size the codecs split on.

Codecs only need to know how many bytes make one element (to find all-zero elements
and to byte-shuffle). Sub-byte types (int4, float4 ...) and unknown codes are treated as
plain bytes, which is always exact, just less tight.
"""

from __future__ import annotations

# code: (name, bytes per element); the codes are TensorProto.DataType from onnx.proto.
DTYPES: dict[int, tuple[str, int]] = {
    1: ("float32", 4),
    2: ("uint8", 1),
    3: ("int8", 1),
    4: ("uint16", 2),
    5: ("int16", 2),
    6: ("int32", 4),
    7: ("int64", 8),
    8: ("string", 1),
    9: ("bool", 1),
    10: ("float16", 2),
    11: ("float64", 8),
    12: ("uint32", 4),
    13: ("uint64", 8),
    14: ("complex64", 8),
    15: ("complex128", 16),
    16: ("bfloat16", 2),
    17: ("float8e4m3fn", 1),
    18: ("float8e4m3fnuz", 1),
    19: ("float8e5m2", 1),
    20: ("float8e5m2fnuz", 1),
    21: ("uint4", 1),
    22: ("int4", 1),
    23: ("float4e2m1", 1),
    24: ("float8e8m0", 1),
    25: ("uint2", 1),
    26: ("int2", 1),
    27: ("float6e2m3", 1),
    28: ("float6e3m2", 1),
}

# Fixed-width repeated fields of TensorProto that hold packed values like raw_data does.
FIELD_ELEMENT_SIZE = {"float_data": 4, "double_data": 8}


def dtype_name(code: int) -> str:
    return DTYPES.get(code, (f"dtype{code}", 1))[0]


def element_size(code: int, length: int, field: str = "raw_data") -> int:
    """Bytes per element for a payload of ``length`` bytes; 1 when the type does not divide it."""
    size = FIELD_ELEMENT_SIZE.get(field) or DTYPES.get(code, ("", 1))[1]
    return size if length % size == 0 else 1

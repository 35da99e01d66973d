"""Find every tensor payload in an ONNX file by reading the protobuf wire format.

We never parse into onnx objects and re-serialize: protobuf serialization is not
canonical, so only byte ranges found in the original file let unpack reproduce it
byte for byte. The walk follows onnx.proto's message nesting (graphs in attributes,
functions, training info, sparse tensors) and skips everything else by its length.

LEB128 varints, protobuf's integer encoding, are also the .spz index's (index.py).
Readers take an explicit ``end`` so a truncated or hostile buffer can never make them
read past the region they were given; they raise ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 10  # a 64-bit value never needs more than ten 7-bit groups


def read_varint(buf, pos: int, end: int) -> tuple[int, int]:
    """Decode one unsigned varint at ``pos``; return ``(value, next_pos)``."""
    if pos >= end:
        raise ValueError(f"truncated varint at byte {pos}")
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    value = b & 0x7F
    shift = 7
    pos += 1
    while True:
        if pos >= end:
            raise ValueError(f"truncated varint at byte {pos}")
        if shift >= 7 * MAX_BYTES:
            raise ValueError(f"varint longer than {MAX_BYTES} bytes at byte {pos}")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            if value >> 64:
                raise ValueError(f"varint exceeds 64 bits at byte {pos}")
            return value, pos
        shift += 7


def write_varint(out: bytearray, value: int) -> None:
    """Append ``value`` (0 <= value < 2**64) as an unsigned varint."""
    if value < 0 or value >> 64:
        raise ValueError(f"varint out of range: {value}")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def zigzag(value: int) -> int:
    """Map a signed 64-bit integer to an unsigned one (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...)."""
    return (value << 1) ^ (value >> 63)


def unzigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def as_int64(value: int) -> int:
    """Reinterpret a protobuf int64 varint (two's complement in 64 bits) as signed."""
    return value - (1 << 64) if value >> 63 else value


MAX_DEPTH = 64  # subgraphs nest; a hostile file must not blow the Python stack

_MODEL, _GRAPH, _NODE, _ATTR, _TENSOR, _SPARSE, _FUNC, _TRAIN, _ENTRY = range(9)

# message kind -> {field number: child message kind} for fields that can lead to a tensor
_CHILDREN = {
    _MODEL: {7: _GRAPH, 20: _TRAIN, 25: _FUNC},
    _TRAIN: {1: _GRAPH, 2: _GRAPH},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _NODE: {5: _ATTR},
    _ATTR: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _FUNC: {7: _NODE, 11: _ATTR},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
}

_PAYLOAD_FIELDS = {9: "raw_data", 4: "float_data", 10: "double_data"}
EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


class WireError(ValueError):
    """The bytes are not a well-formed protobuf ModelProto."""


@dataclass(frozen=True)
class TensorRef:
    """One tensor payload: ``length`` bytes at ``offset`` of the model, or of ``location``."""

    name: str
    data_type: int
    dims: tuple[int, ...]
    offset: int
    length: int  # -1: external data running to the end of its file
    field: str  # raw_data, float_data, double_data, or external
    location: str | None = None  # external data file, as written in the model


def scan_model(buf, end: int | None = None) -> list[TensorRef]:
    """All tensor payloads of a serialized ModelProto, in file order.

    Raises WireError when the bytes are not a ModelProto with an ir_version and a graph.
    """
    end = len(buf) if end is None else end
    refs: list[TensorRef] = []
    seen = _walk(buf, 0, end, _MODEL, refs, 0)
    if 1 not in seen or 7 not in seen:
        missing = "ir_version" if 1 not in seen else "graph"
        raise WireError(f"not an ONNX model (no {missing} field)")
    refs.sort(key=lambda r: (r.location is not None, r.location or "", r.offset))
    return refs


def _fields(buf, pos: int, end: int):
    """Yield ``(field_number, wire_type, value_or_start, stop)`` for one message's fields."""
    while pos < end:
        key, pos = read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError(f"field number 0 at byte {pos}")
        if wire == 0:
            value, pos = read_varint(buf, pos, end)
            yield number, 0, value, pos
        elif wire == 2:
            size, start = read_varint(buf, pos, end)
            pos = start + size
            if pos > end:
                raise WireError(f"field {number} at byte {start} runs past its message end {end}")
            yield number, 2, start, pos
        elif wire == 1 or wire == 5:
            pos += 8 if wire == 1 else 4
            if pos > end:
                raise WireError(f"truncated fixed-width field {number} before byte {end}")
            yield number, wire, pos, pos
        elif wire == 3:
            pos = _skip_group(buf, pos, end, number)
            yield number, 3, pos, pos
        else:
            raise WireError(f"invalid wire type {wire} for field {number} at byte {pos}")


def _skip_group(buf, pos: int, end: int, number: int) -> int:
    depth = 1
    while depth:
        key, pos = read_varint(buf, pos, end)
        wire = key & 7
        if wire == 3:
            depth += 1
        elif wire == 4:
            depth -= 1
        elif wire == 0:
            _, pos = read_varint(buf, pos, end)
        elif wire == 2:
            size, pos = read_varint(buf, pos, end)
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise WireError(f"invalid wire type {wire} inside group {number}")
        if pos > end:
            raise WireError(f"group {number} runs past byte {end}")
    return pos


def _walk(buf, pos: int, end: int, kind: int, refs: list[TensorRef], depth: int) -> set[int]:
    if depth > MAX_DEPTH:
        raise WireError(f"messages nested deeper than {MAX_DEPTH}")
    if kind == _TENSOR:
        _tensor(buf, pos, end, refs)
        return set()
    children = _CHILDREN[kind]
    seen = set()
    for number, wire, start, stop in _fields(buf, pos, end):
        seen.add(number)
        child = children.get(number)
        if child is None:
            continue
        if wire != 2:
            raise WireError(f"field {number} at byte {start} has wire type {wire}, expected a message")
        _walk(buf, start, stop, child, refs, depth + 1)
    return seen


def _tensor(buf, pos: int, end: int, refs: list[TensorRef]) -> None:
    name, data_type, dims, location = "", 0, [], 0
    payloads: list[tuple[str, int, int]] = []
    external: dict[str, str] = {}
    for number, wire, start, stop in _fields(buf, pos, end):
        if number == 1:
            dims.extend(_ints(buf, wire, start, stop))
        elif number == 2 and wire == 0:
            data_type = start
        elif number == 8 and wire == 2:
            name = bytes(buf[start:stop]).decode("utf-8", "replace")
        elif number in _PAYLOAD_FIELDS and wire == 2:
            payloads.append((_PAYLOAD_FIELDS[number], start, stop - start))
        elif number == 13 and wire == 2:
            key, value = _entry(buf, start, stop)
            external[key] = value
        elif number == 14 and wire == 0:
            location = start
    for field, start, length in payloads:
        refs.append(TensorRef(name, data_type, tuple(dims), start, length, field))
    if location == EXTERNAL:
        refs.append(_external_ref(name, data_type, tuple(dims), external))


def _ints(buf, wire: int, start: int, stop: int) -> list[int]:
    if wire == 0:
        return [as_int64(start)]
    if wire != 2:
        raise WireError(f"tensor dims at byte {start} have wire type {wire}")
    out, pos = [], start
    while pos < stop:
        value, pos = read_varint(buf, pos, stop)
        out.append(as_int64(value))
    return out


def _entry(buf, pos: int, end: int) -> tuple[str, str]:
    key = value = ""
    for number, wire, start, stop in _fields(buf, pos, end):
        if wire == 2 and number in (1, 2):
            text = bytes(buf[start:stop]).decode("utf-8", "replace")
            key, value = (text, value) if number == 1 else (key, text)
    return key, value


def _external_ref(name: str, data_type: int, dims: tuple[int, ...], info: dict[str, str]) -> TensorRef:
    location = info.get("location")
    if not location:
        raise WireError(f"tensor {name!r} has external data but no location")
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else -1
    except ValueError:
        raise WireError(f"tensor {name!r} has a non-integer external data offset or length") from None
    if offset < 0 or length < -1:
        raise WireError(f"tensor {name!r} has a negative external data offset or length")
    return TensorRef(name, data_type, dims, offset, length, "external", location)

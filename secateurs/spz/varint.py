"""LEB128 varints, the integer encoding shared by protobuf and the .spz index.

Readers take an explicit ``end`` so a truncated or hostile buffer can never make them
read past the region they were given; they raise ``ValueError`` and callers turn that
into an ``InputError`` naming the file.
"""

from __future__ import annotations

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

"""Tensor encodings, registered by name and id; ``decode`` is the exact inverse of ``encode``.

Every encoding turns one payload of ``n`` elements of ``esize`` bytes into a list of
streams (see docs/FORMAT.md for each one's streams and params). ``lengths`` states what
each stream must decode to, so a reader can refuse a bad index before allocating.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from secateurs.spz import bitcode, planes, streams
from secateurs.spz.errors import InvalidArgument
from secateurs.spz.planes import PlaneCoding, element_view

if TYPE_CHECKING:
    from secateurs.spz.choose import Analysis


@dataclass
class Encoded:
    encoding: str
    params: tuple[int, ...]
    streams: list[streams.Stream]

    @property
    def size(self) -> int:
        return sum(s.stored for s in self.streams)


_BY_NAME: dict[str, type] = {}
_BY_ID: dict[int, type] = {}


def register(cls: type) -> type:
    if cls.name in _BY_NAME or cls.id in _BY_ID:
        raise ValueError(f"codec {cls.name!r} (id {cls.id}) registered twice")
    _BY_NAME[cls.name] = _BY_ID[cls.id] = cls
    return cls


def get(name: str):
    """The codec called ``name``; an unknown name lists the registered ones."""
    try:
        return _BY_NAME[name]()
    except KeyError:
        raise InvalidArgument(f"unknown .spz encoding {name!r}; choose from: {', '.join(_BY_NAME)}") from None


def by_id(codec_id: int):
    """The codec with on-disk id ``codec_id`` (ValueError if unknown: the file is corrupt or newer)."""
    try:
        return _BY_ID[codec_id]()
    except KeyError:
        raise ValueError(f"unknown encoding id {codec_id}") from None


def names() -> list[str]:
    return list(_BY_NAME)


def _values_lengths(modes: tuple, count: int, esize: int) -> list[tuple[int, int]]:
    if len(modes) != esize:
        raise ValueError(f"{len(modes)} plane modes for {esize}-byte elements")
    out = []
    for mode in modes:
        out += planes.lengths(mode, count)
    return out


def _values(modes: tuple, data: list, count: int, esize: int) -> np.ndarray:
    """Decode the plane streams and undo the byte shuffle: ``count * esize`` bytes."""
    out = np.empty((count, esize), dtype=np.uint8)
    i = 0
    for j, mode in enumerate(modes):
        k = planes.N_STREAMS[mode]
        out[:, j] = planes.decode(mode, data[i : i + k], count)
        i += k
    return out.reshape(-1)


def _scatter(n: int, esize: int, positions: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(n * esize, dtype=np.uint8)
    element_view(out, esize)[positions] = element_view(values, esize)
    return out


def _encoded(name: str, head: tuple, mask: list, values: PlaneCoding) -> Encoded:
    return Encoded(name, (*head, *values.modes), [*mask, *values.streams])


@register
class Zeros:
    """Every element is zero: nothing stored."""

    name, id = "zeros", 1

    def encode(self, an: Analysis) -> Encoded | None:
        return Encoded(self.name, (), []) if an.nnz == 0 else None

    def lengths(self, n: int, esize: int, nnz: int, params: tuple) -> list[tuple[int, int]]:
        if nnz or params:
            raise ValueError("zeros encoding with nonzero elements or params")
        return []

    def decode(self, data: list, n: int, esize: int, nnz: int, params: tuple) -> np.ndarray:
        return np.zeros(n * esize, dtype=np.uint8)


@register
class Raw:
    """The payload as it is, in one stream (zstd finds repeats a byte shuffle would hide)."""

    name, id = "raw", 2

    def encode(self, an: Analysis) -> Encoded:
        return Encoded(self.name, (), [streams.pack(an.flat, an.level)])

    def lengths(self, n: int, esize: int, nnz: int, params: tuple) -> list[tuple[int, int]]:
        return [(n * esize, n * esize)]

    def decode(self, data: list, n: int, esize: int, nnz: int, params: tuple) -> np.ndarray:
        return np.frombuffer(data[0], dtype=np.uint8)


@register
class Shuffle:
    """All elements byte-shuffled into ``esize`` planes, zeros included (no mask).

    params: one plane mode per byte plane (see planes.py).
    """

    name, id = "shuffle", 3

    def encode(self, an: Analysis) -> Encoded:
        return _encoded(self.name, (), [], an.dense)

    def lengths(self, n: int, esize: int, nnz: int, params: tuple) -> list[tuple[int, int]]:
        return _values_lengths(params, n, esize)

    def decode(self, data: list, n: int, esize: int, nnz: int, params: tuple) -> np.ndarray:
        return _values(params, data, n, esize)


@register
class Bitmask:
    """One bit per element (1 = nonzero, MSB first), then the nonzero values' byte planes.

    params: one plane mode per byte plane.
    """

    name, id = "bitmask", 4

    def encode(self, an: Analysis) -> Encoded:
        mask = streams.pack(np.packbits(an.nonzero))
        return _encoded(self.name, (), [mask], an.values)

    def lengths(self, n: int, esize: int, nnz: int, params: tuple) -> list[tuple[int, int]]:
        return [((n + 7) // 8, (n + 7) // 8), *_values_lengths(params, nnz, esize)]

    def decode(self, data: list, n: int, esize: int, nnz: int, params: tuple) -> np.ndarray:
        mask = np.unpackbits(np.frombuffer(data[0], dtype=np.uint8), count=n).view(bool)
        positions = np.flatnonzero(mask)
        if positions.size != nnz:
            raise ValueError(f"bitmask has {positions.size} set bits, the index says {nnz}")
        return _scatter(n, esize, positions, _values(params, data[1:], nnz, esize))


@register
class RiceGaps:
    """Rice-coded gaps between the rarer kind of element, then the nonzero values' planes.

    params: (rare, k, plane modes...): rare = 1 if the coded positions are the nonzero
    elements, 0 if they are the zero elements; k = the Rice parameter.
    """

    name, id = "rice", 5

    def encode(self, an: Analysis) -> Encoded:
        gaps, k, _ = an.rice_plan
        q, r = bitcode.rice_encode(gaps, k)
        rare = 0 if an.zeros_are_rarer else 1
        coded = [streams.pack(q), streams.pack(r)]
        return _encoded(self.name, (rare, k), coded, an.values)

    def lengths(self, n: int, esize: int, nnz: int, params: tuple) -> list[tuple[int, int]]:
        if len(params) < 2 or params[0] not in (0, 1) or not 0 <= params[1] <= bitcode.MAX_K:
            raise ValueError(f"bad rice params {params}")
        count = nnz if params[0] else n - nnz
        coded = [(0, (n + 7) // 8), ((count * params[1] + 7) // 8,) * 2]
        return [*coded, *_values_lengths(params[2:], nnz, esize)]

    def decode(self, data: list, n: int, esize: int, nnz: int, params: tuple) -> np.ndarray:
        rare, k = params[:2]
        positions = bitcode.rice_decode(data[0], data[1], nnz if rare else n - nnz, k, n)
        if not rare:
            keep = np.ones(n, dtype=bool)
            keep[positions] = False
            positions = np.flatnonzero(keep)
        return _scatter(n, esize, positions, _values(params[2:], data[2:], nnz, esize))

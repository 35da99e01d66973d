"""Freed large arrays leave the process: pin glibc's mmap threshold (``pin_mmap_threshold``).

glibc serves an allocation above M_MMAP_THRESHOLD with a mapping of its own, unmapped at
free. The threshold starts at 128 KiB, but rises to the size of every such block freed (up
to 32 MiB); from then on a run's large arrays (activations, outputs, chunk temporaries) come
from the heap and stay resident after they are freed, under the next stage's peak. Setting
the threshold fixes it (mallopt(3)). Measured on a YOLOv5s-sized detector at 640x640 with
the default formats (benchmarks/yolo_like.py, one run each): unpinned 12.5 s and 972 MiB
peak RSS; pinned at 1 MiB 13.9 s and 907 MiB (every activation above 1 MiB is mapped and
page-faulted afresh, which doubled the PyTorch forwards' time); pinned at 16 MiB 12.2 s and
930 MiB. Only the CLI calls it: it changes the whole process's allocator.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
THRESHOLD = 16 << 20  # bytes


def pin_mmap_threshold(size: int = THRESHOLD) -> bool:
    """Serve allocations of ``size`` bytes and more by mmap for the rest of the process.

    Returns False (and changes nothing) where the C library has no glibc ``mallopt``.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, size) == 1

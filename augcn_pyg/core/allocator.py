"""Keep freed large blocks in the process heap (glibc ``mallopt``) instead of returning them to the OS.

PyTorch's CPU allocator asks malloc for every tensor; glibc serves blocks above its mmap threshold
(at most 32 MiB by default) with fresh ``mmap`` pages and unmaps them on free, so each batch's large
tensors (a batch of 256 BP4D faces is 36 MB as float32) page-fault their memory in again. Raising the
thresholds lets the next batch reuse the same memory; measured in ``benchmarks/bench_model.py``. The
commands that train or run the model call this once; library imports never change the process's malloc.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_done = False


def keep_freed_memory(threshold: int = 1 << 30) -> bool:
    """Raise glibc's mmap and trim thresholds to ``threshold`` bytes; False where malloc is not glibc's."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = bool(libc.mallopt(M_MMAP_THRESHOLD, threshold)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2 * threshold))
    except (OSError, AttributeError):
        return False
    _done = ok
    return ok

"""Run a per-item function over index chunks in a few threads (OpenCV releases the GIL)."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

_POOLS: dict[int, ThreadPoolExecutor] = {}


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def run_chunked(fn: Callable[[int, int], None], count: int, workers: int | None = None) -> None:
    """Call ``fn(lo, hi)`` on ``workers`` contiguous slices of ``range(count)``, in parallel threads."""
    workers = min(default_workers() if workers is None else max(1, workers), count)
    if workers <= 1:
        if count:
            fn(0, count)
        return
    pool = _POOLS.get(workers) or _POOLS.setdefault(workers, ThreadPoolExecutor(workers, "augcn-chunks"))
    bounds = [count * i // workers for i in range(workers + 1)]
    for future in [pool.submit(fn, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]:
        future.result()

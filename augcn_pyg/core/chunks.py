"""Run a per-item function over index chunks in a few threads (OpenCV releases the GIL)."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

# (process id, workers) -> pool. Keyed by pid: a pool inherited through fork() has no live threads, so a
# forked worker process (e.g. prepare --workers N) must make its own or its tasks would never run.
_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def run_chunked(fn: Callable[[int, int], None], count: int, workers: int | None = None) -> None:
    """Call ``fn(lo, hi)`` on ``workers`` contiguous slices of ``range(count)``, in parallel threads."""
    workers = min(default_workers() if workers is None else max(1, workers), count)
    if workers <= 1:
        if count:
            fn(0, count)
        return
    key = (os.getpid(), workers)
    pool = _POOLS.get(key)
    if pool is None:
        pool = _POOLS[key] = ThreadPoolExecutor(workers, "augcn-chunks")
    bounds = [count * i // workers for i in range(workers + 1)]
    for future in [pool.submit(fn, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]:
        future.result()

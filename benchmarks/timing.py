"""Timing on a shared, noisy machine: the compared steps alternate (A B A B ...) so both see the same load."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def alternate(steps: dict[str, Callable[[], object]], warmup: int, repeats: int) -> dict[str, list[float]]:
    """Seconds of every timed run of each step; ``warmup`` untimed runs of each first, then the steps
    take turns within each of the ``repeats`` rounds."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return times


def median_and_min(seconds: list[float]) -> tuple[float, float]:
    return statistics.median(seconds), min(seconds)

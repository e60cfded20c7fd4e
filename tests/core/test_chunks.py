import multiprocessing
import os

import numpy as np
import pytest

from augcn_pyg.core.chunks import run_chunked


@pytest.mark.parametrize("count, workers", [(0, 2), (1, 4), (7, 3), (100, 2)])
def test_every_index_is_visited_once(count, workers):
    seen = np.zeros(count, int)

    def visit(lo, hi):
        seen[lo:hi] += 1

    run_chunked(visit, count, workers)
    assert (seen == 1).all()


def _child(queue):
    out = np.zeros(10, int)

    def visit(lo, hi):
        out[lo:hi] = 1

    run_chunked(visit, 10, 2)
    queue.put(int(out.sum()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_gets_its_own_threads():
    run_chunked(lambda lo, hi: None, 10, 2)  # make the parent's pool first
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    child.join(30)
    assert child.exitcode == 0 and queue.get(timeout=5) == 10

"""Worker processes that end when their parent does.

A pool's workers outlive a parent that is killed outright (SIGKILL from a scheduler's time limit or the
OOM killer): nothing in the parent runs to stop them, and they wait for work that never comes, holding
their memory for good. :func:`die_with_parent` is the initializer of every process pool in the package and
the benchmarks; it makes the worker end as soon as its parent is gone:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker when its parent dies, even in
  the middle of a long computation that holds the GIL;
* elsewhere (or when prctl is refused), a daemon thread in the worker that polls the parent's pid
  (:func:`watch_parent`) and ends the worker when it changes.

Usage, composing with a pool's own initializer::

    ProcessPoolExecutor(jobs, mp_context=ctx, initializer=die_with_parent)
    ctx.Pool(workers, initializer=die_with_parent, initargs=(init_worker, arg1, arg2))

Linux ties PR_SET_PDEATHSIG to the parent *thread* that started the worker: start a pool in the thread that
keeps it (as every pool here is, in a ``with`` block or around its loop), not in a short-lived one.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import Callable

#: prctl option (linux/prctl.h)
PR_SET_PDEATHSIG = 1
#: seconds between two looks at the parent's pid in :func:`watch_parent`
POLL_SECONDS = 0.5


def parent_pid() -> int:
    """The pid of the process that started this one: multiprocessing's record of it in a pool worker (true
    even when that parent has died already), else the current parent's."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None and parent.pid else os.getppid()


def _set_pdeathsig(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _end_worker() -> None:
    os._exit(1)  # no clean-up: the results have no reader any more, and every file is written atomically


def watch_parent(pid: int | None = None, interval: float = POLL_SECONDS) -> threading.Thread:
    """Start a daemon thread that ends this process once its parent (``pid``, default :func:`parent_pid`)
    is gone: the portable way, used where PR_SET_PDEATHSIG is not available."""
    pid = parent_pid() if pid is None else pid

    def watch():
        while os.getppid() == pid:  # an orphan is adopted by init or a subreaper: another pid
            time.sleep(interval)
        _end_worker()

    thread = threading.Thread(target=watch, name="augcn-watch-parent", daemon=True)
    thread.start()
    return thread


def end_with(pid: int) -> None:
    """End this process when process ``pid``, its parent, dies (PR_SET_PDEATHSIG, else :func:`watch_parent`)."""
    if _set_pdeathsig():
        if os.getppid() != pid:  # the parent died before the request took effect
            _end_worker()
    else:
        watch_parent(pid)


def die_with_parent(initializer: Callable | None = None, *initargs) -> None:
    """Pool initializer: end this worker when its parent dies, then run ``initializer(*initargs)``.

    Leaves a process that no multiprocessing parent started alone (a pool's initializer run in the main
    process must not tie it to the shell)."""
    if multiprocessing.parent_process() is not None:
        end_with(parent_pid())
    if initializer is not None:
        initializer(*initargs)

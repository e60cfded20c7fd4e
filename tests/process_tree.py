"""Kill a parent process and watch its workers: the tests of ``augcn_pyg.core.workers`` and of every pool
that uses it. Linux only (the process tree is read from /proc)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[1]

needs_proc = pytest.mark.skipif(not sys.platform.startswith("linux") or not Path("/proc/self/stat").exists(),
                                reason="reads the process tree from /proc")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of ``pid``, None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (name) "
    return fields[0], int(fields[1])


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid``."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[0] not in "ZX":
                parents.setdefault(stat[1], []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for an adoptive parent to reap it does not)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in "ZX"


def kill_and_watch(cmd: list[str], ready: Callable[[], bool], log: Path, min_workers: int = 2,
                   env: dict | None = None, start_timeout: float = 240, grace: float = 10) -> list[int]:
    """Start ``cmd``; once it has ``min_workers`` descendants and ``ready()`` holds, SIGKILL it (or let it
    die by itself, e.g. a test hook's SIGKILL). Return the descendants still alive ``grace`` seconds later
    (after killing them: nothing is left running whatever the test finds)."""
    seen: set[int] = set()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    try:
        deadline = time.monotonic() + start_timeout
        while proc.poll() is None:
            seen |= descendants(proc.pid)
            if len(seen) >= min_workers and ready():
                proc.send_signal(signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                pytest.fail(f"no {min_workers} workers ready in {start_timeout} s: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        code = proc.wait()
        assert code == -signal.SIGKILL, f"the parent was not killed (exit {code}): {log.read_text()[-2000:]}"
        assert len(seen) >= min_workers, f"the parent had {len(seen)} workers: {log.read_text()[-2000:]}"
        end = time.monotonic() + grace
        while any(alive(p) for p in seen) and time.monotonic() < end:
            time.sleep(0.1)
        return sorted(p for p in seen if alive(p))
    finally:
        for pid in seen:  # a leak the test reports must not outlive it
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""die_with_parent: a pool's workers end when their parent is killed outright (SIGKILL), by either mechanism
(PR_SET_PDEATHSIG, or the watcher thread used where prctl is missing), for spawned and forked pools."""
import ast
import sys

import pytest
from process_tree import REPO, kill_and_watch, needs_proc

#: a parent with a pool of two workers that have run their initializer, then work for long (as a killed
#: run's are; idle ones outlive a killed parent too, except multiprocessing.Pool's, which see the end of their queue)
PARENT = r"""
import multiprocessing, sys, time
from concurrent.futures import ProcessPoolExecutor
from augcn_pyg.core import workers
kind, how = sys.argv[1:3]
init = {"die": workers.die_with_parent, "watch": workers.watch_parent, "none": None}[how]
if kind == "spawn":
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=init)
    for f in [pool.submit(time.sleep, 0.3) for _ in range(4)]:
        f.result()
    work = [pool.submit(time.sleep, 600) for _ in range(2)]
else:
    pool = multiprocessing.get_context("fork").Pool(2, initializer=init)
    pool.map(time.sleep, [0.3] * 4)
    work = pool.map_async(time.sleep, [600] * 2, chunksize=1)
time.sleep(0.5)
print("ready", flush=True)
time.sleep(600)
"""

#: a parent that dies before its worker's initializer runs: the worker must not miss it
EARLY_DEATH = r"""
import multiprocessing, os, signal, time
from augcn_pyg.core import workers

def late():
    time.sleep(1.5)  # the parent is gone by now
    workers.die_with_parent()
    time.sleep(600)

child = multiprocessing.get_context("fork").Process(target=late)
child.start()
time.sleep(0.5)
os.kill(os.getpid(), signal.SIGKILL)
"""


@needs_proc
@pytest.mark.parametrize("kind", ["spawn", "fork"])
@pytest.mark.parametrize("how", ["die", "watch"])  # watch: the portable fallback
def test_workers_end_when_their_parent_is_killed(tmp_path, kind, how):
    log = tmp_path / "parent.log"
    left = kill_and_watch([sys.executable, "-c", PARENT, kind, how], lambda: "ready" in log.read_text(), log,
                          grace=5)
    assert left == []


@needs_proc
def test_without_it_the_workers_outlive_their_parent(tmp_path):
    """The leak itself, so that the tests above are known to see it."""
    log = tmp_path / "parent.log"
    left = kill_and_watch([sys.executable, "-c", PARENT, "fork", "none"], lambda: "ready" in log.read_text(), log,
                          grace=1.5)
    assert len(left) == 2


@needs_proc
def test_a_parent_dead_before_the_initializer_runs_is_noticed(tmp_path):
    left = kill_and_watch([sys.executable, "-c", EARLY_DEATH], lambda: False, tmp_path / "parent.log",
                          min_workers=1, grace=5)
    assert left == []


def test_the_main_process_is_left_alone(monkeypatch):
    from augcn_pyg.core import workers

    monkeypatch.setattr(workers, "end_with", lambda pid: pytest.fail("tied the main process to its parent"))
    calls = []
    workers.die_with_parent(calls.append, "initialized")
    assert calls == ["initialized"]


def test_every_pool_ends_with_its_parent():
    """Every process pool of the package and the benchmarks starts its workers with die_with_parent (a new
    pool is caught here; its kill test is then one like tests/engine/test_cv_workers.py)."""
    pools, offences = [], []
    for path in sorted([*(REPO / "augcn_pyg").rglob("*.py"), *(REPO / "benchmarks").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("Pool", "ProcessPoolExecutor", "Process"):
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                pools.append(where)
                init = next((k.value for k in node.keywords if k.arg == "initializer"), None)
                if not (isinstance(init, ast.Name) and init.id == "die_with_parent"):
                    offences.append(where)
    assert len(pools) >= 4 and offences == []  # cv, the comparison benchmark, prepare, synth

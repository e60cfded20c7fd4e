"""Training over several processes (torchrun, DistributedDataParallel, gloo on CPU), on a tiny store.

Two processes with the same global batch must train the same model as one: same global order, same
flipped faces, same dropout masks, and every loss a global-batch loss. Only the order of float additions
differs (the all-reduce sums two halves). Measured on these runs: per-epoch losses agree to a relative
1e-5 or better and the validation/test F1 exactly; the tolerance below (1e-4) leaves room for other BLAS
builds."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from augcn_pyg.core.draws import batch_rand
from augcn_pyg.engine import runs
from augcn_pyg.engine.checkpoint import load_checkpoint
from augcn_pyg.engine.distributed import shard
from benchmarks.fixtures import make_store

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
SMALL = ["model.latent=16", "model.hidden=8,4", "model.strip_channels=4", "train.batch_size=24", "train.threads=1"]
LOSSES = ["loss", "roi", "recon", "bce", "dice", "au"]
RTOL = 1e-4


@pytest.mark.parametrize("total", [1, 7, 24, 25])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_shards_cover_a_batch_once_in_order(total, world):
    shares = [shard(total, world, r) for r in range(world)]
    covered = [i for offset, count in shares for i in range(offset, offset + count)]
    assert covered == list(range(total))
    assert max(c for _, c in shares) - min(c for _, c in shares) <= 1


def test_a_face_draws_the_same_numbers_whatever_process_holds_it():
    whole = batch_rand(10, (3,), None, torch.Generator().manual_seed(5))
    parts = [batch_rand(count, (3,), (offset, 10), torch.Generator().manual_seed(5))
             for offset, count in (shard(10, 3, r) for r in range(3))]
    assert torch.equal(torch.cat(parts), whole)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "store"
    make_store(path)
    return path


def train_args(store, epochs="1,2", *extra):
    return ["train", "--data", str(store), "--epochs", epochs, "-q", "--set", "train.select=val",
            *[a for s in (*SMALL, *extra) for a in ("--set", s)]]


def run_cli(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "augcn_pyg", *map(str, args)], env=ENV, capture_output=True,
                            text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def trained_pair(store, tmp_path_factory):
    """protocol -> the same run trained by one process and by two (each trained once per module)."""
    pairs = {}

    def get(protocol: str):
        if protocol not in pairs:
            extra = ("train.freeze_encoders=true",) if protocol == "frozen" else ()
            out = tmp_path_factory.mktemp(protocol)
            run_cli(*train_args(store, "1,3", *extra), "-o", out / "one")
            run_cli(*train_args(store, "1,3", *extra), "-o", out / "two", "--nproc", 2)
            pairs[protocol] = out / "one", out / "two"
        return pairs[protocol]

    return get


@pytest.mark.parametrize("protocol", ["end-to-end", "frozen"])
def test_two_processes_train_what_one_does(trained_pair, protocol):
    pair = one, two = trained_pair(protocol)
    a, b = pd.read_csv(one / runs.EPOCHS), pd.read_csv(two / runs.EPOCHS)
    assert list(a["faces"]) == list(b["faces"])  # every face once per epoch, counted over both ranks
    for column in LOSSES:
        if column in a:
            np.testing.assert_allclose(b[column], a[column], rtol=RTOL, err_msg=column)
    np.testing.assert_allclose(b["val_f1"], a["val_f1"], atol=0.01)
    ma, mb = (json.loads((r / runs.TEST_METRICS).read_text()) for r in pair)
    assert ma["epoch"] == mb["epoch"]
    assert abs(ma["test"]["mean_f1"] - mb["test"]["mean_f1"]) <= 0.01
    doc = json.loads((two / runs.RUN_JSON).read_text())
    assert doc["distributed"] == {"world_size": 2, "backend": "gloo", "processes_per_node": 2}
    wa, wb = load_checkpoint(one / runs.MODEL).model, load_checkpoint(two / runs.MODEL).model
    for key in wa:
        torch.testing.assert_close(wb[key], wa[key], rtol=1e-3, atol=1e-4)


def test_rank_0_alone_writes_the_run_folder(store, tmp_path):
    run, logs = tmp_path / "run", tmp_path / "logs"
    logs.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(ROOT / "tests" / "engine" / "dist_audit_worker.py"), str(run), str(logs), *train_args(store)[1:], "-o", str(run)]
    result = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = json.loads((logs / "rank0.json").read_text())
    rank1 = json.loads((logs / "rank1.json").read_text())
    assert rank1 == []
    written = {Path(path).name for event, path in rank0 if event == "os.rename"}
    assert {runs.MODEL, runs.CHECKPOINT, runs.EPOCHS, runs.TEST_METRICS} <= written
    assert result.stdout.count("average F1") == 1  # one report, from rank 0


def test_a_two_process_run_killed_with_sigkill_resumes(store, tmp_path, trained_pair):
    _, two = trained_pair("end-to-end")
    args = [sys.executable, "-m", "augcn_pyg", *train_args(store, "1,3"), "-o", str(tmp_path / "killed"), "--nproc", "2"]
    killed = tmp_path / "killed"
    # the launcher and its ranks in one process group, killed together as a scheduler would
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (killed / runs.CHECKPOINT).exists():  # at least one epoch checkpointed (epochs.csv is written just before)
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    status = json.loads((killed / runs.RUN_JSON).read_text())["status"]
    if status == "done":
        pytest.skip("the run finished before it could be killed")
    done_before = load_checkpoint(killed / runs.CHECKPOINT).doc["epochs_done"]
    assert 1 <= done_before < 4
    run_cli(*train_args(store, "1,3"), "-o", killed, "--nproc", 2, "--resume")
    a, b = pd.read_csv(two / runs.EPOCHS), pd.read_csv(killed / runs.EPOCHS)
    for column in LOSSES:
        if column in a:
            np.testing.assert_allclose(b[column], a[column], rtol=RTOL, err_msg=column)
    assert json.loads((killed / runs.RUN_JSON).read_text())["status"] == "done"


def test_a_last_batch_smaller_than_the_processes_is_a_clear_error(store, tmp_path):
    # the fixture's fold-1 training part holds 72 faces: batches of 71 leave a last batch of 1
    result = run_cli(*train_args(store, "1,1", "train.batch_size=71"), "-o", tmp_path / "run", "--nproc", 2,
                     check=False)
    assert result.returncode == 1 and "has 1 faces, fewer than the 2 processes" in result.stderr
    assert "Traceback" not in result.stderr


def test_more_processes_than_faces_in_a_batch_is_a_clear_error(store, tmp_path):
    result = run_cli(*train_args(store, "1,1", "train.batch_size=2"), "-o", tmp_path / "run", "--nproc", 3,
                     check=False)
    assert result.returncode == 1
    assert "3 processes cannot share batches of 2 faces" in result.stderr
    assert result.stderr.count("processes cannot share") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "run" / runs.CHECKPOINT).exists()

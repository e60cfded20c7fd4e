"""Frozen runs trained as members of one batch: the same run folders, weights and scores as alone."""
import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine import runs
from augcn_pyg.engine.checkpoint import load_checkpoint
from augcn_pyg.engine.config import load_config
from augcn_pyg.engine.members import BATCH_KEY, Member, MemberBatch, train_members
from augcn_pyg.engine.trainer import train
from benchmarks.fixtures import make_store

SMALL = ["model.latent=16", "model.hidden=8,4", "model.strip_channels=4", "train.batch_size=16", "train.threads=1"]


@pytest.fixture(scope="module")
def stage1(tmp_path_factory):
    """A store and two stage-1 models (two folds) every member starts from."""
    tmp = tmp_path_factory.mktemp("members")
    make_store(tmp / "store")
    inits = {}
    for fold in (1, 2):
        cfg = load_config(None, [f"data.store={tmp / 'store'}", f"data.fold={fold}", "train.epochs_ae=1",
                                 "train.epochs=0", *SMALL])
        train(cfg, tmp / f"stage1-fold{fold}", quiet=True)
        inits[fold] = tmp / f"stage1-fold{fold}"
    return tmp, inits


def frozen(tmp, inits, layer="gcn", fold=1, seed=0, *extra):
    return load_config(None, [f"data.store={tmp / 'store'}", f"data.fold={fold}", f"train.seed={seed}",
                              f"train.init={inits[fold]}", "train.freeze_encoders=true", "train.epochs_ae=0",
                              "train.epochs=4", "train.select=val", f"model.layer={layer}", *SMALL, *extra])


def member_configs(tmp, inits, layer):
    """Four members: two folds (two stage-1 models, other training rows and graphs), two seeds, other lr,
    weight decay and dropout."""
    return [frozen(tmp, inits, layer, 1, 0), frozen(tmp, inits, layer, 2, 1, "train.lr=0.05"),
            frozen(tmp, inits, layer, 1, 2, "train.weight_decay=0", "model.dropout=0.5"),
            frozen(tmp, inits, layer, 2, 0, "train.patience=1")] if layer else []


def head(run_dir):
    return {k: v for k, v in load_checkpoint(Path(run_dir) / runs.MODEL).model.items()
            if not k.startswith(("autoencoders.", "roi_head_"))}


# one dense layer, one attention layer with attention dropout, one PyG convolution through the adapter
@pytest.mark.parametrize("layer", ["gcn", "gat", "pyg:GraphConv"])
def test_a_member_ends_as_its_configuration_trained_alone(stage1, layer, tmp_path):
    tmp, inits = stage1
    cfgs = member_configs(tmp, inits, layer)
    if layer == "gat":  # attention dropout draws inside the layer, between the head's dropout draws
        cfgs = [c for c in cfgs]
        for c in cfgs:
            c.model.layer_options = {"dropout": 0.3}
    cfgs[3].train.patience = 1
    alone = [train(c, tmp_path / f"alone{i}", quiet=True) for i, c in enumerate(cfgs)]
    together = train_members([Member(c, tmp_path / f"member{i}") for i, c in enumerate(cfgs)],
                             tmp_path / "batch.safetensors")
    for i, (a, b) in enumerate(zip(alone, together)):
        assert a["epoch"] == b["epoch"] and a["epochs_run"] == b["epochs_run"]
        assert a["test"] == b["test"]  # bit for bit: the same operations in the same order
        mine, theirs = head(tmp_path / f"alone{i}"), head(tmp_path / f"member{i}")
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
        doc = runs.read_run_json(tmp_path / f"member{i}")
        assert doc["status"] == "done" and doc[BATCH_KEY]["members"] == 4 and doc[BATCH_KEY]["index"] == i
        assert (tmp_path / f"member{i}" / runs.EPOCHS).read_text() .count("\n") == \
            (tmp_path / f"alone{i}" / runs.EPOCHS).read_text().count("\n")
    assert not (tmp_path / "batch.safetensors").exists()  # removed once every member's folder is complete


def test_a_batch_may_mix_layers_designs_and_lengths(stage1, tmp_path):
    tmp, inits = stage1
    cfgs = [frozen(tmp, inits, "gcn", 1, 0), frozen(tmp, inits, "gat", 2, 1, "train.epochs=2"),
            frozen(tmp, inits, "none", 1, 3, "model.skip=concat", "train.select=last")]
    alone = [train(c, tmp_path / f"alone{i}", quiet=True) for i, c in enumerate(cfgs)]
    finished = []
    members = [Member(c, tmp_path / f"member{i}", on_finish=lambda tr, m: finished.append(tr.run_dir.name))
               for i, c in enumerate(cfgs)]
    together = train_members(members, tmp_path / "batch.safetensors")
    assert [m["epochs_run"] for m in together] == [4, 2, 4] and finished == ["member0", "member1", "member2"]
    for a, b in zip(alone, together):
        assert (a["epoch"], a["selected"], a["test"]) == (b["epoch"], b["selected"], b["test"])


def test_only_frozen_runs_with_folders_of_their_own_are_members(stage1, tmp_path):
    tmp, inits = stage1
    a, b = frozen(tmp, inits), frozen(tmp, inits, "gat", 2, 1, "train.lr=0.01", "model.hidden=8")
    MemberBatch([Member(a, tmp_path / "a"), Member(b, tmp_path / "b")], tmp_path / "c.safetensors")  # any layers
    unfrozen = frozen(tmp, inits, "gcn", 1, 0, "train.freeze_encoders=false")
    with pytest.raises(InputError, match="trains its encoders"):
        MemberBatch([Member(unfrozen, tmp_path / "a")], tmp_path / "c.safetensors")
    no_init = frozen(tmp, inits, "gcn", 1, 0, "train.init=")
    with pytest.raises(InputError, match="no stage-1 model"):
        MemberBatch([Member(no_init, tmp_path / "a")], tmp_path / "c.safetensors")
    with pytest.raises(InputError, match="share a run folder"):
        MemberBatch([Member(a, tmp_path / "a"), Member(b, tmp_path / "a")], tmp_path / "c.safetensors")
    assert not (tmp_path / "a").exists()  # refused before anything was written


def _train_batch(tmp, inits, out, slow):
    torch.set_num_threads(1)
    cfgs = member_configs(tmp, inits, "gcn")
    for c in cfgs:
        c.train.epochs = 6
    members = [Member(c, out / f"member{i}") for i, c in enumerate(cfgs)]
    batch = MemberBatch(members, out / "batch.safetensors")
    if slow:  # give the killer time between epochs
        original = batch._save

        def save_slowly(states, epochs_done):
            original(states, epochs_done)
            (out / "epochs_done").write_text(str(epochs_done))
            time.sleep(0.5)
        batch._save = save_slowly
    return batch.run()


def test_a_killed_batch_resumes_and_ends_as_an_uninterrupted_one(stage1, tmp_path):
    tmp, inits = stage1
    straight = _train_batch(tmp, inits, tmp_path / "straight", slow=False)
    out = tmp_path / "killed"
    out.mkdir()
    proc = multiprocessing.get_context("spawn").Process(target=_train_batch, args=(tmp, inits, out, True))
    proc.start()
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "epochs_done").exists() and (out / "epochs_done").read_text() >= "2"):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert (out / "batch.safetensors").exists()
    resumed = _train_batch(tmp, inits, out, slow=False)
    for a, b in zip(straight, resumed):
        assert a["epoch"] == b["epoch"] and a["test"] == b["test"]
    for i in range(4):
        mine, theirs = head(tmp_path / "straight" / f"member{i}"), head(out / f"member{i}")
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)
        history = json.loads(json.dumps(runs.read_run_json(out / f"member{i}")))
        assert history["status"] == "done"


def test_members_of_one_stage1_model_share_one_latent_table(stage1, tmp_path):
    """The cached (2M, R, d0) table of training faces and flips is one tensor for every member of a stage-1
    model (a batch of a hundred members would otherwise hold a hundred copies)."""
    tmp, inits = stage1
    cfgs = [frozen(tmp, inits, "gcn", 1, 0), frozen(tmp, inits, "gat", 2, 0), frozen(tmp, inits, "none", 1, 5)]
    states = MemberBatch([Member(c, tmp_path / f"m{i}") for i, c in enumerate(cfgs)], tmp_path / "b.safetensors")._set_up(None)
    tables = [s.trainer.cache[0] for s in states]
    assert tables[0] is tables[2] and tables[0] is not tables[1]
    assert tables[0].shape[0] == 2 * len(states[0].trainer.train_rows)  # the faces, then their flips


def test_members_of_one_stage1_model_share_its_frozen_autoencoders(stage1, tmp_path):
    """One copy of a stage-1 model's auto-encoders per batch, whatever the layer; each member's saved model still
    holds those weights."""
    tmp, inits = stage1
    cfgs = member_configs(tmp, inits, "gcn")[:3] + [frozen(tmp, inits, "none", 1, 0)]  # folds 1, 2, 1, 1
    states = MemberBatch([Member(c, tmp_path / f"m{i}") for i, c in enumerate(cfgs)],
                         tmp_path / "batch.safetensors")._set_up(None)
    aes = [s.model.autoencoders for s in states]
    assert aes[0] is aes[2] is aes[3] and aes[1] is not aes[0]
    for s, fold in zip(states, (1, 2, 1, 1)):
        theirs = load_checkpoint(inits[fold] / runs.MODEL).model
        assert all(torch.equal(v, theirs[f"autoencoders.{k}"]) for k, v in s.model.autoencoders.state_dict().items())

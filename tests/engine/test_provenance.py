"""run.json says which code trained a run and which config it ran: the revision at start (and any other that
resumed it), whether the package had uncommitted changes, and the sha256 of the resolved config."""
import json

import pytest
import yaml

from augcn_pyg.engine import runs
from augcn_pyg.engine.config import load_config
from augcn_pyg.engine.trainer import Trainer
from benchmarks.fixtures import make_store

SMALL = ["model.latent=16", "model.hidden=8,4", "model.strip_channels=4", "train.batch_size=32", "train.threads=1"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "store"
    make_store(path)
    return path


def test_config_digest_is_canonical_and_matches_the_config_file(store, tmp_path):
    cfg = load_config(None, [f"data.store={store}", *SMALL])
    d = cfg.to_dict()
    digest = runs.config_digest(d)
    assert len(digest) == 64 and digest == runs.config_digest(json.loads(json.dumps(d)))
    assert runs.config_digest(yaml.safe_load(cfg.to_yaml())) == digest  # what a run folder's config.yaml gives
    other = load_config(None, [f"data.store={store}", *SMALL, "train.lr=0.01"]).to_dict()
    assert runs.config_digest(other) != digest
    reordered = dict(reversed(list(d.items())))
    assert runs.config_digest(reordered) == digest  # key order does not matter


def test_git_revision_marks_uncommitted_package_changes(monkeypatch):
    monkeypatch.setattr(runs, "_git", lambda *a: {"rev-parse": "0123abcd\n"}.get(a[0], ""))
    monkeypatch.setattr(runs, "code_changes_digest", lambda: None)
    assert runs.git_revision() == "0123abcd"
    monkeypatch.setattr(runs, "code_changes_digest", lambda: "feedbeef00112233")
    assert runs.git_revision() == "0123abcd-dirty.feedbeef00112233"
    assert runs.provenance({"a": 1})["git_dirty"] is True


def test_run_json_records_the_revisions_that_trained_it(store, tmp_path, monkeypatch):
    cfg = load_config(None, [f"data.store={store}", "train.epochs_ae=0", "train.epochs=3", *SMALL])
    monkeypatch.setattr(runs, "git_revision", lambda: "rev-A")

    class Stop(Exception):
        pass

    def stop_after_two(trainer, row):
        if row["epoch"] == 2:
            raise Stop  # killed during epoch 2: its checkpoint is epoch 1's

    with pytest.raises(Stop):
        Trainer(cfg, tmp_path / "run", quiet=True, on_epoch=stop_after_two).run()
    doc = runs.read_run_json(tmp_path / "run")
    assert doc["git"] == "rev-A" and doc["git_dirty"] is False
    assert doc["config_digest"] == runs.config_digest(cfg.to_dict())
    assert doc["config_digest"] == runs.config_digest(yaml.safe_load((tmp_path / "run" / runs.CONFIG).read_text()))
    monkeypatch.setattr(runs, "git_revision", lambda: "rev-B")  # the code changed, then the run was resumed
    Trainer(None, tmp_path / "run", resume=True, quiet=True).run()
    doc = runs.read_run_json(tmp_path / "run")
    assert doc["status"] == "done" and doc["git"] == "rev-A" and doc["git_resumed"] == ["rev-B"]
    assert runs.run_revisions(doc) == ["rev-A", "rev-B"]
    assert runs.run_config_digest(tmp_path / "run") == doc["config_digest"]


def test_a_run_records_the_run_it_started_from(store, tmp_path):
    base = [f"data.store={store}", *SMALL]
    Trainer(load_config(None, [*base, "train.epochs_ae=1", "train.epochs=0"]), tmp_path / "s1", quiet=True).run()
    s1 = runs.read_run_json(tmp_path / "s1")
    cfg = load_config(None, [*base, "train.epochs_ae=0", "train.epochs=1", f"train.init={tmp_path / 's1'}"])
    Trainer(cfg, tmp_path / "s2", quiet=True).run()
    init = runs.read_run_json(tmp_path / "s2")["init"]
    assert init["config_digest"] == s1["config_digest"] and init["git"] == s1["git"]

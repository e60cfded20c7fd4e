"""Training, resume, run folders and the train/evaluate commands, on small stores with a learnable signal."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.engine import runs
from augcn_pyg.engine.checkpoint import load_checkpoint, save_checkpoint
from augcn_pyg.engine.config import load_config
from augcn_pyg.engine.models import load_model
from augcn_pyg.engine.trainer import Trainer, train
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.model import AUGCN
from benchmarks.fixtures import make_store

SMALL = ["model.latent=16", "model.hidden=8,4", "model.strip_channels=4", "train.batch_size=32", "train.lr=0.05",
         "train.threads=1"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "store"
    make_store(path)
    return path


def cfg(store, *extra, epochs=(1, 2)):
    return load_config(None, [f"data.store={store}", f"train.epochs_ae={epochs[0]}", f"train.epochs={epochs[1]}",
                              *SMALL, *extra])


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def test_a_run_folder_describes_itself(store, tmp_path):
    metrics = train(cfg(store), tmp_path / "run", quiet=True)
    run = tmp_path / "run"
    for name in (runs.CONFIG, runs.RUN_JSON, runs.GRAPH, runs.CHECKPOINT, runs.MODEL, runs.EPOCHS, runs.CURVES,
                 runs.TEST_METRICS, runs.TEST_TABLE):
        assert (run / name).is_file(), name
    doc = json.loads((run / runs.RUN_JSON).read_text())
    assert doc["status"] == "done" and doc["versions"]["torch"] and doc["store"]["faces"] == 144
    splits = doc["splits"]
    assert not set(splits["val_subjects"]) & set(splits["train_subjects"])
    assert not set(splits["test_subjects"]) & (set(splits["train_subjects"]) | set(splits["val_subjects"]))
    assert metrics["epoch"] == 3 and metrics["selected"] == "last"
    assert len(metrics["test"]["f1"]) == 12
    import pandas as pd

    epochs = pd.read_csv(run / runs.EPOCHS)
    assert list(epochs["stage"]) == ["ae", "all", "all"]
    assert epochs["val_f1"].isna().tolist() == [True, False, False]


def test_the_graph_is_fitted_on_the_training_subjects_only(store, tmp_path):
    from augcn_pyg.data.store import ROIStore
    from augcn_pyg.graph.relations import RelationBuilder, RelationGraph

    train(cfg(store, epochs=(0, 1)), tmp_path / "run", quiet=True)
    doc = json.loads((tmp_path / "run" / runs.RUN_JSON).read_text())
    s = ROIStore(store)
    rows = s.indices_for_subjects(doc["splits"]["train_subjects"])
    expected = RelationBuilder("bp4d").fit(s.labels[rows]).graph_
    saved = RelationGraph.load(tmp_path / "run" / runs.GRAPH)
    assert np.array_equal(saved.edge_index, expected.edge_index)
    assert saved.stats["num_frames"] == len(rows)


def test_init_copies_stage1_weights_and_nothing_else(store, tmp_path):
    from augcn_pyg.engine.models import load_model
    from augcn_pyg.engine.trainer import STAGE1_PARTS

    train(cfg(store, epochs=(1, 0)), tmp_path / "stage1", quiet=True)
    seen = []
    train(cfg(store, "model.layer=gat", f"train.init={tmp_path / 'stage1'}", "train.freeze_encoders=true",
              epochs=(0, 2)), tmp_path / "gat", quiet=True, on_epoch=lambda trainer, row: seen.append(row["epoch"]))
    assert seen == [1, 2]
    source, _ = load_model(tmp_path / "stage1")
    trained, _ = load_model(tmp_path / "gat")
    a, b = source.state_dict(), trained.state_dict()
    copied = [k for k in b if k.startswith(STAGE1_PARTS)]
    assert copied and all(torch.equal(a[k], b[k]) for k in copied)  # frozen in stage 2: still the source's
    assert not torch.equal(a["classifier.weight"], b["classifier.weight"])


def test_init_without_the_global_node_takes_the_other_rois_weights(store, tmp_path):
    from augcn_pyg.engine.models import load_model

    train(cfg(store, epochs=(1, 0)), tmp_path / "stage1", quiet=True)
    train(cfg(store, "model.global_node=false", f"train.init={tmp_path / 'stage1'}", "train.freeze_encoders=true",
              epochs=(0, 1)), tmp_path / "local", quiet=True)
    source, _ = load_model(tmp_path / "stage1")
    local, _ = load_model(tmp_path / "local")
    keep = local.keep.tolist()
    assert len(keep) == source.num_rois - 1
    w = source.state_dict()["autoencoders.enc_latent_weight"]
    assert torch.equal(local.state_dict()["autoencoders.enc_latent_weight"], w[keep])


def test_init_from_a_model_of_another_shape_is_a_clear_error(store, tmp_path):
    train(cfg(store, epochs=(1, 0)), tmp_path / "stage1", quiet=True)
    result = invoke("train", "--data", store, "-o", tmp_path / "other", "--set", "model.latent=8",
                    "--set", f"train.init={tmp_path / 'stage1'}", *[a for s in SMALL[1:] for a in ("--set", s)])
    assert result.exit_code != 0 and "stage-1 weights do not fit" in result.output


def test_training_learns_the_signal(store, tmp_path):
    extra = ("train.lr=0.1", "train.batch_size=16", "train.lr_step=100")
    metrics = train(cfg(store, *extra, epochs=(3, 10)), tmp_path / "run", quiet=True)
    auc = np.array(metrics["test"]["auc"], dtype=float)
    own_roi = [0, 1, 2, 3, 4, 5, 9]  # AU1, 2, 4, 6, 7, 10, 17: an ROI pair of their own brightens with them
    assert auc[own_roi].mean() > 0.7 and metrics["test"]["mean_auc"] > 0.6


@pytest.mark.parametrize("step, expected", [(0, [0.05, 0.05, 0.05, 0.05]), (2, [0.05, 0.05, 0.005, 0.005])])
def test_lr_step_decays_every_so_many_epochs_and_0_never(store, tmp_path, step, expected):
    import pandas as pd

    train(cfg(store, f"train.lr_step={step}", "train.lr_gamma=0.1", epochs=(0, 4)), tmp_path / "run", quiet=True)
    lrs = pd.read_csv(tmp_path / "run" / runs.EPOCHS)["lr"].tolist()  # the lr each epoch trained with
    assert lrs == pytest.approx(expected)


def test_select_val_reports_the_best_validation_epoch(store, tmp_path):
    metrics = train(cfg(store, "train.select=val", epochs=(1, 4)), tmp_path / "run", quiet=True)
    import pandas as pd

    epochs = pd.read_csv(tmp_path / "run" / runs.EPOCHS)
    best = int(epochs.loc[epochs["val_f1"].idxmax(), "epoch"])
    assert metrics["selected"] == "val" and metrics["epoch"] == best
    assert metrics["val_f1_at_selected"] == pytest.approx(epochs["val_f1"].max())
    model = load_checkpoint(tmp_path / "run" / runs.MODEL)
    assert model.doc["epoch"] == best


def test_patience_ends_stage_2_once_validation_stops_improving_and_holds_on_resume(store, tmp_path):
    import pandas as pd

    # a learning rate this small leaves the predictions, and so the validation F1, as they were after epoch 2
    still = cfg(store, "train.select=val", "train.patience=2", "train.lr=1e-12", "train.freeze_encoders=true",
                epochs=(1, 12))
    run = tmp_path / "still"
    metrics = train(still, run, quiet=True)
    epochs = pd.read_csv(run / runs.EPOCHS)
    assert metrics["epoch"] == 2 and metrics["epochs_run"] == 4 == len(epochs)  # epochs 3 and 4 were no better
    # killed after the last checkpoint, before the run was marked done: resuming stops again at once
    doc = json.loads((run / runs.RUN_JSON).read_text())
    (run / runs.RUN_JSON).write_text(json.dumps({**doc, "status": "running"}))
    again = train(still, run, resume=True, quiet=True)
    assert again["epochs_run"] == 4 and again["test"] == metrics["test"]

    # a learning run: it stops exactly when the patience runs out, or runs every epoch
    moving = cfg(store, "train.select=val", "train.patience=2", epochs=(1, 8))
    metrics = train(moving, tmp_path / "moving", quiet=True)
    val = pd.read_csv(tmp_path / "moving" / runs.EPOCHS)["val_f1"].tolist()[1:]  # stage-2 epochs 2..
    best_so_far = [max(range(i + 1), key=lambda j: (val[j], -j)) for i in range(len(val))]
    waited = [i - b for i, b in enumerate(best_so_far)]
    assert all(w < 2 for w in waited[:-1])
    assert waited[-1] == 2 or len(val) == 8


def test_frozen_encoders_train_only_the_head(store, tmp_path):
    train(cfg(store, epochs=(1, 0)), tmp_path / "ae", quiet=True)
    metrics = train(cfg(store, "train.freeze_encoders=true", epochs=(1, 3)), tmp_path / "frozen", quiet=True)
    a = load_checkpoint(tmp_path / "ae" / runs.MODEL).model
    b = load_checkpoint(tmp_path / "frozen" / runs.MODEL).model
    enc = [k for k in a if k.startswith("autoencoders.enc_")]
    assert enc and all(torch.equal(a[k], b[k]) for k in enc)  # same seed, stage 1 alike, stage 2 left them
    assert not torch.equal(a["classifier.weight"], b["classifier.weight"])
    assert metrics["epoch"] == 4


def test_resume_after_sigkill_equals_an_uninterrupted_run(store, tmp_path):
    args = ["-m", "augcn_pyg", "train", "--data", str(store), "--epochs", "2,4", "-q",
            *[a for s in SMALL for a in ("--set", s)], "--set", "train.batch_size=16"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    whole = tmp_path / "whole"
    subprocess.run([sys.executable, *args, "-o", str(whole)], check=True, env=env, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, *args, "-o", str(killed)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        csv = killed / runs.EPOCHS
        if csv.exists() and len(csv.read_text().splitlines()) >= 4:  # 3 epochs listed, 2 or 3 checkpointed
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert json.loads((killed / runs.RUN_JSON).read_text())["status"] == "running"
    done_before = load_checkpoint(killed / runs.CHECKPOINT).doc["epochs_done"]
    assert 2 <= done_before < 6
    subprocess.run([sys.executable, *args, "-o", str(killed), "--resume"], check=True, env=env, capture_output=True)
    a = load_checkpoint(whole / runs.MODEL).model
    b = load_checkpoint(killed / runs.MODEL).model
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ma = json.loads((whole / runs.TEST_METRICS).read_text())
    mb = json.loads((killed / runs.TEST_METRICS).read_text())
    assert ma["test"] == mb["test"]


def test_cli_train_then_evaluate(store, tmp_path):
    run = tmp_path / "run"
    result = invoke("train", "--data", store, "--layer", "gat", "--fold", 2, "--epochs", "1,1", "-o", run, "-q",
                    *[a for s in SMALL for a in ("--set", s)])
    assert result.exit_code == 0, result.output
    assert "average F1" in result.output
    result = invoke("evaluate", run)
    assert result.exit_code == 0, result.output
    assert "AU24" in result.output and "avg" in result.output
    saved = json.loads((run / "evaluation.json").read_text())
    trained = json.loads((run / runs.TEST_METRICS).read_text())
    assert saved["test"]["f1"] == pytest.approx(trained["test"]["f1"])
    assert saved["fold"] == 2


def _bad(result, text):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert text in result.output, result.output


def test_bad_inputs_of_train(store, tmp_path):
    small = [a for s in SMALL for a in ("--set", s)]
    _bad(invoke("train", "--data", tmp_path / "nope", "-o", tmp_path / "r1", *small), "nope")
    _bad(invoke("train", "--data", store, "--layer", "gcnn", "-o", tmp_path / "r2"), "choose from gcn, dense-gcn")
    _bad(invoke("train", "--data", store, "--fold", 4, "-o", tmp_path / "r3"), "'data.fold' must be 1, 2 or 3")
    _bad(invoke("train", "--data", store, "--set", "train.nope=1", "-o", tmp_path / "r4"), "unknown config key")
    _bad(invoke("train", "--data", store, "--set", "train.lr=x", "-o", tmp_path / "r5"), "must be a number")
    _bad(invoke("train", "--data", store, "--epochs", "3", "-o", tmp_path / "r6"), "S1,S2")
    _bad(invoke("train", "--data", store, "--epochs", "1,2,3", "-o", tmp_path / "r6"), "S1,S2")
    (tmp_path / "list.yaml").write_text("- 1\n")
    _bad(invoke("train", "--data", store, "--config", tmp_path / "list.yaml", "-o", tmp_path / "r7"), "mapping")
    not_a_store = tmp_path / "not_a_store"
    not_a_store.mkdir()
    (not_a_store / "x.txt").write_text("x")
    _bad(invoke("train", "--data", not_a_store, "-o", tmp_path / "r8", *small), "not_a_store")
    seed = invoke("train", "--data", store, "--seed", -1, "-o", tmp_path / "r9")
    assert seed.exit_code == 2 and "-1 is not in the range" in seed.output
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    _bad(invoke("train", "--data", store, "-o", foreign), "holds no augcn-pyg run")
    assert (foreign / "notes.txt").read_text() == "mine"
    for what in ("r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"):
        assert not (tmp_path / what).exists(), what


def test_a_folder_with_a_run_needs_resume_or_overwrite(store, tmp_path):
    run = tmp_path / "run"
    small = [a for s in SMALL for a in ("--set", s)]
    assert invoke("train", "--data", store, "--epochs", "0,1", "-o", run, "-q", *small).exit_code == 0
    before = (run / runs.MODEL).read_bytes()
    _bad(invoke("train", "--data", store, "--epochs", "0,1", "-o", run, "-q", *small), "--resume to carry on")
    assert (run / runs.MODEL).read_bytes() == before
    result = invoke("train", "--data", store, "--epochs", "0,1", "-o", run, "-q", "--resume", *small)
    assert result.exit_code == 0 and "finished already" in result.output
    _bad(invoke("train", "--data", store, "--epochs", "0,2", "-o", run, "--resume", *small), "another config")
    assert invoke("train", "--data", store, "--epochs", "0,2", "-o", run, "-q", "--overwrite", *small).exit_code == 0
    assert load_checkpoint(run / runs.MODEL).doc["epoch"] == 2


def test_damaged_checkpoint_on_resume(store, tmp_path):
    run = tmp_path / "run"
    train(cfg(store, epochs=(1, 1)), run, quiet=True)
    doc = json.loads((run / runs.RUN_JSON).read_text())
    doc["status"] = "running"
    (run / runs.RUN_JSON).write_text(json.dumps(doc))
    (run / runs.CHECKPOINT).write_bytes((run / runs.CHECKPOINT).read_bytes()[:1000])
    small = [a for s in SMALL for a in ("--set", s)]
    _bad(invoke("train", "--data", store, "--epochs", "1,1", "-o", run, "--resume", *small), "not a readable")


def test_evaluate_refuses_a_store_of_another_protocol_or_roi_size(store, tmp_path):
    run = tmp_path / "run"
    train(cfg(store, epochs=(0, 1)), run, quiet=True)
    disfa = make_store(tmp_path / "disfa", protocol="disfa")
    # another protocol is a cross-dataset evaluation now (tests/engine/test_intensity_task.py); its ROI size must match
    assert invoke("evaluate", run, "--data", disfa.path).exit_code == 0
    disfa15 = make_store(tmp_path / "disfa15", protocol="disfa", roi_size=15)
    _bad(invoke("evaluate", run, "--data", disfa15.path), "trained on 10-pixel ROIs")
    other = make_store(tmp_path / "n15", roi_size=15)
    _bad(invoke("evaluate", run, "--data", other.path), "15-pixel ROIs")
    _bad(invoke("evaluate", tmp_path), "not an augcn-pyg run folder")
    (run / runs.MODEL).write_bytes(b"\x80\x04garbage")
    _bad(invoke("evaluate", run), "not a readable augcn-pyg checkpoint")


def test_a_store_too_small_for_the_splits(tmp_path):
    tiny = make_store(tmp_path / "tiny", subjects_per_part=1)  # one training subject per part: 2 in fold 1
    ok = train(cfg(tiny.path, epochs=(0, 1)), tmp_path / "ok", quiet=True)
    assert ok["epoch"] == 1
    from augcn_pyg.core.aus import get_protocol
    from augcn_pyg.data.store import write_store

    p = get_protocol("bp4d")
    n = 4
    write_store(tmp_path / "one", "bp4d", np.zeros((n, p.num_rois, 3, 10, 10), np.uint8),
                np.zeros((n, 12), np.float32), np.array(["F001"] * n), np.array(["T1"] * n), np.arange(n))
    _bad(invoke("train", "--data", tmp_path / "one", "-o", tmp_path / "r"), "too small to have faces in every split")


def test_a_design_point_trains_its_norms_and_skips_with_frozen_encoders(store, tmp_path):
    design = ("model.skip=sum", "model.norm=batch", "model.hidden=8,6")
    train(cfg(store, epochs=(1, 0)), tmp_path / "ae", quiet=True)
    train(cfg(store, "train.freeze_encoders=true", *design, epochs=(1, 2)), tmp_path / "frozen", quiet=True)
    model, _ = load_model(tmp_path / "frozen")  # the batch norm's running statistics load with the weights
    torch.manual_seed(0)  # the trainer's seed before it builds the model
    start = AUGCN.from_config("bp4d", paper_graph("bp4d"), cfg(store, *design).model, roi_size=model.roi_size)
    ae = load_checkpoint(tmp_path / "ae" / runs.MODEL).model
    state, before = model.state_dict(), start.state_dict()
    assert all(torch.equal(ae[k], state[k]) for k in ae if k.startswith("autoencoders.enc_"))  # frozen
    for name in ("relation_skips.1.weight", "relation_norms.0.weight", "relation_norms.1.bias", "classifier.weight",
                 "relation_norms.0.running_mean"):
        assert not torch.equal(state[name], before[name]), name  # trained (or, for the statistics, updated)


def test_a_run_interrupted_before_the_design_keys_existed_resumes(store, tmp_path):
    whole = tmp_path / "whole"
    train(cfg(store), whole, quiet=True)

    def stop(trainer, row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt  # after epoch 1's checkpoint, before epoch 2's

    old = tmp_path / "old"
    with pytest.raises(KeyboardInterrupt):
        train(cfg(store), old, quiet=True, on_epoch=stop)
    # what an earlier version wrote: config.yaml and the checkpoint's config without the design keys
    ckpt = load_checkpoint(old / runs.CHECKPOINT)
    doc = ckpt.doc
    for key in ("skip", "skip_alpha", "norm"):
        del doc["config"]["model"][key]
    save_checkpoint(old / runs.CHECKPOINT, ckpt.model, doc, optimizer_state=ckpt.optimizer_state(), rng=ckpt.rng)
    text = (old / runs.CONFIG).read_text()
    (old / runs.CONFIG).write_text("\n".join(line for line in text.splitlines()
                                             if not line.strip().startswith(("skip:", "skip_alpha:", "norm:"))))
    assert "skip" not in (old / runs.CONFIG).read_text()
    train(None, old, resume=True, quiet=True)
    a, b = load_checkpoint(whole / runs.MODEL).model, load_checkpoint(old / runs.MODEL).model
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_end_to_end_batches_hold_the_faces_flips_and_labels_of_the_loaders_batches(store, tmp_path):
    """The trainer hands the model StoreRows; they hold what the loader's PyG Batches (flips by FlipROIs) hold."""
    trainer = Trainer(cfg(store), tmp_path / "run", quiet=True)
    trainer.setup()
    trainer.cache = None
    flips = trainer.flip.generator.get_state()
    ours = [(inputs.crops(), y, known, b) for inputs, y, known, b in trainer.batches(0)]
    trainer.flip.generator.set_state(flips)
    theirs = [trainer.loader.collate(pos) for pos in trainer.loader.batch_positions(0)]
    assert len(ours) == len(theirs) > 1 and any(batch.flipped.any() for batch in theirs)
    for (crops, y, known, b), batch in zip(ours, theirs):
        assert torch.equal(crops, batch.x.view(crops.shape)) and b == batch.num_graphs
        assert torch.equal(y, batch.y) and torch.equal(known, batch.y_mask)

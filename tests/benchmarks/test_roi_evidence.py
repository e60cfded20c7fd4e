"""benchmarks.roi_evidence: the pixel probe reads AUs drawn into their own ROIs, not AUs drawn nowhere, and sits
beside the local model's AUC from the comparison's rows."""
import csv
import json

import numpy as np
import pytest

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.store import write_store
from benchmarks import roi_evidence as re_
from benchmarks.fixtures import make_store


def test_the_probe_reads_drawn_aus_and_not_undrawn_ones(tmp_path):
    drawn = make_store(tmp_path / "drawn", "bp4d", per_subject=16, subjects_per_part=2)
    got = re_.probe_store(drawn, assignments=1, faces=500, log=lambda line: None)
    assert got["test_sets"] == 3 and len(got["probe_auc"]) == 12
    assert min(got["probe_auc"]) > 0.8  # every AU brightens its own ROIs
    # the same labels over crops of pure noise: nothing to read
    p = get_protocol("bp4d")
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 255, (len(drawn), p.num_rois, 3, 10, 10)).astype(np.uint8)
    blank = write_store(tmp_path / "blank", "bp4d", noise, np.asarray(drawn.labels), np.asarray(drawn.subject),
                        np.asarray(drawn.video), np.asarray(drawn.frame))
    none = re_.probe_store(blank, assignments=1, faces=500, log=lambda line: None)
    assert 0.35 < np.nanmean(none["probe_auc"]) < 0.65


def test_main_puts_local_beside_the_probe(tmp_path):
    store = make_store(tmp_path / "store_x", "bp4d", per_subject=16, subjects_per_part=2)
    rows = [{"protocol": "frozen", "layer": layer, "fold_seed": fs, "seed": fs, "fold": f,
             **{f"auc_AU{au}": (0.5 if layer == "local" else 0.9) + 0.01 * fs for au in store.protocol.aus}}
            for layer in ("local", "none") for fs in (0, 1) for f in (1, 2, 3)]
    with (tmp_path / "relation_layers_store_x.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert re_.main(["--data", str(store.path), "--assignments", "1", "--faces", "300", "--results", str(tmp_path),
                     "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "roi_evidence.json").read_text())
    entry = doc["stores"][0]
    assert entry["name"] == "store_x" and entry["local_auc"]["1"] == pytest.approx(0.5)  # fold seed 0 only
    md = (tmp_path / "roi_evidence.md").read_text()
    assert "| AU1 | " in md and " / 50 |" in md
    with pytest.raises(InputError, match="--assignments"):
        re_.main(["--data", str(store.path), "--assignments", "0", "--out", str(tmp_path)])


def test_latents_and_roi_heads_of_the_stage1_models(tmp_path):
    from click.testing import CliRunner

    from augcn_pyg.cli import main as cli

    store = make_store(tmp_path / "store_y", "bp4d", per_subject=16, subjects_per_part=2)
    root = tmp_path / "runs"
    tiny = ["--set", "model.latent=8", "--set", "model.hidden=4", "--set", "model.strip_channels=4",
            "--set", "train.threads=1", "--set", "train.batch_size=64", "-q"]
    for fold in (1, 2, 3):
        result = CliRunner().invoke(cli, ["train", "--data", str(store.path), "--epochs", "8,0", "-o",
                                          str(root / "fold-seed0" / "stage1" / f"fold{fold}-seed0"),
                                          "--set", f"data.fold={fold}", "--set", "data.fold_seed=0", *tiny])
        assert result.exit_code == 0, result.output
    got = re_.probe_store(store, assignments=1, faces=500, stage1_root=root, log=lambda line: None)
    assert len(got["latent_auc"]) == len(got["roi_head_auc"]) == 12
    assert np.nanmean(got["latent_auc"]) > 0.75  # the brightness the AUs add survives a short stage 1 (~0.88)
    assert np.nanmean(got["roi_head_auc"]) > 0.55  # eq. 2's heads, trained by stage 1, read them too (~0.6)
    doc = {"command": "x", "machine": {}, "faces": 500, "stores": [{"name": "store_y", **got, "local_auc": {}}]}
    assert "pixel probe / latent probe / stage-1 ROI heads / local" in re_.table(doc)
    with pytest.raises(InputError, match="no stage-1 model"):
        re_.probe_store(store, assignments=1, faces=500, stage1_root=tmp_path / "elsewhere", log=lambda line: None)

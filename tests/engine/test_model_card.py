"""MODEL_CARD.md in every run folder: data, graph, layer, config, per-AU test metrics, intended use, and the
SynthAU statement when the store's faces are SynthAU's."""
import json
from pathlib import Path

import pytest
from predict_media import SMALL_MODEL

from augcn_pyg.engine.model_card import MODEL_CARD, SYNTHAU_NOTE, UNKNOWN_ORIGIN_NOTE, model_card_text
from benchmarks.fixtures import make_store


def train_run(tmp_path, origin: str) -> Path:
    from click.testing import CliRunner

    from augcn_pyg.cli import main

    store = tmp_path / "store"
    make_store(store, roi_size=10)
    if origin != "unknown":  # what `prepare` records about the faces' dataset
        root = tmp_path / "dataset"
        root.mkdir()
        if origin == "synthau":
            (root / "synthau.json").write_text("{}")
        meta = json.loads((store / "store.json").read_text())
        meta["created"].update(dataset="bp4d", root=str(root), landmarks="dlib", frames=150, skipped=6)
        (store / "store.json").write_text(json.dumps(meta))
    result = CliRunner().invoke(main, ["train", "--data", str(store), "--epochs", "0,1", "--layer", "gat",
                                       "-o", str(tmp_path / "run"), "-q", *SMALL_MODEL])
    assert result.exit_code == 0, result.output
    return tmp_path / "run"


@pytest.mark.parametrize("origin", ["synthau", "other", "unknown"])
def test_training_writes_a_model_card(origin, tmp_path):
    run = train_run(tmp_path, origin)
    card = (run / MODEL_CARD).read_text()
    assert card == model_card_text(run)
    assert card.startswith("# Model card: gat on BP4D, fold 1, seed 0")
    lead = card.split("## Model")[0]
    assert (SYNTHAU_NOTE in lead) == (origin == "synthau")
    assert (UNKNOWN_ORIGIN_NOTE in lead) == (origin == "unknown")
    assert "not an AU detector for real faces" in card  # in the limits, whatever the store
    doc = json.loads((run / "run.json").read_text())
    assert ", ".join(doc["splits"]["test_subjects"]) in card
    assert f"{doc['store']['faces']} faces" in card and doc["store"]["store_json_sha256"] in card
    assert "relation layer `gat`" in card and "threshold 1.0" in card
    test = json.loads((run / "test_metrics.json").read_text())["test"]
    assert len(test["aus"]) == 12
    for au, f1 in zip(test["aus"], test["f1"]):
        assert f"| AU{au} | {100 * f1:.1f} |" in card
    if origin != "unknown":
        assert "`bp4d` dataset at" in card and "150 frames of which 6 skipped" in card

"""``MODEL_CARD.md``: what a trained run is, written into its folder at the end of training.

Everything comes from the run folder itself (``run.json``, ``config.yaml``, ``graph.json``,
``test_metrics.json``), plus the store's ``store.json`` when it is still where training found it: data
(store identity, protocol, subjects per split), graph, relation layer, config, test metrics per AU,
intended use and limits. A model trained on SynthAU faces is said to be a demonstration, not an AU
detector for real faces.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from augcn_pyg.core.io import write_text_atomic
from augcn_pyg.engine import runs
from augcn_pyg.graph.relations import RelationGraph

MODEL_CARD = "MODEL_CARD.md"

SYNTHAU_NOTE = ("**This model was trained on SynthAU**, the toolkit's synthetic faces. It is a demonstration of "
                "the pipeline, **not an AU detector for real faces**: its scores say nothing about real recordings.")
UNKNOWN_ORIGIN_NOTE = ("The store does not say which faces it holds (it was not written by `augcn-pyg prepare`, or "
                       "has moved). If they are SynthAU faces, this model is a demonstration, not an AU detector "
                       "for real faces.")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _store_origin(store_path: str) -> tuple[str, bool | None]:
    """(a line on where the store's faces come from, SynthAU or not / None when unknown)."""
    meta = _read_json(Path(store_path) / "store.json")
    info = meta.get("created") or {}  # prepare records dataset, root, landmarks there
    if not info.get("dataset"):
        return "not recorded in the store", None
    root = Path(str(info.get("root", "")))
    synthetic = (root / "synthau.json").is_file()
    kind = "SynthAU (synthetic faces)" if synthetic else "not SynthAU as far as the store shows"
    return (f"`{info['dataset']}` dataset at `{root}`, landmarks `{info.get('landmarks')}`, "
            f"{info.get('frames')} frames of which {info.get('skipped')} skipped; {kind}"), synthetic


def _metrics_table(test: dict) -> list[str]:
    lines = ["| AU | F1 | AUC |", "|---|---:|---:|"]
    for au, f1, auc in zip(test["aus"], test["f1"], test["auc"]):
        lines.append(f"| AU{au} | {100 * f1:.1f} | {'–' if auc is None else f'{100 * auc:.1f}'} |")
    mean_auc = test.get("mean_auc")
    lines.append(f"| **mean** | **{100 * test['mean_f1']:.1f}** | "
                 f"**{'–' if mean_auc is None else f'{100 * mean_auc:.1f}'}** |")
    return lines


def _intensity_table(it: dict) -> list[str]:
    def cell(v):
        return "–" if v is None else f"{v:.3f}"
    lines = ["| AU | ICC(3,1) | MAE | r |", "|---|---:|---:|---:|"]
    for au, icc, mae, r in zip(it["aus"], it["icc"], it["mae"], it["r"]):
        lines.append(f"| AU{au} | {cell(icc)} | {cell(mae)} | {cell(r)} |")
    lines.append(f"| **mean** | **{cell(it['mean_icc'])}** | **{cell(it['mean_mae'])}** | **{cell(it['mean_r'])}** |")
    return lines


def model_card_text(run_dir: str | Path) -> str:
    """The Markdown model card of the run folder ``run_dir``."""

    run_dir = Path(run_dir)
    run = _read_json(run_dir / runs.RUN_JSON)
    metrics = _read_json(run_dir / runs.TEST_METRICS)
    graph = RelationGraph.load(run_dir / runs.GRAPH)
    cfg = yaml.safe_load((run_dir / runs.CONFIG).read_text(encoding="utf-8"))
    store, splits = run.get("store", {}), run.get("splits", {})
    model, train = cfg["model"], cfg["train"]
    origin, synthetic = _store_origin(store.get("path", ""))
    aus = list(graph.aus)
    pairs = [f"AU{aus[i]}–AU{aus[j]}" for i, j in zip(*np.nonzero(np.triu(np.asarray(graph.au_adjacency), 1)))]
    rules = ", ".join(f"{rule} {n}" for rule, n in graph.edge_counts().items() if n)
    test = metrics.get("test", {})

    out = [f"# Model card: {model['layer']} on {store.get('protocol', '?').upper()}, fold {cfg['data']['fold']}, "
           f"seed {train['seed']}", ""]
    out += [SYNTHAU_NOTE if synthetic else UNKNOWN_ORIGIN_NOTE if synthetic is None else "", ""]
    out += ["## Model", "",
            f"AU-GCN (after Liu et al.): {run.get('parameters', {}).get('total', '?'):,} parameters; per-ROI "
            f"auto-encoders (d0 = {model['latent']}), relation layer `{model['layer']}` "
            f"(widths {model['latent']} → {' → '.join(map(str, model['hidden']))}, options "
            f"{model.get('layer_options') or '{}'}), global ROI node {'on' if model['global_node'] else 'off'}.",
            f"Input: {store.get('roi_size', '?')}×{store.get('roi_size', '?')} ROI crops of faces aligned to the "
            f"toolkit's 200×200 template; output: the probability of each of AU {', '.join(map(str, aus))} "
            f"(present at ≥ 0.5)"
            + ("" if model.get("task", "presence") == "presence" else
               f"; task `{model['task']}`: also each AU's intensity on 0–5 (an intensity head, loss "
               f"`{cfg.get('loss', {}).get('intensity_loss', 'mse')}`)") + ".", ""]
    out += ["## Data", "",
            f"- ROI store `{store.get('path')}`: {store.get('faces')} faces, protocol `{store.get('protocol')}`, "
            f"store.json sha256 `{store.get('store_json_sha256')}`",
            f"- origin: {origin}",
            f"- subjects: {len(splits.get('train_subjects', []))} training ({splits.get('train_faces')} faces, "
            f"{run.get('train_faces_used')} used), {len(splits.get('val_subjects', []))} validation "
            f"({splits.get('val_faces')} faces), {len(splits.get('test_subjects', []))} test "
            f"({splits.get('test_faces')} faces); subject-exclusive",
            f"- test subjects: {', '.join(splits.get('test_subjects', []))}", ""]
    out += ["## Relation graph", "",
            f"Fitted on the labels of the {graph.source}: measure `{graph.measure}`, symmetrised by "
            f"`{graph.symmetrize}`, threshold {graph.threshold}, rules {', '.join(graph.rules)}; {len(pairs)} AU "
            f"pairs{': ' + ', '.join(pairs) if pairs else ''}; {graph.num_edges} directed ROI edges "
            f"(per rule: {rules}). The graph is `graph.json` beside this card.", ""]
    out += ["## Training", "",
            f"Stage 1: {train['epochs_ae']} auto-encoder epochs; stage 2: {train['epochs']} epochs of everything; SGD lr "
            f"{train['lr']}, batch {train['batch_size']}, momentum {train['momentum']}, weight decay "
            f"{train['weight_decay']}; horizontal flips {'on' if train['flip'] else 'off'}; selection: "
            f"{metrics.get('selected')} (epoch {metrics.get('epoch')}), never on the test subjects. "
            f"{metrics.get('train_seconds', 0):.0f} s on {run.get('device')} with {run.get('threads')} threads. "
            f"The full resolved config is `config.yaml`; versions and git revision are in `run.json` "
            f"(git `{run.get('git')}`).", ""]
    if test:
        out += ["## Test metrics (the fold's test subjects, threshold 0.5)", "", *_metrics_table(test), ""]
    if metrics.get("test_intensity"):
        out += ["## Intensity metrics (the fold's test subjects, 0–5)", "",
                *_intensity_table(metrics["test_intensity"]), ""]
    out += ["## Intended use and limits", "",
            "- Research on AU relation modelling: comparing relation layers and graphs under one protocol. Not "
            "for decisions about people (emotion, health, hiring, deception, ...): AU occurrence is not a "
            "person's inner state.",
            "- Scores hold only for faces like the store's (same dataset, camera, pose range, landmark "
            "backend and alignment); published BP4D/DISFA numbers use 3 folds and often select on the test "
            "fold, so they are not directly comparable to one fold here.",
            "- Faces are found and aligned by a landmark backend; frames where it fails get no prediction.",
            "- A model trained on SynthAU, the toolkit's synthetic faces, is a demonstration of the pipeline, "
            "**not an AU detector for real faces**.", ""]
    return "\n".join(out)


def write_model_card(run_dir: str | Path) -> Path:
    """Write ``MODEL_CARD.md`` into the run folder (atomically) and return its path."""
    path = Path(run_dir) / MODEL_CARD
    write_text_atomic(path, model_card_text(run_dir))
    return path

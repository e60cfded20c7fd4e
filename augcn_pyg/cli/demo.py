"""The main job on the embedded default (``make demo`` / ``augcn-pyg demo``).

1. the paper's Table 1 graphs (BP4D, DISFA): JSON files and pictures;
2. a small SynthAU-BP4D set rendered in BP4D's native layout;
3. relation graphs fitted on its labels with the paper's measure and with phi, compared with Table 1;
4. the faces to an ROI store (dlib landmarks, alignment, 19 ROIs of 25x25);
5. the fold-1 PyG datasets (graph fitted on the training subjects only) and one loader batch;
6. a picture of one face's ROIs;
7. a larger SynthAU-BP4D set (prepared from its shipped landmarks), on which a small AU-GCN and the same
   model without a relation graph (``none``: G = I; it keeps the whole-face node and the Dice loss, so it
   is not the paper's AU-Net) are trained on fold 1 and scored on its test subjects, side by side.

Everything lands under one output folder; a second run reuses the rendered faces and the store.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.core.metrics import AUScores
from augcn_pyg.data.dataset import fold_datasets
from augcn_pyg.data.labels import read_labels
from augcn_pyg.data.loader import FaceGraphLoader
from augcn_pyg.data.prepare import prepare
from augcn_pyg.data.store import ROIStore
from augcn_pyg.data.synthau import generate_synthau
from augcn_pyg.data.synthau.check import best_threshold, differing_pairs
from augcn_pyg.engine import runs
from augcn_pyg.engine.config import load_config
from augcn_pyg.engine.evaluate import format_table
from augcn_pyg.engine.trainer import train
from augcn_pyg.graph.paper import TABLE1
from augcn_pyg.graph.relations import RelationBuilder, paper_graph
from augcn_pyg.graph.report import describe
from augcn_pyg.viz.graphs import plot_graph
from augcn_pyg.viz.rois import show_rois

#: the demo's SynthAU size: 6 subjects (two per BP4D fold part) x 8 tasks x 10 frames = 480 faces
DEMO_SYNTH = {"protocol": "bp4d", "relations": "realistic", "subjects": 6, "frames_per_video": 10, "seed": 0,
              "difficulty": "medium"}


def paper_graphs(out: Path, echo: Callable[[str], None]) -> None:
    for protocol in TABLE1:
        graph = paper_graph(protocol)
        graph.save(out / f"{protocol}_table1.json")
        for level in ("au", "roi", "heatmap"):
            plot_graph(graph, out / f"{protocol}_table1_{level}.png", level)
        echo(f"=== {protocol.upper()}: the paper's Table 1 ===\n{describe(graph)}\n")


def fitted_graphs(labels, out: Path, echo: Callable[[str], None]) -> None:
    table = TABLE1["bp4d"]
    paper = RelationBuilder("bp4d").fit(labels.labels, source="SynthAU-BP4D labels")
    phi = RelationBuilder("bp4d", threshold=0.1, measure="phi").fit(labels.labels, source="SynthAU-BP4D labels")
    for name, builder in (("conditional", paper), ("phi", phi)):
        builder.graph_.save(out / f"synthau_{name}.json")
        plot_graph(builder.graph_, out / f"synthau_{name}_roi.png", "roi")
        plot_graph(builder.graph_, out / f"synthau_{name}_heatmap.png", "heatmap")
    score = paper.score_
    best, best_diff = best_threshold(score, table)
    explained = paper.graph_.explained_by_independence()
    iu = np.triu_indices(len(table), 1)
    echo(f"=== Relation graphs fitted on {len(labels)} SynthAU-BP4D frames ===")
    echo(f"paper's measure P(j|i)+P(i|j) >= {paper.threshold_:g} (the default): {int(paper.au_adjacency_[iu].sum())} "
         f"AU pairs, {differing_pairs(score, table, paper.threshold_)} of 66 differ from Table 1 "
         f"(best threshold {best:.2f}: {best_diff} differ); "
         f"{int(explained[iu].sum())} of the pairs are produced by base rates alone")
    echo(f"phi >= 0.1: {int(phi.au_adjacency_[iu].sum())} AU pairs\n")


#: the training set: 12 subjects (four per fold part) x 8 tasks x 25 frames = 2,400 faces
TRAIN_SYNTH = {"protocol": "bp4d", "relations": "realistic", "subjects": 12, "frames_per_video": 25, "seed": 1,
               "difficulty": "medium"}
#: a short schedule so the demo takes minutes: 4 + 8 epochs, decays every 4, batches of 64 (more steps)
TRAIN_SETTINGS = ["train.epochs_ae=4", "train.epochs=8", "train.lr_step=4", "train.batch_size=64"]
DEMO_MODELS = (("AU-GCN", "gcn"), ("none (no graph)", "none"))


def train_models(out: Path, echo: Callable[[str], None], workers: int = 2) -> dict:
    """Train AU-GCN and ``none`` (no graph) on fold 1 of a SynthAU store; print their test tables side by side."""
    root = out / "synthau-bp4d-train"
    store_dir = out / "store-train"
    echo(f"\n=== Training on SynthAU-BP4D: {TRAIN_SYNTH['subjects']} subjects x 8 tasks x "
         f"{TRAIN_SYNTH['frames_per_video']} frames, shipped landmarks -> {store_dir} ===")
    generate_synthau(root, workers=workers, progress=False, **TRAIN_SYNTH)
    if not (store_dir / "store.json").exists():
        echo(prepare("bp4d", root, store_dir, landmarks_dir=root / "Landmarks", workers=1, progress=False).line())
    results = {}
    for label, layer in DEMO_MODELS:
        cfg = load_config(None, [f"data.store={store_dir}", f"model.layer={layer}", *TRAIN_SETTINGS])
        run = out / "runs" / layer
        resume = (run / runs.RUN_JSON).exists()
        metrics = train(cfg, run, resume=resume, quiet=True, echo=echo)
        t = metrics["test"]
        results[label] = AUScores.from_dict(t)
        echo(f"{label if layer in label else f'{label} ({layer})'}: {metrics['train_seconds']:.0f} s of training, test average F1 "
             f"{100 * t['mean_f1']:.1f}, AUC {100 * t['mean_auc']:.1f} -> {run}")
    echo("\nfold 1 test subjects, the last epoch (no selection on the test part):")
    echo(format_table(results, get_protocol("bp4d").aus))
    return {label: s.mean_f1 for label, s in results.items()}


def run_demo(out: str | Path, echo: Callable[[str], None] = print, workers: int = 2) -> dict:
    """Run every stage into ``out``; returns a few numbers of the run."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot make the demo output folder {out}: {exc.strerror or exc}") from None
    paper_graphs(out / "graphs", echo)

    synth_root = out / "synthau-bp4d"
    echo(f"=== SynthAU-BP4D: {DEMO_SYNTH['subjects']} subjects x 8 tasks x {DEMO_SYNTH['frames_per_video']} "
         f"frames -> {synth_root} ===")
    generate_synthau(synth_root, workers=workers, progress=False, **DEMO_SYNTH)
    labels = read_labels(synth_root / "AUCoding" / "AU_OCC", "bp4d")
    fitted_graphs(labels, out / "graphs", echo)

    store_dir = out / "store"
    if (store_dir / "store.json").exists():
        echo(f"reusing the ROI store in {store_dir}")
    else:
        summary = prepare("bp4d", synth_root, store_dir, landmarks="dlib", workers=1, progress=False)
        echo(summary.line())
    store = ROIStore(store_dir)
    train, test = fold_datasets(store, fold=1)
    batch = next(iter(FaceGraphLoader(train, batch_size=64, shuffle=True)))
    echo(f"fold 1: {len(train)} training faces, {len(test)} test faces; the graph was fitted on the training "
         f"subjects only ({train.graph.num_edges} directed ROI edges)")
    echo(f"one batch: {batch.num_graphs} face graphs, x {tuple(batch.x.shape)} {batch.x.dtype}, "
         f"edge_index {tuple(batch.edge_index.shape)}, y {tuple(batch.y.shape)}, roi_y {tuple(batch.roi_y.shape)}")

    # a face that prepare stored, so dlib is known to find it
    show_rois(store.source[0], out / "rois.png", "bp4d", landmarks="dlib")
    trained = train_models(out, echo, workers)
    echo(f"\nwrote graphs, pictures, the SynthAU sets, the ROI stores and the runs under {out}/ "
         f"(see {out / 'graphs'}, {out / 'rois.png'} and {out / 'runs'})")
    return {"frames": len(labels), "stored": len(store), "train": len(train), "test": len(test), "f1": trained}

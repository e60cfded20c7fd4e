"""Score a trained run on the test part of its fold (of its own store, or of another with the same
protocol and ROI size): per-AU F1 at 0.5 and AUC over all test frames, then averaged over AUs; with an
intensity head also ICC(3,1), MAE and Pearson r per AU (when the store has intensities).

A store of **another protocol** (cross-dataset evaluation) is scored on all its faces, over the AUs both
protocols score, with the ROIs mapped through the AU catalogue (:mod:`augcn_pyg.engine.cross_dataset`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.intensity import IntensityScores, intensity_scores
from augcn_pyg.core.io import write_json_atomic
from augcn_pyg.core.metrics import AUScores, au_scores
from augcn_pyg.data.splits import run_splits
from augcn_pyg.engine import runs
from augcn_pyg.engine.config import config_from_dict
from augcn_pyg.engine.cross_dataset import CrossMap, cross_map
from augcn_pyg.engine.distributed import resolve_device
from augcn_pyg.engine.models import check_model_fits_store, load_model, open_store
from augcn_pyg.engine.scoring import (
    predict_rows_both,
    score,
    score_intensity,
    write_intensity_table,
    write_table,
)


@dataclass
class Evaluation:
    presence: AUScores
    intensity: IntensityScores | None = None  # a run with an intensity head on a store with intensities
    cross: CrossMap | None = None  # a store of another protocol


def evaluate_run(run_dir: str | Path, store_path: str | Path | None = None, device: str = "cpu") -> AUScores:
    """Test scores of the run's selected weights; writes ``evaluation.json`` and ``evaluation.csv`` in the run."""
    return evaluate(run_dir, store_path, device).presence


def evaluate(run_dir: str | Path, store_path: str | Path | None = None, device: str = "cpu") -> Evaluation:
    """:func:`evaluate_run` with the intensity scores and, for another protocol's store, the AU mapping;
    also writes ``evaluation_intensity.csv`` when there are intensity scores."""
    run_dir = Path(run_dir)
    if runs.read_run_json(run_dir) is None:
        raise InputError(f"{run_dir} is not an augcn-pyg run folder (no {runs.RUN_JSON})")
    dev = resolve_device(device)
    model, doc = load_model(run_dir, dev)
    cfg = config_from_dict(doc["config"])
    store = open_store(str(store_path) if store_path is not None else cfg.data.store)
    if doc["protocol"] != store.protocol.name:
        return _evaluate_cross(run_dir, model, doc, store, dev)
    check_model_fits_store(doc, store, run_dir)
    # the run's own fold assignment: a run trained on random folds (fold_seed >= 0) is scored on their test part
    splits = run_splits(store, cfg.data.fold, cfg.data.val_fraction, fold_seed=cfg.data.fold_seed)
    probs, inten = predict_rows_both(model, store, splits.test_rows, dev)
    scores = score(store, splits.test_rows, probs)
    result = Evaluation(scores, score_intensity(store, splits.test_rows, inten))
    _write(run_dir, result, {"store": str(Path(store.path).resolve()), "fold": cfg.data.fold,
                             "fold_seed": cfg.data.fold_seed, "test_subjects": splits.test_subjects,
                             "epoch": doc.get("epoch"), "selected": doc.get("selected")})
    return result


def _write(run_dir: Path, result: Evaluation, head: dict) -> None:
    doc = {**head, "test": result.presence.to_dict()}
    if result.intensity is not None:
        doc["test_intensity"] = result.intensity.to_dict()
        write_intensity_table(run_dir / runs.EVAL_INTENSITY_TABLE, result.intensity)
    if result.cross is not None:
        doc["cross_dataset"] = result.cross.to_dict()
    write_json_atomic(run_dir / "evaluation.json", doc)
    write_table(run_dir / "evaluation.csv", result.presence)


@dataclass
class CrossPredictions:
    """A run's outputs on every face of another protocol's store, restricted to the AUs both score."""
    mapping: CrossMap
    probabilities: np.ndarray  # (N, K) presence probabilities, K = len(mapping.aus)
    labels: np.ndarray  # (N, K) the store's 0/1 labels (NaN unknown)
    intensities: np.ndarray | None  # (N, K) predicted 0–5 intensities; None without a head or store intensities
    true_intensities: np.ndarray | None  # (N, K) the store's 0–5 intensities

    def scores(self) -> Evaluation:
        presence = au_scores(self.probabilities, self.labels, aus=self.mapping.aus)
        intensity = None
        if self.intensities is not None:
            intensity = intensity_scores(self.intensities, self.true_intensities, aus=self.mapping.aus)
        return Evaluation(presence, intensity, self.mapping)


def cross_predictions(run_dir: str | Path, model, doc: dict, store, dev) -> CrossPredictions:
    """The run ``model`` (its ``doc``) on every face of ``store``, a store of another protocol; a pair sharing no
    AU, or ROIs of another size, is one clear line."""
    mapping = cross_map(doc["protocol"], store.protocol)
    if int(doc["roi_size"]) != store.roi_size:
        raise InputError(f"{run_dir} was trained on {doc['roi_size']}-pixel ROIs; the store {store.path} holds "
                         f"{store.roi_size}-pixel ROIs (prepare it again with --roi-size {doc['roi_size']})")
    rows = np.arange(len(store), dtype=np.int64)  # another dataset: none of its subjects was seen in training
    probs, inten = predict_rows_both(model, store, rows, dev, roi_map=mapping.roi_map)
    m, s = mapping.model_columns, mapping.store_columns
    labels = np.asarray(store.labels)[:, s]
    if inten is None or not store.has_intensity:
        return CrossPredictions(mapping, probs[:, m], labels, None, None)
    return CrossPredictions(mapping, probs[:, m], labels, inten[:, m], np.asarray(store.intensities)[:, s])


def _evaluate_cross(run_dir: Path, model, doc: dict, store, dev) -> Evaluation:
    """A run scored on every face of a store of another protocol, over the AUs both score."""
    result = cross_predictions(run_dir, model, doc, store, dev).scores()
    _write(run_dir, result, {"store": str(Path(store.path).resolve()), "fold": None, "test_subjects": store.subjects,
                             "epoch": doc.get("epoch"), "selected": doc.get("selected")})
    return result


def format_intensity_table(scores: IntensityScores) -> str:
    """A per-AU text table of ICC(3,1), MAE (0–5 scale) and Pearson r, then their averages."""
    lines = [f"{'AU':>6} {'ICC(3,1)':>9} {'MAE':>7} {'r':>7} {'frames':>7}"]

    def cell(v, width=7):
        return f"{'-':>{width}}" if v != v else f"{v:>{width}.3f}"

    for row in scores.rows():
        lines.append(f"{row['au']:>6} {cell(row['icc'], 9)} {cell(row['mae'])} {cell(row['r'])} {row['frames']:>7}")
    return "\n".join(lines)


def format_table(columns: dict[str, AUScores | dict], aus) -> str:
    """A per-AU text table: one F1 and one AUC column per named result (AUScores, or mean/std dicts)."""
    names = list(columns)
    width = max([16] + [len(n) + 4 for n in names])  # a long name (e.g. "none (no graph)") widens every column
    head = f"{'AU':>6} " + " ".join(f"{n + ' F1':>{width}} {n + ' AUC':>{width}}" for n in names)
    lines = [head]

    def cell(value, std=None):
        if value is None or value != value:
            return f"{'-':>{width}}"
        return f"{100 * value:>{width - 7}.1f} ± {100 * std:4.1f}" if std is not None else f"{100 * value:>{width}.1f}"

    for i, au in enumerate(list(aus) + ["avg"]):
        parts = [f"{('AU' + str(au)) if au != 'avg' else 'avg':>6}"]
        for n in names:
            c = columns[n]
            if isinstance(c, AUScores):
                f1 = c.mean_f1 if au == "avg" else c.f1[i]
                auc = c.mean_auc if au == "avg" else c.auc[i]
                parts += [cell(f1), cell(auc)]
            else:
                key = "avg" if au == "avg" else f"AU{au}"
                parts += [cell(c["f1"][key], c["f1_std"][key]), cell(c["auc"][key], c["auc_std"][key])]
        lines.append(" ".join(parts))
    return "\n".join(lines)

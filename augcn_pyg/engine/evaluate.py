"""Score a trained run on the test part of its fold (of its own store, or of another with the same
protocol and ROI size): per-AU F1 at 0.5 and AUC over all test frames, then averaged over AUs."""
from __future__ import annotations

from pathlib import Path

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import write_json_atomic
from augcn_pyg.core.metrics import AUScores
from augcn_pyg.data.splits import run_splits
from augcn_pyg.engine import runs
from augcn_pyg.engine.config import config_from_dict
from augcn_pyg.engine.distributed import resolve_device
from augcn_pyg.engine.models import check_model_fits_store, load_model, open_store
from augcn_pyg.engine.scoring import predict_rows, score, write_table


def evaluate_run(run_dir: str | Path, store_path: str | Path | None = None, device: str = "cpu") -> AUScores:
    """Test scores of the run's selected weights; writes ``evaluation.json`` and ``evaluation.csv`` in the run."""
    run_dir = Path(run_dir)
    if runs.read_run_json(run_dir) is None:
        raise InputError(f"{run_dir} is not an augcn-pyg run folder (no {runs.RUN_JSON})")
    dev = resolve_device(device)
    model, doc = load_model(run_dir, dev)
    cfg = config_from_dict(doc["config"])
    store = open_store(str(store_path) if store_path is not None else cfg.data.store)
    check_model_fits_store(doc, store, run_dir)
    # the run's own fold assignment: a run trained on random folds (fold_seed >= 0) is scored on their test part
    splits = run_splits(store, cfg.data.fold, cfg.data.val_fraction, fold_seed=cfg.data.fold_seed)
    scores = score(store, splits.test_rows, predict_rows(model, store, splits.test_rows, dev))
    write_json_atomic(run_dir / "evaluation.json", {"store": str(Path(store.path).resolve()), "fold": cfg.data.fold,
                                                     "fold_seed": cfg.data.fold_seed, "test_subjects": splits.test_subjects,
                                                     "epoch": doc.get("epoch"), "selected": doc.get("selected"),
                                                     "test": scores.to_dict()})
    write_table(run_dir / "evaluation.csv", scores)
    return scores


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

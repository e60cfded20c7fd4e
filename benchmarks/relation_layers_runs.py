"""The runs of the relation-layers benchmark: each (layer, fold, seed) run trained through ``bench_protocol``
or read back from its finished run folder, with the wall time and the load beside it; the run sets of a
part (trained side by side with ``--jobs``), their CSV rows, and the inference speed of a trained model."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from augcn_pyg.engine import runs
from benchmarks import bench_protocol as bp
from benchmarks.common import finished, layer_dir, loadavg, run_root, stage1_dir

WALL = "bench_wall.json"  # beside a run trained by this script: its wall time and the machine load


def layer_done(path: Path) -> bool:
    """Whether the layer run in ``path`` finished, its test-fold record beside it (``bench_protocol.layer_run``'s test)."""
    return finished(path, bp.TEST_FOLD_EPOCHS)


def read_finished(path: Path) -> dict:
    """The same result ``bench_protocol.layer_run`` returns, read back from a finished run folder."""
    metrics = json.loads((path / runs.TEST_METRICS).read_text())
    return {**metrics, "test_fold_epochs": json.loads((path / bp.TEST_FOLD_EPOCHS).read_text())}


def one_run(store, root: Path, protocol: str, layer: str, fold: int, seed: int, fold_seed: int, budget: str,
            train: bool, log) -> dict | None:
    """One (layer, fold, seed) result with its run facts; trained now if ``train`` and not finished."""
    path = layer_dir(root, protocol, layer, fold, seed, fold_seed)
    if layer_done(path):
        result = read_finished(path)
    elif not train:
        return None
    else:
        before, t0 = loadavg(), time.perf_counter()
        s1 = stage1_dir(root, fold, seed, fold_seed)
        if not finished(s1):  # time the shared stage-1 model apart from the layer run
            bp.stage1(store, fold, seed, root, budget, fold_seed)
            if not (s1 / WALL).exists():
                (s1 / WALL).write_text(json.dumps({"wall_s": time.perf_counter() - t0, "load_before": before,
                                                   "load_after": loadavg()}))
            before, t0 = loadavg(), time.perf_counter()
        called = time.strftime("%Y-%m-%dT%H:%M:%S")
        result = bp.layer_run(store, fold, seed, layer, root, budget, protocol, fold_seed)
        wall = time.perf_counter() - t0
        # another benchmark on the same root may have trained it while this one waited for the lock
        mine = runs.read_run_json(path).get("started", "") >= called
        if mine and not (path / WALL).exists():
            (path / WALL).write_text(json.dumps({"wall_s": wall, "load_before": before, "load_after": loadavg()}))
        log(f"{protocol:10s} fold-seed {fold_seed:2d} fold {fold} seed {seed} {layer:12s} "
            f"F1 {result['test']['mean_f1']:.3f}  " + (f"{wall:6.1f} s  load {loadavg()}" if mine else "trained by another process"))
    doc = runs.read_run_json(path)
    wall = json.loads((path / WALL).read_text()) if (path / WALL).exists() else {}
    return {"result": result, "parameters": doc.get("parameters", {}), "wall_s": wall.get("wall_s"),
            "load": [wall.get("load_before"), wall.get("load_after")]}


def _train_group(store, root, protocol, layers, fold, seed, fold_seed, budget) -> None:
    """A worker's job: every layer on one shared stage-1 model (whose latents it then encodes once)."""
    from augcn_pyg.core.allocator import keep_freed_memory

    torch.set_num_threads(1)
    keep_freed_memory()  # as the commands do
    for layer in layers:
        one_run(store, root, protocol, layer, fold, seed, fold_seed, budget, True, lambda m: print(m, flush=True))


def train_side_by_side(store, root, protocol, layers, folds, seeds, fold_seed, budget, jobs: int) -> None:
    """Train the (seed, fold) groups ``jobs`` at a time, each in a spawned process with one thread."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    groups = [(fold, seed) for seed in seeds for fold in folds
              if not all(layer_done(layer_dir(root, protocol, l, fold, seed, fold_seed)) for l in layers)]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_train_group, store, root, protocol, layers, fold, seed, fold_seed, budget)
                   for fold, seed in groups]
        for future in futures:
            try:
                future.result()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise


def run_set(store, root, protocol, layers, folds, seeds, fold_seed, budget, train, log, jobs: int = 1) -> list[dict]:
    """Rows of every (seed, fold, layer) run; seed-major so a partial set holds whole repetitions.

    With ``jobs`` > 1 the runs are trained first, side by side (:func:`train_side_by_side`), then read.
    The wall time of a set that trained anything is appended to ``part_wall.json`` beside its runs."""
    t0, load_before = time.perf_counter(), loadavg()
    todo = [(l, f, s) for s in seeds for f in folds for l in layers
            if not layer_done(layer_dir(root, protocol, l, f, s, fold_seed))] if train else []
    stage1_todo = len({(f, s) for _, f, s in todo if not finished(stage1_dir(root, f, s, fold_seed))})
    if todo and jobs > 1:
        train_side_by_side(store, root, protocol, layers, folds, seeds, fold_seed, budget, jobs)
    rows = []
    for seed in seeds:
        for fold in folds:
            for layer in layers:
                got = one_run(store, root, protocol, layer, fold, seed, fold_seed, budget, train, log)
                if got is not None:
                    rows.append(flat_row(protocol, layer, fold, seed, fold_seed, got))
    if todo:
        record_part_wall(run_root(root, fold_seed) / protocol, {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "runs_trained": len(todo), "runs": len(rows),
            "stage1_models_trained": stage1_todo,
            "layers": list(layers), "jobs": jobs, "wall_s": time.perf_counter() - t0,
            "load": [load_before, loadavg()], "budget": budget})
    return rows


PART_WALL = "part_wall.json"


def record_part_wall(folder: Path, entry: dict) -> None:
    """Append ``entry`` to the part's wall-time history (the README quotes the latest complete one)."""
    from augcn_pyg.core.io import write_json_atomic

    path = folder / PART_WALL
    history = json.loads(path.read_text()) if path.exists() else []
    write_json_atomic(path, [*history, entry])


def part_walls(root: Path, protocol: str, fold_seed: int = -1) -> list[dict]:
    path = run_root(root, fold_seed) / protocol / PART_WALL
    return json.loads(path.read_text()) if path.exists() else []


def flat_row(protocol, layer, fold, seed, fold_seed, got) -> dict:
    """One CSV row: mean and per-AU scores, parameters, times and the selection cost of one run."""
    r = got["result"]
    test = r["test"]
    cost = bp.selection_cost(r["test_fold_epochs"])
    params = got["parameters"]
    row = {"protocol": protocol, "fold_seed": fold_seed, "fold": fold, "seed": seed, "layer": layer,
           "mean_f1": test["mean_f1"], "mean_auc": test["mean_auc"], "selected_epoch": r["epoch"],
           "val_f1_at_selected": r["val_f1_at_selected"], "train_seconds": r["train_seconds"],
           "wall_seconds": got["wall_s"], "load": got["load"], "params_total": params.get("total"),
           "params_relation": params.get("relation layers"), "params_classifier": params.get("classifier"),
           "recorded_val_selected_f1": cost["val_selected_test_f1"],
           "test_selected_epoch": cost["test_selected_epoch"], "test_selected_f1": cost["test_selected_test_f1"],
           "test_selected_threshold": cost["test_selected_epoch_and_threshold"][1],
           "test_selected_with_threshold_f1": cost["test_selected_with_threshold_f1"]}
    for au, f1, auc in zip(test["aus"], test["f1"], test["auc"]):
        row[f"f1_AU{au}"], row[f"auc_AU{au}"] = f1, (np.nan if auc is None else auc)
    return row


# --- inference speed ---------------------------------------------------------------------------------
def inference_speed(root: Path, protocol: str, layer: str, store, faces: int = 1024, repeats: int = 3) -> dict:
    """Faces/s of one trained model (fold 1, seed 0): uint8 crops -> probabilities, and latents -> probabilities
    (the relation layers and classifier alone). Best of ``repeats``, batch 512 and 2048, one thread."""
    from augcn_pyg.engine.models import load_model, open_store
    from augcn_pyg.engine.scoring import encode_rows, predict_latents, predict_rows

    path = layer_dir(root, protocol, layer, 1, 0, -1)
    if not layer_done(path):
        return {}
    model, _ = load_model(path)
    st = open_store(str(store))
    rows = np.arange(min(faces, len(st.labels)))
    latents = encode_rows(model, st, rows, torch.device("cpu"))  # (M, R, d0)
    full, head = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict_rows(model, st, rows, torch.device("cpu"))
        full.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        predict_latents(model, latents)
        head.append(time.perf_counter() - t0)
    return {"faces": len(rows), "full_faces_per_s": len(rows) / min(full), "head_faces_per_s": len(rows) / min(head),
            "load": loadavg()}

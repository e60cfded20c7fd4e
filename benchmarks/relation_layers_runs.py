"""The runs of the relation-layers benchmark: each (layer, fold assignment, fold, seed) run trained through
``bench_protocol`` or read back from its finished run folder, with the wall time and the load beside it; the
grid of a comparison and its deterministic shares (``--shard I/N``); the run sets of a part (trained side by
side with ``--jobs``), their CSV rows with the provenance of each run, and the inference speed of a model.

A *group* is one shared stage-1 model, ``(fold_seed, seed, fold)``: every layer run of a part starts from it.
Groups are the unit of work that shards and ``--jobs`` workers share, so that a machine never waits for a
stage-1 model another one trains."""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import yaml

from augcn_pyg.core.workers import die_with_parent
from augcn_pyg.engine import runs
from benchmarks import bench_protocol as bp
from benchmarks.common import finished, layer_dir, loadavg, locked, run_root, stage1_dir
from benchmarks.common import run_provenance as run_provenance_columns
from benchmarks.relation_layers_design import split_point

WALL = "bench_wall.json"  # beside a run trained by this script: its wall time and the machine load


def layer_done(path: Path) -> bool:
    """Whether the layer run in ``path`` finished, its test-fold record beside it (``bench_protocol.layer_run``'s test)."""
    return finished(path, bp.TEST_FOLD_EPOCHS)


def read_finished(path: Path) -> dict:
    """The same result ``bench_protocol.layer_run`` returns, read back from a finished run folder."""
    metrics = json.loads((path / runs.TEST_METRICS).read_text())
    return {**metrics, "test_fold_epochs": json.loads((path / bp.TEST_FOLD_EPOCHS).read_text())}


class Group(NamedTuple):
    """One shared stage-1 model: fold assignment (-1 the standard folds), training seed, fold."""
    fold_seed: int
    seed: int
    fold: int


def grid_groups(assignments, seeds_of, folds) -> list[Group]:
    """Every group of a comparison in a fixed order: random assignments first (0, 1, ...), the standard
    one (-1) last, so that adding repetitions or ``--standard`` keeps the other groups' shards."""
    order = sorted(assignments, key=lambda fs: (fs < 0, fs))
    return [Group(fs, seed, fold) for fs in order for seed in seeds_of(fs) for fold in folds]


def parse_shard(text: str | None) -> tuple[int, int]:
    """'I/N' -> (I, N), 1 <= I <= N; None -> (1, 1)."""
    from augcn_pyg.core.errors import InputError

    if text is None:
        return 1, 1
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise InputError(f"--shard takes I/N (e.g. 2/8), got {text!r}") from None
    if not 1 <= i <= n:
        raise InputError(f"--shard {text}: I must be 1..N")
    return i, n


def shard_groups(groups: list[Group], index: int, count: int) -> list[Group]:
    """The groups shard ``index`` of ``count`` (1-based) trains: every count-th, starting at index - 1.

    Deterministic and disjoint: N machines given the same grid options train every group exactly once,
    with no scheduler and no communication beyond the run folders (whose lock files are a second guard)."""
    return groups[index - 1::count]


def missing_runs(root: Path, protocol: str, layers, groups) -> list[str]:
    """The layer runs of the grid that have not finished, as run-folder paths under ``root``."""
    return [str(layer_dir(root, protocol, l, g.fold, g.seed, g.fold_seed).relative_to(root))
            for g in groups for l in layers if not layer_done(layer_dir(root, protocol, l, g.fold, g.seed, g.fold_seed))]


def one_run(store, root: Path, protocol: str, layer: str, fold: int, seed: int, fold_seed: int, budget: str,
            train: bool, log) -> dict | None:
    """One (layer, fold, seed) result with its run facts; trained now if ``train`` and not finished."""
    path = layer_dir(root, protocol, layer, fold, seed, fold_seed)
    if layer_done(path):
        result = read_finished(path)
    elif not train:
        return None
    else:
        ensure_stage1(store, root, Group(fold_seed, seed, fold), budget)
        before, t0 = loadavg(), time.perf_counter()
        called = time.strftime("%Y-%m-%dT%H:%M:%S")
        base, extra = split_point(layer)  # a design point (gcn@skip=sum): its layer and config override
        result = bp.layer_run(store, fold, seed, base, root, budget, protocol, fold_seed, extra=extra, name=layer)
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
            "batch_members": (doc.get("batch") or {}).get("members", 0),
            "load": [wall.get("load_before"), wall.get("load_after")], "provenance": run_provenance(path, doc),
            "splits": split_counts(doc)}


def ensure_stage1(store, root: Path, group: Group, budget: str) -> Path:
    """The group's shared stage-1 model, trained now (and timed apart from the layer runs) if it is not there."""
    s1 = stage1_dir(root, group.fold, group.seed, group.fold_seed)
    if not finished(s1):
        before, t0 = loadavg(), time.perf_counter()
        bp.stage1(store, group.fold, group.seed, root, budget, group.fold_seed)
        if not (s1 / WALL).exists():
            (s1 / WALL).write_text(json.dumps({"wall_s": time.perf_counter() - t0, "load_before": before,
                                               "load_after": loadavg()}))
    return s1


BATCHES = ".batches"  # under the run root: the checkpoints of the batches training now (removed when done)


def train_group_batched(store, root: Path, layers, group: Group, budget: str, log) -> None:
    """Every unfinished frozen run of ``group`` trained as the members of one batch (``engine.members``): one
    process, the group's latents encoded once, one small checkpoint per epoch for all, each member the same
    run as alone. Each run's ``bench_wall.json`` holds its share of the batch's wall time."""
    from contextlib import ExitStack

    from augcn_pyg.engine.members import Member, MemberBatch, batch_identity

    ensure_stage1(store, root, group, budget)
    g = group
    dirs = {layer: layer_dir(root, "frozen", layer, g.fold, g.seed, g.fold_seed) for layer in layers}
    with ExitStack() as stack:
        for layer in layers:  # in one order everywhere: two shards never wait on each other in a circle
            stack.enter_context(locked(dirs[layer]))
        todo = [layer for layer in layers if not layer_done(dirs[layer])]
        if not todo:
            return
        members = []
        for layer in todo:
            base, extra = split_point(layer)  # a design point or trial: its layer and config overrides
            cfg, run_dir = bp.layer_config(store, g.fold, g.seed, base, root, budget, "frozen", g.fold_seed, extra,
                                           name=layer)
            recorder = bp.TestFoldRecorder()
            members.append(Member(cfg, run_dir, on_epoch=recorder, on_finish=_write_test_fold_epochs(recorder)))
        checkpoint = (Path(root) / BATCHES / f"{run_root(root, g.fold_seed).name}-fold{g.fold}-seed{g.seed}-"
                                             f"{batch_identity(members)[:16]}.safetensors")
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        before, t0 = loadavg(), time.perf_counter()
        results = MemberBatch(members, checkpoint).run()
        wall = time.perf_counter() - t0
        for layer, member, result in zip(todo, members, results):
            (member.run_dir / WALL).write_text(json.dumps({
                "wall_s": wall / len(members), "batch_wall_s": wall, "batch_members": len(members),
                "load_before": before, "load_after": loadavg()}))
            log(f"{'frozen':10s} fold-seed {g.fold_seed:2d} fold {g.fold} seed {g.seed} {layer:12s} "
                f"F1 {result['test']['mean_f1']:.3f}  (batch of {len(members)}: {wall:6.1f} s, load {loadavg()})")


def _write_test_fold_epochs(recorder):
    """A member's ``on_finish``: its per-epoch test-fold scores beside it, as ``bench_protocol.layer_run`` writes."""
    from augcn_pyg.core.io import write_json_atomic

    def write(trainer, metrics):
        write_json_atomic(trainer.run_dir / bp.TEST_FOLD_EPOCHS, recorder.rows)
    return write


#: config keys that differ between the runs of one layer by design; everything else must be equal
PER_RUN_KEYS = (("data", "fold"), ("data", "fold_seed"), ("train", "seed"), ("train", "init"))


def run_provenance(path: Path, doc: dict) -> dict:
    """What made a run: the revision(s) that trained it, its config digest, the digest of its config less the
    per-run keys (:data:`PER_RUN_KEYS`: equal for every run of one layer and protocol), and the revision and
    digest of the stage-1 run it started from, as they were when it started."""
    config = yaml.safe_load((path / runs.CONFIG).read_text())
    settings = copy.deepcopy(config)
    for section, key in PER_RUN_KEYS:
        settings.get(section, {}).pop(key, None)
    init = doc.get("init") or {}
    return {**run_provenance_columns(path), "settings_digest": runs.config_digest(settings)[:16],
            "init_git": init.get("git"), "init_config_digest": init.get("config_digest"),
            "init_finished": init.get("finished")}


def split_counts(doc: dict) -> dict:
    """Subjects and faces of the run's three parts (what the corrected t-test's n_test / n_train is made of)."""
    s = doc.get("splits", {})
    return {"train_subjects": len(s.get("train_subjects", [])), "val_subjects": len(s.get("val_subjects", [])),
            "test_subjects": len(s.get("test_subjects", [])),
            "train_faces": doc.get("train_faces_used", s.get("train_faces")), "val_faces": s.get("val_faces"),
            "test_faces": s.get("test_faces")}


def stage1_provenance(root: Path, groups) -> dict[Group, dict]:
    """The revision and config digest of each group's stage-1 model as it stands now (finished ones only)."""
    out = {}
    for g in groups:
        path = stage1_dir(root, g.fold, g.seed, g.fold_seed)
        doc = runs.read_run_json(path) if path.is_dir() else None
        if doc is not None and doc.get("status") == "done":
            revisions = runs.run_revisions(doc)
            out[g] = {"path": str(path), "git": ";".join(revisions) if revisions else None,
                      "finished": doc.get("finished"), "config_digest": runs.run_config_digest(path)}
    return out


def _train_group(store, root, protocol, layers, fold, seed, fold_seed, budget, batched: bool = False) -> None:
    """A worker's job: every layer on one shared stage-1 model (whose latents it then encodes once), as one
    batch of members when ``batched`` (frozen runs), else one run after another."""
    from augcn_pyg.core.allocator import keep_freed_memory

    torch.set_num_threads(1)
    keep_freed_memory()  # as the commands do
    log = lambda m: print(m, flush=True)  # noqa: E731
    if batched:
        train_group_batched(store, root, layers, Group(fold_seed, seed, fold), budget, log)
        return
    for layer in layers:
        one_run(store, root, protocol, layer, fold, seed, fold_seed, budget, True, log)


def balanced_tasks(groups, layers, jobs: int) -> list[tuple[Group, list]]:
    """(group, layers) tasks for ``jobs`` workers: every group whole while the groups fill whole rounds of
    ``jobs``; the r < ``jobs`` groups left for the last round are each split into ``jobs // r`` shares of their
    layers (interleaved), so that no worker idles through the last round while one trains a whole group. A
    share is a batch of its own (the runs are the same either way: members train as they would alone); the
    shares of one group share its stage-1 model (the first to need it trains it, the others wait on its lock)."""
    groups = list(groups)
    whole = len(groups) - len(groups) % jobs
    tasks = [(g, list(layers)) for g in groups[:whole]]
    tail = groups[whole:]
    parts = max(1, jobs // len(tail)) if tail else 1
    for g in tail:
        tasks += [(g, list(layers)[i::parts]) for i in range(min(parts, len(layers)))]
    return tasks


def train_side_by_side(store, root, protocol, layers, groups, budget, jobs: int, batched: bool = False) -> None:
    """Train the groups ``jobs`` at a time, each in a spawned process with one thread (each group one batch
    of members when ``batched``; the last round's groups split between the workers, :func:`balanced_tasks`)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    todo = [g for g in groups if not all(layer_done(layer_dir(root, protocol, l, g.fold, g.seed, g.fold_seed))
                                         for l in layers)]
    # the workers end with this process, even when it is killed outright (a scheduler's limit, the OOM killer)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=die_with_parent,
                             initargs=(bp.configure_worker, bool(bp.LOGGING), list(bp.GRID))) as pool:
        futures = [pool.submit(_train_group, store, root, protocol, share, g.fold, g.seed, g.fold_seed, budget,
                               batched) for g, share in balanced_tasks(todo, layers, jobs)]
        for future in futures:
            try:
                future.result()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise


def run_set(store, root, protocol, layers, groups, budget, train, log, jobs: int = 1, train_groups=None,
            shard: str = "1/1", batched: bool = True) -> list[dict]:
    """Rows of every finished (group, layer) run of ``groups``, in the groups' order; the runs of
    ``train_groups`` (default: all of ``groups``) that have not finished are trained first if ``train``.

    Frozen runs train as one batch of members per group (:func:`train_group_batched`) unless ``batched`` is
    False (one run after another, each its own Trainer). With ``jobs`` > 1 the groups are trained first, side
    by side (:func:`train_side_by_side`), then read. The wall time of a set that trained anything is appended
    to the part's ``part_wall.json``."""
    t0, load_before = time.perf_counter(), loadavg()
    mine = list(groups if train_groups is None else train_groups) if train else []
    todo = [(l, g) for g in mine for l in layers if not layer_done(layer_dir(root, protocol, l, g.fold, g.seed, g.fold_seed))]
    stage1_todo = len({g for _, g in todo if not finished(stage1_dir(root, g.fold, g.seed, g.fold_seed))})
    batched = batched and protocol == "frozen"
    if todo and jobs > 1:
        train_side_by_side(store, root, protocol, layers, mine, budget, jobs, batched)
    elif todo and batched:
        for g in mine:
            train_group_batched(store, root, layers, g, budget, log)
    trained = set(mine)
    rows = []
    for g in groups:
        for layer in layers:
            got = one_run(store, root, protocol, layer, g.fold, g.seed, g.fold_seed, budget, g in trained, log)
            if got is not None:
                rows.append(flat_row(protocol, layer, g.fold, g.seed, g.fold_seed, got))
    if todo:
        record_part_wall(Path(root), protocol, {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "runs_trained": len(todo),
            "runs": len(layers) * len(mine), "stage1_models_trained": stage1_todo, "shard": shard,
            "layers": list(layers), "jobs": jobs, "batched": batched, "wall_s": time.perf_counter() - t0,
            "load": [load_before, loadavg()], "budget": budget})
    return rows


PART_WALL = "part_wall.json"


def part_wall_path(root: Path, protocol: str) -> Path:
    return Path(root) / f"{protocol}_{PART_WALL}"


def record_part_wall(root: Path, protocol: str, entry: dict) -> None:
    """Append ``entry`` to the part's wall-time history (one file per protocol under the run root; each
    shard appends its own entries under the lock)."""
    from augcn_pyg.core.io import write_json_atomic

    path = part_wall_path(root, protocol)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path):
        history = json.loads(path.read_text()) if path.exists() else []
        write_json_atomic(path, [*history, entry])


def part_walls(root: Path, protocol: str) -> list[dict]:
    """The part's wall-time history: this layout's, after the older one kept beside the standard folds' runs."""
    old = run_root(root, -1) / protocol / PART_WALL
    out = json.loads(old.read_text()) if old.exists() else []
    path = part_wall_path(root, protocol)
    return out + (json.loads(path.read_text()) if path.exists() else [])


def flat_row(protocol, layer, fold, seed, fold_seed, got) -> dict:
    """One CSV row: mean and per-AU scores, parameters, times and the selection cost of one run."""
    r = got["result"]
    test = r["test"]
    cost = bp.selection_cost(r["test_fold_epochs"])
    params = got["parameters"]
    prov = got.get("provenance", {})
    row = {"protocol": protocol, "fold_seed": fold_seed, "fold": fold, "seed": seed, "layer": layer,
           "git": prov.get("git"), "config_digest": prov.get("config_digest"),
           "settings_digest": prov.get("settings_digest"), "init_git": prov.get("init_git"),
           "init_config_digest": prov.get("init_config_digest"), "init_finished": prov.get("init_finished"),
           **{f"n_{k}": v for k, v in got.get("splits", {}).items()},
           "mean_f1": test["mean_f1"], "mean_auc": test["mean_auc"], "selected_epoch": r["epoch"],
           "val_f1_at_selected": r["val_f1_at_selected"], "train_seconds": r["train_seconds"],
           "wall_seconds": got["wall_s"], "batch_members": got.get("batch_members", 0), "load": got["load"], "params_total": params.get("total"),
           "params_relation": params.get("relation layers"), "params_classifier": params.get("classifier"),
           "recorded_val_selected_f1": cost["val_selected_test_f1"],
           "test_selected_epoch": cost["test_selected_epoch"], "test_selected_f1": cost["test_selected_test_f1"],
           "test_selected_threshold": cost["test_selected_epoch_and_threshold"][1],
           "test_selected_with_threshold_f1": cost["test_selected_with_threshold_f1"]}
    for au, f1, auc in zip(test["aus"], test["f1"], test["auc"]):
        row[f"f1_AU{au}"], row[f"auc_AU{au}"] = f1, (np.nan if auc is None else auc)
    inten = r.get("test_intensity")
    if inten:  # a run with an intensity head on a store with intensities: ICC(3,1), MAE, r (core/intensity.py)
        nan = lambda v: np.nan if v is None else v  # noqa: E731
        row.update({"mean_icc": nan(inten["mean_icc"]), "mean_mae": nan(inten["mean_mae"]), "mean_r": nan(inten["mean_r"])})
        for au, icc, mae in zip(inten["aus"], inten["icc"], inten["mae"]):
            row[f"icc_AU{au}"], row[f"mae_AU{au}"] = nan(icc), nan(mae)
    return row


# --- inference speed ---------------------------------------------------------------------------------
def inference_speed(root: Path, protocol: str, layer: str, store, group: Group = Group(-1, 0, 1), faces: int = 1024,
                    repeats: int = 3) -> dict:
    """Faces/s of one trained model (``group``'s): uint8 crops -> probabilities, and latents -> probabilities
    (the relation layers and classifier alone). Best of ``repeats``, batch 512 and 2048, one thread."""
    from augcn_pyg.engine.models import load_model, open_store
    from augcn_pyg.engine.scoring import encode_rows, predict_latents, predict_rows

    path = layer_dir(root, protocol, layer, group.fold, group.seed, group.fold_seed)
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

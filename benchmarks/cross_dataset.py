"""Across datasets: the runs of one store's frozen comparison scored on a store of the other protocol, and back.

    python -m benchmarks.relation_layers --data store_bp4d --parts frozen --layers local,none,gcn,gat --budget 8 \\
        --set model.task=both --root bench/both_bp4d
    python -m benchmarks.relation_layers --data store_disfa ... --root bench/both_disfa
    python -m benchmarks.cross_dataset --a store_bp4d --a-root bench/both_bp4d --b store_disfa --b-root bench/both_disfa

Every run each comparison selected (one per layer, fold assignment, seed and fold: the trial with the best
validation F1) is scored on **every face of the other store**, over the AUs both protocols score, with the ROIs
mapped through the AU catalogue (``augcn-pyg evaluate RUN --data OTHER``; ``engine.cross_dataset``). Beside it,
the same run's score on its own fold's test subjects over the same AUs (from the comparison's rows), so that the
drop is paired run by run.

The other store is one fixed test set for every run, so the spread over runs says nothing about how the
score would move on other test subjects. The difference of each layer against ``none`` is therefore given with
a two-way bootstrap interval: each draw resamples the runs (matched across layers) and the other store's
subjects, and recomputes F1 from the summed per-subject confusion counts. Written here (a dozen lines) because
``scipy.stats.bootstrap`` resamples one axis and F1 is not a mean over subjects.

The layers are fixed before any score is seen (the relation-free ``local``, the implicit ``none``, the paper's
``gcn`` and ``gat``), not chosen by a test result.

Results: ``benchmarks/results/cross_dataset_<a>_<b>.{json,md}``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import write_json_atomic
from augcn_pyg.data.store import ROIStore
from augcn_pyg.engine import runs
from augcn_pyg.engine.cross_dataset import cross_map
from augcn_pyg.engine.evaluate import cross_predictions
from augcn_pyg.engine.models import load_model
from benchmarks.common import RESULTS, layer_dir, machine_info, run_cli, write_report
from benchmarks.positive_control import NONE, read_rows

LAYERS = ("local", "none", "gcn", "gat")
PROTOCOL = "frozen"
DRAWS = 2000
ROPE = 0.01  # one point of F1, as in the comparison
METRICS = ("f1", "auc", "icc", "mae")  # per run, on its own test subjects and on the other store
CACHE = "cross_dataset_{}.json"  # under the run root: each run's scores on the other store (resumable)


def subject_counts(probabilities, labels, subjects, order, threshold: float = 0.5) -> np.ndarray:
    """(S, K, 3) true positives, false positives and false negatives per subject (in ``order``) and AU, of
    (N, K) probabilities against (N, K) 0/1 labels (NaN unknown) of faces of ``subjects`` (N,)."""
    known = ~np.isnan(labels)
    present = known & (np.nan_to_num(labels) > 0.5)
    predicted = probabilities >= threshold
    out = np.zeros((len(order), labels.shape[1], 3), dtype=np.int64)
    for i, s in enumerate(order):
        m = subjects == s
        out[i, :, 0] = (predicted[m] & present[m]).sum(0)
        out[i, :, 1] = (predicted[m] & known[m] & ~present[m]).sum(0)
        out[i, :, 2] = (~predicted[m] & present[m]).sum(0)
    return out


def f1_of_counts(counts: np.ndarray) -> np.ndarray:
    """Mean F1 over AUs from (..., S, K, 3) counts summed over subjects: (...,). An AU without a true positive
    scores 0, as ``au_scores`` does."""
    tp, fp, fn = np.moveaxis(counts.sum(-3), -1, 0)  # each (..., K)
    f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    return f1.mean(-1)


def bootstrap_difference(a: np.ndarray, b: np.ndarray, draws: int = DRAWS, seed: int = 0) -> dict:
    """Mean F1 of ``a`` minus ``b`` over runs, each (runs, S, K, 3) counts of the same runs on the same subjects,
    with a 95% interval from resampling runs and subjects together."""
    rng = np.random.default_rng(seed)
    n_runs, n_subjects = a.shape[:2]
    point = float((f1_of_counts(a) - f1_of_counts(b)).mean())
    diffs = np.empty(draws)
    for d in range(draws):
        r = rng.integers(0, n_runs, n_runs)
        s = rng.integers(0, n_subjects, n_subjects)
        diffs[d] = (f1_of_counts(a[r][:, s]) - f1_of_counts(b[r][:, s])).mean()
    low, high = np.percentile(diffs, [2.5, 97.5])
    verdict = "unsure"
    if low > 0 and point > ROPE:
        verdict = "better"
    elif high < 0 and point < -ROPE:
        verdict = "worse"
    return {"mean": point, "low": float(low), "high": float(high), "verdict": verdict, "draws": draws,
            "runs": n_runs, "subjects": n_subjects}


def selected_rows(rows: list[dict], layers) -> list[dict]:
    """The comparison's frozen rows of ``layers`` (one per layer, fold assignment, seed and fold)."""
    out = [r for r in rows if r["protocol"] == PROTOCOL and r["layer"] in layers]
    if not out:
        raise InputError(f"the comparison has no frozen runs of {', '.join(layers)}")
    return out


def run_folder(root: Path, row: dict) -> Path:
    name = row.get("trial_name") or row["layer"]  # the trial the comparison selected in this fold
    return layer_dir(root, PROTOCOL, str(name), int(row["fold"]), int(row["seed"]), int(row["fold_seed"]))


def own_scores(row: dict, aus) -> dict:
    """The run's scores on its own fold's test subjects over ``aus`` (means of the comparison's per-AU cells)."""
    def mean(prefix):
        values = [row.get(f"{prefix}_AU{au}") for au in aus]
        values = [float(v) for v in values if isinstance(v, (int, float)) and v == v]
        return float(np.mean(values)) if len(values) == len(aus) else None

    return {"f1": mean("f1"), "auc": mean("auc"), "icc": mean("icc"), "mae": mean("mae")}


def score_run(run_dir: Path, store: ROIStore, order: list[str]) -> dict:
    """One run on every face of ``store``: mean F1, ICC and MAE over the shared AUs, and per-subject counts."""
    model, doc = load_model(run_dir, "cpu")
    pred = cross_predictions(run_dir, model, doc, store, "cpu")
    ev = pred.scores()
    return {"finished": runs.read_run_json(run_dir).get("finished"), "f1": float(ev.presence.mean_f1),
            "auc": float(ev.presence.mean_auc),
            "icc": None if ev.intensity is None else float(np.nanmean(ev.intensity.icc)),
            "mae": None if ev.intensity is None else float(np.nanmean(ev.intensity.mae)),
            "counts": subject_counts(pred.probabilities, pred.labels, np.asarray(store.subject), order).tolist()}


def direction(rows: list[dict], root: Path, model_protocol: str, store: ROIStore, layers, log=print) -> dict:
    """The runs of one comparison (``rows``, under ``root``, on a ``model_protocol`` store) scored on ``store`` of
    the other protocol."""
    chosen = selected_rows(rows, layers)
    first = run_folder(root, chosen[0])
    if runs.read_run_json(first) is None:
        raise InputError(f"{first}: no run there; --a-root/--b-root must be the comparison's run root")
    mapping = cross_map(model_protocol, store.protocol)
    order = store.subjects
    cache_path = root / CACHE.format(Path(store.path).resolve().name)
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    out = []
    for row in chosen:
        path = run_folder(root, row)
        key = str(path.relative_to(root))
        finished = (runs.read_run_json(path) or {}).get("finished")
        if key not in cache or cache[key]["finished"] != finished or not set(METRICS) <= set(cache[key]):
            cache[key] = score_run(path, store, order)
            write_json_atomic(cache_path, cache)
            log(f"{key}: F1 {100 * cache[key]['f1']:.1f} on {Path(store.path).name}")
        got = cache[key]
        out.append({"layer": row["layer"], "fold_seed": int(row["fold_seed"]), "seed": int(row["seed"]),
                    "fold": int(row["fold"]), "git": row.get("git"), "config_digest": row.get("config_digest"),
                    "run": key, "own": own_scores(row, mapping.aus),
                    "cross": {k: got[k] for k in METRICS}, "counts": np.asarray(got["counts"])})
    return {"model_protocol": model_protocol, "store_protocol": store.protocol.name, "mapping": mapping.to_dict(),
            "subjects": len(order), "runs": out}


def summarise(d: dict, layers) -> list[dict]:
    """Per layer: own and cross scores (mean, std over runs), the paired drop, and cross F1 against none."""
    by_layer = {la: sorted([r for r in d["runs"] if r["layer"] == la],
                           key=lambda r: (r["fold_seed"], r["seed"], r["fold"])) for la in layers}
    keys = {la: [(r["fold_seed"], r["seed"], r["fold"]) for r in rs] for la, rs in by_layer.items()}
    out = []
    for la in layers:
        rs = by_layer[la]
        if not rs:
            continue
        line = {"layer": la, "runs": len(rs)}
        for side in ("own", "cross"):
            for m in METRICS:
                v = [r[side][m] for r in rs if r[side][m] is not None]
                line[f"{side}_{m}"] = (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0) if v else None
        drops = [r["own"]["f1"] - r["cross"]["f1"] for r in rs if r["own"]["f1"] is not None]
        line["drop_f1"] = (float(np.mean(drops)), float(np.std(drops, ddof=1)) if len(drops) > 1 else 0.0) if drops else None
        if la != NONE and by_layer.get(NONE) and keys[la] == keys[NONE]:
            line["vs_none"] = bootstrap_difference(np.stack([r["counts"] for r in rs]),
                                                   np.stack([r["counts"] for r in by_layer[NONE]]))
        out.append(line)
    return out


def _pm(v, scale=100.0, digits=1) -> str:
    return "–" if v is None else f"{scale * v[0]:.{digits}f} ± {scale * v[1]:.{digits}f}"


def _diff(c: dict | None) -> str:
    if c is None:
        return "–"
    return f"{100 * c['mean']:+.1f} [{100 * c['low']:+.1f}, {100 * c['high']:+.1f}] {c['verdict']}"


def tables(doc: dict) -> str:
    """One table per direction: F1 on the run's own test subjects and on the other dataset, the drop, cross F1
    against none, and intensity ICC and MAE on both (the shared AUs only)."""
    lines = []
    for d in doc["directions"]:
        aus = " ".join(str(a).removeprefix("AU") for a in d["mapping"]["aus"])
        lines += [f"**{d['from']} → {d['to']}** ({d['summary'][0]['runs']} runs per layer; AUs {aus}; "
                  f"{d['subjects']} subjects of {d['to']}, every face)", "",
                  "| layer | F1 own test | F1 other dataset | drop | other − none (95%) | AUC own | AUC other "
                  "| ICC own | ICC other | MAE own | MAE other |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in d["summary"]:
            lines.append(f"| {s['layer']} | {_pm(s['own_f1'])} | {_pm(s['cross_f1'])} | {_pm(s['drop_f1'])} | "
                         f"{_diff(s.get('vs_none'))} | {_pm(s['own_auc'])} | {_pm(s['cross_auc'])} | "
                         f"{_pm(s['own_icc'], 1, 2)} | {_pm(s['cross_icc'], 1, 2)} | "
                         f"{_pm(s['own_mae'], 1, 2)} | {_pm(s['cross_mae'], 1, 2)} |")
        lines.append("")
    return "\n".join(lines)


def markdown(doc: dict) -> str:
    lines = [f"# Across datasets: {doc['a']} ↔ {doc['b']}", "",
             f"`{doc['command']}`", "",
             f"Runs trained at {', '.join(doc['revisions'])}; scored at {doc['machine'].get('git')}. "
             "Every run is one the comparison selected by validation F1; *own test* is its fold's test subjects, "
             "*other dataset* every face of the other store, both over the shared AUs only. F1 in points "
             "(mean ± std over runs); ICC(3,1) and MAE on the 0–5 scale. *other − none*: cross F1 against `none` "
             f"with a two-way bootstrap interval (runs and the other store's subjects resampled, {DRAWS} draws); "
             f"*better*/*worse* when the interval excludes 0 and the mean is beyond {100 * ROPE:.0f} point. F1 moves "
             "with how often an AU occurs, which differs between the datasets (a drop can be negative); AUC "
             "does not. A model ROI the other protocol lacks is fed a zero crop (listed below), which a graph "
             "layer propagates to the shared AUs' nodes.", ""]
    lines.append(tables(doc))
    for d in doc["directions"]:
        missing = d["mapping"].get("missing_rois")
        if missing:
            lines.append(f"Zero crops in {d['from']} → {d['to']}: model ROIs {', '.join(map(str, missing))} "
                         f"(no such ROI in protocol {d['store_protocol']!r}).")
            lines.append("")
        left = d["mapping"]["left_out"]
        if left:
            lines.append(f"Left out of {d['from']} → {d['to']}: " + "; ".join(f"{k} ({v})" for k, v in left.items()))
            lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", type=Path, required=True, help="ROI store of one protocol")
    ap.add_argument("--a-root", type=Path, required=True, help="run root of its frozen comparison")
    ap.add_argument("--b", type=Path, required=True, help="ROI store of the other protocol")
    ap.add_argument("--b-root", type=Path, required=True, help="run root of its frozen comparison")
    ap.add_argument("--layers", default=",".join(LAYERS), help="comma list (default: %(default)s)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="where the comparisons' result rows are")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    layers = [s for s in args.layers.split(",") if s]
    directions, revisions = [], set()
    for src, root, dst in ((args.a, args.a_root, args.b), (args.b, args.b_root, args.a)):
        rows = read_rows(args.results / f"relation_layers_{src.resolve().name}.csv")
        d = direction(rows, root, ROIStore(src).protocol.name, ROIStore(dst), layers)
        revisions |= {str(r["git"]) for r in d["runs"] if r.get("git")}
        d.update({"from": src.resolve().name, "to": dst.resolve().name, "summary": summarise(d, layers)})
        directions.append(d)
    for d in directions:
        for r in d["runs"]:
            r.pop("counts")
    doc = {"a": args.a.resolve().name, "b": args.b.resolve().name,
           "command": "python -m benchmarks.cross_dataset " + " ".join(sys.argv[1:] if argv is None else argv),
           "machine": machine_info(), "revisions": sorted(revisions), "directions": directions}
    name = f"cross_dataset_{doc['a']}_{doc['b']}"
    write_report(args.out, name, doc, markdown(doc))
    return 0


if __name__ == "__main__":
    run_cli(main, "cross_dataset")

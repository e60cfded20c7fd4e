"""How much relation gain can a model reach from its own perception? A bound between the generator's relation
oracle (perfect perception) and what the comparison's designs take.

    python -m benchmarks.relation_reach --preset store_occ --preset-runs bench/store_occ \\
        --control store_occ_ind --control-runs bench/store_occ_ind

For every trained frozen run of ``--layer`` (default ``local``, the relation-free point) under each run root, it
predicts the run's validation and test subjects and fits, per AU, a scikit-learn ``LogisticRegression`` on the
logits of **all** AUs' predicted probabilities on the validation subjects (which the run did not fit on), then
scores it on the test subjects: a second stage that predicts each AU from what the run perceives of every AU, so
its gain over the run is what the AUs' relations add to that perception. As in ``positive_control``, the relation
part is the **difference in differences** (stacked - run) on the preset minus the same on its control (whose AUs
are independent), paired by fold assignment and fold, with the corrected interval and the comparison's verdict.

It is read in AUC (threshold-free) and in F1 with each AU's threshold chosen on the validation subjects for both
the run and its second stage: a calibrated second stage at 0.5 says "absent" for a rare AU it cannot see, which
costs F1 that has nothing to do with relations. The second stage's thresholds are chosen on the frames it was
fitted on (12 weights per AU on thousands of frames: a small optimism, on both stores alike).

Results: ``benchmarks/results/relation_reach_<preset>.{json,md}`` (``relation_reach_<preset>_<layer>`` for another
``--layer``: e.g. ``none``, whether relations between AU predictions add to a model that already reads every ROI).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from scipy import special
from sklearn.linear_model import LogisticRegression

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.metrics import au_scores
from augcn_pyg.data.splits import run_splits
from augcn_pyg.data.store import ROIStore
from augcn_pyg.data.synthau.oracles import THRESHOLDS
from augcn_pyg.engine import runs
from augcn_pyg.engine.config import config_from_dict
from augcn_pyg.engine.models import check_model_fits_store, load_model
from augcn_pyg.engine.scoring import predict_rows
from benchmarks.common import RESULTS, machine_info, run_cli, write_report
from benchmarks.paired_stats import compare

FOLDS = 3
ROPE = 0.01


def logits(p: np.ndarray) -> np.ndarray:
    """(M, C) probabilities -> (M, C) log-odds, clipped away from 0 and 1."""
    return special.logit(np.clip(np.asarray(p, float), 1e-4, 1 - 1e-4))


def stacked(p_val: np.ndarray, y_val: np.ndarray, p_test: np.ndarray, C: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """((M_val, C), (M_test, C)) second-stage probabilities: per AU a logistic regression on the logits of every
    AU's first-stage probability, fitted on the validation frames whose label is known. An AU with one class
    only among them keeps its first-stage probability."""
    z_val, z_test = logits(p_val), logits(p_test)
    out_val, out_test = np.array(p_val, float), np.array(p_test, float)
    for c in range(p_val.shape[1]):
        known = ~np.isnan(y_val[:, c])
        target = y_val[known, c].astype(int)
        if np.unique(target).size < 2:
            continue
        model = LogisticRegression(C=C, max_iter=2000).fit(z_val[known], target)
        out_val[:, c] = model.predict_proba(z_val)[:, 1]
        out_test[:, c] = model.predict_proba(z_test)[:, 1]
    return out_val, out_test


def val_thresholds(p_val: np.ndarray, y_val: np.ndarray) -> np.ndarray:
    """(C,) per AU the threshold of :data:`THRESHOLDS` with the best F1 on the validation frames (the lowest of
    ties; 0.5 where the AU has no known validation frame)."""
    out = np.full(p_val.shape[1], 0.5)
    for c in range(p_val.shape[1]):
        known = ~np.isnan(y_val[:, c])
        if not known.any():
            continue
        y, p = y_val[known, c] == 1, p_val[known, c]
        f1 = [2 * np.sum((p >= t) & y) / max(np.sum(p >= t) + np.sum(y), 1) for t in THRESHOLDS]
        out[c] = THRESHOLDS[int(np.argmax(f1))]
    return out


def reach_scores(p_val, y_val, p_test, y_test, aus) -> dict:
    """The run's and its second stage's test scores: AUC, F1 at thresholds chosen on validation, F1 at 0.5."""
    s_val, s_test = stacked(p_val, y_val, p_test)
    out = {}
    for name, (v, t) in (("run", (p_val, p_test)), ("stacked", (s_val, s_test))):
        thr = val_thresholds(v, y_val)
        at_val = au_scores((t >= thr).astype(float), y_test, aus=aus)  # 0/1 scores: F1 at the chosen thresholds
        plain = au_scores(t, y_test, aus=aus)
        out[name] = {"auc": plain.mean_auc, "f1_val_threshold": at_val.mean_f1, "f1": plain.mean_f1,
                     "auc_per_au": [float(x) for x in plain.auc]}
    return out


def run_dirs(root: Path, layer: str) -> dict:
    """{(fold_seed, fold): run folder} of the finished frozen runs of ``layer`` under a comparison's run root."""
    out = {}
    for model in sorted(Path(root).glob(f"fold-seed*/frozen/{layer}/fold*-seed*/model.safetensors")):
        run = model.parent
        fold_seed = int(run.parents[2].name[len("fold-seed"):])
        fold = int(run.name[len("fold"):].split("-")[0])
        out[(fold_seed, fold)] = run
    return out


@torch.no_grad()
def run_reach(run: Path, store: ROIStore) -> dict:
    """One run's and its second stage's scores on its own test subjects, and its split's subject counts."""
    model, doc = load_model(run)
    check_model_fits_store(doc, store, run)
    cfg = config_from_dict(doc["config"])
    sp = run_splits(store, cfg.data.fold, cfg.data.val_fraction, fold_seed=cfg.data.fold_seed,
                    train_subjects=cfg.data.train_subjects)
    p_val = predict_rows(model, store, sp.val_rows, "cpu")  # (M_val, C)
    p_test = predict_rows(model, store, sp.test_rows, "cpu")  # (M_test, C)
    scores = reach_scores(p_val, np.asarray(store.labels[sp.val_rows], float), p_test,
                          np.asarray(store.labels[sp.test_rows], float), store.protocol.aus)
    trained = runs.read_run_json(run) or {}  # which revision and config trained the run
    return {**scores, "n_train_subjects": len(sp.train_subjects), "n_test_subjects": len(sp.test_subjects),
            "git": trained.get("git"), "config_digest": trained.get("config_digest")}


METRICS = ("auc", "f1_val_threshold", "f1")


def report(preset: dict, control: dict) -> dict:
    """Per metric: the run and its second stage on each store (means over runs), the second stage's gain on
    each, and the difference in differences with the corrected interval, over the runs both stores hold."""
    keys = sorted(set(preset) & set(control))
    if len(keys) < 2:
        raise InputError(f"the preset and its control share {len(keys)} runs (fold assignment, fold); 2 or more "
                         "are needed for an interval")
    ratio = float(np.mean([preset[k]["n_test_subjects"] / preset[k]["n_train_subjects"] for k in keys]))
    out = {"runs": len(keys), "keys": [list(k) for k in keys], "test_train_ratio": ratio, "metrics": {}}
    for m in METRICS:
        gain = {side: np.array([d[k]["stacked"][m] - d[k]["run"][m] for k in keys])
                for side, d in (("preset", preset), ("control", control))}
        zero = np.zeros(len(keys))
        out["metrics"][m] = {
            **{f"{who}_{side}": float(np.mean([d[k][who][m] for k in keys]))
               for who in ("run", "stacked") for side, d in (("preset", preset), ("control", control))},
            "gain_preset": compare(gain["preset"], zero, FOLDS, ROPE, ratio).to_dict(),
            "gain_control": compare(gain["control"], zero, FOLDS, ROPE, ratio).to_dict(),
            "did": compare(gain["preset"], gain["control"], FOLDS, ROPE, ratio).to_dict()}
    return out


def _cell(c: dict) -> str:
    return (f"{100 * c['mean_diff']:+.1f} [{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}] "
            f"p {c['p']:.3f} {c['verdict']}")


NAMES = {"auc": "AUC", "f1_val_threshold": "F1, thresholds chosen on validation", "f1": "F1 at 0.5"}


def table(doc: dict) -> str:
    """One row per metric (also the README's block)."""
    r = doc["report"]
    lines = [f"| metric | {doc['layer']}, preset | second stage, preset | {doc['layer']}, control | "
             "second stage, control | difference in differences |", "|---|---|---|---|---|---|"]
    for m in METRICS:
        x = r["metrics"][m]
        lines.append(f"| {NAMES[m]} | {100 * x['run_preset']:.1f} | {100 * x['stacked_preset']:.1f} | "
                     f"{100 * x['run_control']:.1f} | {100 * x['stacked_control']:.1f} | {_cell(x['did'])} |")
    return "\n".join(lines) + "\n"


def markdown(doc: dict) -> str:
    r = doc["report"]
    return "\n".join([
        f"# Relation gain reachable from `{doc['layer']}`'s perception: `{doc['preset']}` against `{doc['control']}`",
        "", f"{r['runs']} paired runs (fold assignment x fold), n_test/n_train {r['test_train_ratio']:.3f}; points, "
        "mean [95% corrected interval], corrected-t p and the comparison's verdict. The second stage predicts each AU "
        f"from `{doc['layer']}`'s logits of every AU (a logistic regression fitted on each run's validation subjects). "
        f"Command: `{doc['command']}`.", "", table(doc)])


def report_name(preset: str, layer: str) -> str:
    """``relation_reach_<preset>`` for the default layer (local), ``relation_reach_<preset>_<layer>`` otherwise."""
    return f"relation_reach_{preset}" + ("" if layer == "local" else f"_{layer}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", type=Path, required=True, help="ROI store of the preset")
    ap.add_argument("--preset-runs", type=Path, required=True, help="its comparison's run root")
    ap.add_argument("--control", type=Path, required=True, help="ROI store of its control")
    ap.add_argument("--control-runs", type=Path, required=True, help="its comparison's run root")
    ap.add_argument("--layer", default="local", help="the frozen runs to read (default: local)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    scored = {}
    for side, store_path, root in (("preset", args.preset, args.preset_runs), ("control", args.control, args.control_runs)):
        if not (store_path / "store.json").exists():
            raise InputError(f"{store_path}: not a prepared ROI store (no store.json)")
        runs = run_dirs(root, args.layer)
        if not runs:
            raise InputError(f"{root}: no finished frozen '{args.layer}' runs (fold-seed*/frozen/{args.layer}/...)")
        store = ROIStore(store_path)
        scored[side] = {k: run_reach(run, store) for k, run in runs.items()}
    doc = {"preset": args.preset.resolve().name, "control": args.control.resolve().name, "layer": args.layer,
           "command": "python -m benchmarks.relation_reach " + " ".join(sys.argv[1:] if argv is None else argv),
           "machine": machine_info(), "report": report(scored["preset"], scored["control"]),
           "revisions": sorted({str(v["git"]) for d in scored.values() for v in d.values()}),
           "runs": {side: {f"{fs}-{f}": v for (fs, f), v in d.items()} for side, d in scored.items()}}
    write_report(args.out, report_name(doc["preset"], args.layer), doc, markdown(doc))
    return 0


if __name__ == "__main__":
    run_cli(main, "relation_reach")

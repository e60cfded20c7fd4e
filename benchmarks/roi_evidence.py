"""Is an AU readable from its own ROIs? A linear probe on the crops' raw pixels against the frozen ``local`` model.

    python -m benchmarks.roi_evidence --data /work/data/store_occ_ind --data /work/data/store_occ

For each store and each test set of the comparison (fold assignments 0..N-1 × folds 1-3, the subjects of
``run_splits``), a ridge probe per AU (``sklearn.linear_model.RidgeCV``, its penalty chosen by leave-one-out on
the training faces) is fitted on the raw pixels of that AU's own ROIs (the whole-face ROI excluded) of up to
``--faces`` faces of the subjects outside the test set, and scored by AUC on every face of the test subjects.
Beside it, the ``local`` model's AUC for the same AU from the store's frozen comparison
(``relation_layers_<store>.csv``), which reads the same ROIs through the frozen stage-1 encoders.

On a control store (``--relations independent``) the probe can only read the AU itself from those pixels; on a
store with relations it may also read co-occurring AUs drawn into the same ROIs. So:

* probe near 50 on the control: the AU's evidence is not in its ROIs at all (how the generator draws it);
* probe well above 50 but ``local`` near 50: the evidence is there and the frozen encoders lose it.

Either way ``local`` cannot read that AU, and any model that reads other ROIs can gain on it through
relations: this is where the positive control's relation signal comes from.

Results: ``benchmarks/results/roi_evidence.{json,md}``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.metrics import au_scores
from augcn_pyg.data.splits import run_splits
from augcn_pyg.data.store import ROIStore
from benchmarks.common import RESULTS, machine_info, run_cli, write_report
from benchmarks.positive_control import LOCAL, PROTOCOL, read_rows

FOLDS = (1, 2, 3)
ALPHAS = (1.0, 10.0, 100.0, 1000.0)


def own_rois(protocol, c: int) -> list[int]:
    """The ROIs of AU column ``c`` (the whole-face ROI excluded)."""
    m = protocol.membership()  # (R, C)
    return [r for r in range(protocol.num_rois) if m[r, c] and not protocol.rois[r].is_global]


def probe_set(store: ROIStore, train_rows: np.ndarray, test_rows: np.ndarray) -> np.ndarray:
    """(C,) AUC of a ridge probe per AU on its own ROIs' pixels, fitted on ``train_rows``, scored on ``test_rows``."""
    from sklearn.linear_model import RidgeCV

    p = store.protocol
    labels = np.asarray(store.labels)
    x_train = np.asarray(store.read_rows(train_rows), dtype=np.float32) / 255.0  # (N, R, 3, n, n)
    x_test = np.asarray(store.read_rows(test_rows), dtype=np.float32) / 255.0
    out = np.full(p.num_aus, np.nan)
    for c in range(p.num_aus):
        rois = own_rois(p, c)
        y = labels[train_rows, c]
        known = ~np.isnan(y)
        if not rois or len(np.unique(y[known])) < 2:
            continue
        a = x_train[known][:, rois].reshape(int(known.sum()), -1)  # (N, |rois| * 3 * n * n)
        b = x_test[:, rois].reshape(len(test_rows), -1)
        model = RidgeCV(alphas=ALPHAS).fit(a, y[known])
        scores = model.predict(b)
        out[c] = au_scores(scores[:, None], labels[test_rows, c:c + 1]).auc[0]  # AUC: ranks, any scale
    return out


def probe_store(store: ROIStore, assignments: int, faces: int, seed: int = 0, log=print) -> dict:
    """Per AU: the probe's AUC averaged over the test sets of ``assignments`` fold assignments × 3 folds."""
    rng = np.random.default_rng(seed)
    per_set = []
    for fold_seed in range(assignments):
        for fold in FOLDS:
            s = run_splits(store, fold, fold_seed=fold_seed)
            fit = np.sort(np.concatenate([s.train_rows, s.val_rows]))  # every subject outside the test set
            if len(fit) > faces:
                fit = np.sort(rng.choice(fit, size=faces, replace=False))
            per_set.append(probe_set(store, fit, np.asarray(s.test_rows)))
            log(f"{Path(store.path).name}: fold seed {fold_seed} fold {fold}: probe AUC "
                f"{100 * np.nanmean(per_set[-1]):.1f} (mean over AUs)")
    auc = np.nanmean(np.stack(per_set), 0)
    return {"aus": list(store.protocol.aus), "probe_auc": [float(v) for v in auc], "test_sets": len(per_set)}


def local_auc(rows: list[dict], aus, assignments: int) -> dict[int, float]:
    """The frozen ``local`` model's AUC per AU, averaged over its runs on the probe's fold assignments."""
    mine = [r for r in rows if r["protocol"] == PROTOCOL and r["layer"] == LOCAL and 0 <= r["fold_seed"] < assignments]
    if not mine:
        return {}
    return {au: float(np.nanmean([r[f"auc_AU{au}"] for r in mine if isinstance(r.get(f"auc_AU{au}"), (int, float))]))
            for au in aus}


def table(doc: dict) -> str:
    """AU × store: probe AUC and the local model's AUC (also the README's block)."""
    stores = doc["stores"]
    head = "| AU | " + " | ".join(f"{s['name']}: pixel probe / local" for s in stores) + " |"
    lines = [head, "|---|" + "---|" * len(stores)]
    for i, au in enumerate(stores[0]["aus"]):
        cells = []
        for s in stores:
            loc = s["local_auc"].get(str(au), s["local_auc"].get(au))
            cells.append(f"{100 * s['probe_auc'][i]:.0f} / " + ("-" if loc is None else f"{100 * loc:.0f}"))
        lines.append(f"| AU{au} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown(doc: dict) -> str:
    return "\n".join([
        "# Can an AU be read from its own ROIs?", "",
        f"`{doc['command']}` at {doc['machine'].get('git')}. AUC (×100) on held-out subjects, averaged over "
        f"{doc['stores'][0]['test_sets']} test sets: a ridge probe on the raw pixels of the AU's own ROIs "
        f"(fitted on up to {doc['faces']} faces of the other subjects, penalty by leave-one-out among "
        f"{', '.join(f'{a:g}' for a in ALPHAS)}), and the frozen `local` model from the store's comparison "
        "(the same ROIs through the stage-1 encoders). 50 is chance.", "", table(doc)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, action="append", required=True, help="ROI store (repeatable)")
    ap.add_argument("--assignments", type=int, default=3, help="fold assignments (fold seeds 0..N-1), as compared")
    ap.add_argument("--faces", type=int, default=3000, help="faces the probe is fitted on per test set")
    ap.add_argument("--results", type=Path, default=RESULTS, help="where the comparisons' result rows are")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--name", default="roi_evidence", help="result file name (NAME.{json,md})")
    args = ap.parse_args(argv)
    if args.assignments < 1 or args.faces < 10:
        raise InputError("--assignments must be at least 1 and --faces at least 10")
    stores = []
    for path in args.data:
        store = ROIStore(path)
        entry = {"name": path.resolve().name, **probe_store(store, args.assignments, args.faces)}
        csv_path = args.results / f"relation_layers_{entry['name']}.csv"
        entry["local_auc"] = local_auc(read_rows(csv_path), entry["aus"], args.assignments) if csv_path.exists() else {}
        stores.append(entry)
    doc = {"command": "python -m benchmarks.roi_evidence " + " ".join(sys.argv[1:] if argv is None else argv),
           "machine": machine_info(), "faces": args.faces, "stores": stores}
    write_report(args.out, args.name, doc, markdown(doc))
    return 0


if __name__ == "__main__":
    run_cli(main, "roi_evidence")

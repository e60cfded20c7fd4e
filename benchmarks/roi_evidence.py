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


def probe(protocol, labels: np.ndarray, x_train: np.ndarray, x_test: np.ndarray, train_rows, test_rows,
          columns=None) -> np.ndarray:
    """(C,) AUC of a ridge probe per AU on its own ROIs' features: ``x_*`` (N, R, ...) per ROI (in the store's ROI
    order, or at ``columns[r]`` for store ROI r), fitted on ``train_rows``' labels, scored on ``test_rows``'."""
    from sklearn.linear_model import RidgeCV

    out = np.full(protocol.num_aus, np.nan)
    for c in range(protocol.num_aus):
        rois = own_rois(protocol, c)
        rois = rois if columns is None else [columns[r] for r in rois]
        y = labels[train_rows, c]
        known = ~np.isnan(y)
        if not rois or len(np.unique(y[known])) < 2:
            continue
        a = x_train[known][:, rois].reshape(int(known.sum()), -1)  # (N, |rois| * features)
        b = x_test[:, rois].reshape(len(test_rows), -1)
        scores = RidgeCV(alphas=ALPHAS).fit(a, y[known]).predict(b)
        out[c] = auc_of(scores, labels[test_rows, c])
    return out


def auc_of(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(au_scores(scores[:, None], labels[:, None]).auc[0])  # AUC: ranks, any scale


def probe_set(store: ROIStore, train_rows: np.ndarray, test_rows: np.ndarray) -> np.ndarray:
    """(C,) AUC of a ridge probe per AU on its own ROIs' pixels, fitted on ``train_rows``, scored on ``test_rows``."""
    x_train = np.asarray(store.read_rows(train_rows), dtype=np.float32) / 255.0  # (N, R, 3, n, n)
    x_test = np.asarray(store.read_rows(test_rows), dtype=np.float32) / 255.0
    return probe(store.protocol, np.asarray(store.labels), x_train, x_test, train_rows, test_rows)


def encoder_set(store: ROIStore, stage1: Path, train_rows: np.ndarray, test_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((C,) AUC of the ridge probe on the stage-1 model's latents of each AU's own ROIs, (C,) AUC of its own ROI
    heads (eq. 2: the mean of the AU's logits over its ROIs)) on ``test_rows``."""
    import torch

    from augcn_pyg.engine.models import load_model
    from augcn_pyg.engine.scoring import encode_rows

    model, _ = load_model(stage1, "cpu")
    columns = {int(r): i for i, r in enumerate(model.keep.tolist())}  # store ROI -> model ROI
    z_train = encode_rows(model, store, train_rows, "cpu").numpy()  # (N, R_model, d0)
    z_test = encode_rows(model, store, test_rows, "cpu")
    labels = np.asarray(store.labels)
    latent = probe(store.protocol, labels, z_train, z_test.numpy(), train_rows, test_rows, columns)
    with torch.no_grad():
        logits = model.roi_logits(z_test).numpy()  # (M, R_model, C)
    heads = np.full(store.protocol.num_aus, np.nan)
    for c in range(store.protocol.num_aus):
        rois = [columns[r] for r in own_rois(store.protocol, c) if r in columns]
        if rois:
            heads[c] = auc_of(logits[:, rois, c].mean(1), labels[test_rows, c])
    return latent, heads


def probe_store(store: ROIStore, assignments: int, faces: int, seed: int = 0, stage1_root: Path | None = None,
                log=print) -> dict:
    """Per AU: the pixel probe's AUC averaged over the test sets of ``assignments`` fold assignments × 3 folds;
    with ``stage1_root`` (the comparison's run root) also the latent probe's and the stage-1 ROI heads' AUC, each
    test set read through the stage-1 model its comparison runs started from (seed = fold seed)."""
    from benchmarks.common import stage1_dir

    rng = np.random.default_rng(seed)
    pixels, latents, heads = [], [], []
    for fold_seed in range(assignments):
        for fold in FOLDS:
            s = run_splits(store, fold, fold_seed=fold_seed)
            fit = np.sort(np.concatenate([s.train_rows, s.val_rows]))  # every subject outside the test set
            if len(fit) > faces:
                fit = np.sort(rng.choice(fit, size=faces, replace=False))
            test = np.asarray(s.test_rows)
            pixels.append(probe_set(store, fit, test))
            line = f"pixel probe {100 * np.nanmean(pixels[-1]):.1f}"
            if stage1_root is not None:
                s1 = stage1_dir(stage1_root, fold, fold_seed, fold_seed)
                if not (s1 / "model.safetensors").exists():
                    raise InputError(f"{s1}: no stage-1 model there; --stage1-root must be the comparison's run root")
                lat, head = encoder_set(store, s1, fit, test)
                latents.append(lat)
                heads.append(head)
                line += f", latent probe {100 * np.nanmean(lat):.1f}, ROI heads {100 * np.nanmean(head):.1f}"
            log(f"{Path(store.path).name}: fold seed {fold_seed} fold {fold}: {line} (AUC, mean over AUs)")
    out = {"aus": list(store.protocol.aus), "test_sets": len(pixels),
           "probe_auc": [float(v) for v in np.nanmean(np.stack(pixels), 0)]}
    if latents:
        out["latent_auc"] = [float(v) for v in np.nanmean(np.stack(latents), 0)]
        out["roi_head_auc"] = [float(v) for v in np.nanmean(np.stack(heads), 0)]
    return out


def local_auc(rows: list[dict], aus, assignments: int) -> dict[int, float]:
    """The frozen ``local`` model's AUC per AU, averaged over its runs on the probe's fold assignments."""
    mine = [r for r in rows if r["protocol"] == PROTOCOL and r["layer"] == LOCAL and 0 <= r["fold_seed"] < assignments]
    if not mine:
        return {}
    return {au: float(np.nanmean([r[f"auc_AU{au}"] for r in mine if isinstance(r.get(f"auc_AU{au}"), (int, float))]))
            for au in aus}


def table(doc: dict) -> str:
    """AU × store: the probes' AUC and the local model's (also the README's block)."""
    stores = doc["stores"]
    stages = [("probe_auc", "pixel probe"), ("latent_auc", "latent probe"), ("roi_head_auc", "stage-1 ROI heads")]
    stages = [(k, name) for k, name in stages if k in stores[0]]
    head = "| AU | " + " | ".join(f"{s['name']}: {' / '.join(n for _, n in stages)} / local" for s in stores) + " |"
    lines = [head, "|---|" + "---|" * len(stores)]
    for i, au in enumerate(stores[0]["aus"]):
        cells = []
        for s in stores:
            loc = s["local_auc"].get(str(au), s["local_auc"].get(au))
            cells.append(" / ".join(f"{100 * s[k][i]:.0f}" for k, _ in stages) + " / "
                         + ("-" if loc is None else f"{100 * loc:.0f}"))
        lines.append(f"| AU{au} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown(doc: dict) -> str:
    return "\n".join([
        "# Can an AU be read from its own ROIs?", "",
        f"`{doc['command']}` at {doc['machine'].get('git')}. AUC (×100) on held-out subjects, averaged over "
        f"{doc['stores'][0]['test_sets']} test sets: a ridge probe on the raw pixels of the AU's own ROIs "
        f"(fitted on up to {doc['faces']} faces of the other subjects, penalty by leave-one-out among "
        f"{', '.join(f'{a:g}' for a in ALPHAS)}), and the frozen `local` model from the store's comparison "
        "(the same ROIs through the stage-1 encoders). With `--stage1-root`, between them: the same probe on the "
        "stage-1 model's latents of those ROIs, and that model's own ROI heads (eq. 2, the AU's logits averaged "
        "over its ROIs). 50 is chance.", "", table(doc)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, action="append", required=True, help="ROI store (repeatable)")
    ap.add_argument("--assignments", type=int, default=3, help="fold assignments (fold seeds 0..N-1), as compared")
    ap.add_argument("--faces", type=int, default=3000, help="faces the probe is fitted on per test set")
    ap.add_argument("--stage1-root", type=Path, action="append",
                    help="the comparison's run root, once per --data in the same order: adds the latent probe and "
                         "the stage-1 ROI heads")
    ap.add_argument("--results", type=Path, default=RESULTS, help="where the comparisons' result rows are")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--name", default="roi_evidence", help="result file name (NAME.{json,md})")
    args = ap.parse_args(argv)
    if args.assignments < 1 or args.faces < 10:
        raise InputError("--assignments must be at least 1 and --faces at least 10")
    if args.stage1_root and len(args.stage1_root) != len(args.data):
        raise InputError("give --stage1-root once per --data, in the same order")
    stores = []
    for i, path in enumerate(args.data):
        store = ROIStore(path)
        root = args.stage1_root[i] if args.stage1_root else None
        entry = {"name": path.resolve().name, **probe_store(store, args.assignments, args.faces, stage1_root=root)}
        csv_path = args.results / f"relation_layers_{entry['name']}.csv"
        entry["local_auc"] = local_auc(read_rows(csv_path), entry["aus"], args.assignments) if csv_path.exists() else {}
        stores.append(entry)
    doc = {"command": "python -m benchmarks.roi_evidence " + " ".join(sys.argv[1:] if argv is None else argv),
           "machine": machine_info(), "faces": args.faces, "stores": stores}
    write_report(args.out, args.name, doc, markdown(doc))
    return 0


if __name__ == "__main__":
    run_cli(main, "roi_evidence")

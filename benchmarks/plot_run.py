"""Pictures of a trained run for the docs: a face's ROI crops beside their auto-encoder reconstructions,
and the run's training curves.

    .venv/bin/python -m benchmarks.plot_run RUN --out docs/img/            # writes ae-reconstructions.png
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import torch


def shown_faces(run: Path, faces: int):
    """(model, config, store, rows): up to ``faces`` test faces of the run's own fold assignment
    (``data.fold_seed``: a run trained on random folds is shown faces of their test part, never its training)."""
    from augcn_pyg.data.splits import run_splits
    from augcn_pyg.engine.config import config_from_dict
    from augcn_pyg.engine.models import load_model, open_store

    model, doc = load_model(run)
    cfg = config_from_dict(doc["config"])
    store = open_store(cfg.data.store)
    rows = run_splits(store, cfg.data.fold, cfg.data.val_fraction,
                      fold_seed=cfg.data.fold_seed).test_rows[:: 97][: faces]
    return model, cfg, store, rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--faces", type=int, default=3)
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, cfg, store, rows = shown_faces(args.run, args.faces)
    crops = torch.from_numpy(store.read_rows(rows))  # (F, R, 3, n, n)
    recon = model.autoencoders.reconstruct(model.select_rois(crops)).numpy()  # (F, R, 3, n, n) in [0, 1]
    names = [r.name for r in model.protocol.rois]
    r = crops.shape[1]
    fig, axes = plt.subplots(2 * len(rows), r, figsize=(r * 0.62, 2 * len(rows) * 0.75))
    for f in range(len(rows)):
        for k in range(r):
            for row, image in ((2 * f, crops[f, k].numpy() / 255), (2 * f + 1, recon[f, k])):
                ax = axes[row, k]
                ax.imshow(np.transpose(image, (1, 2, 0)))
                ax.set_xticks([]); ax.set_yticks([])
                if row == 0:
                    ax.set_title(names[k], fontsize=5, rotation=60)
        axes[2 * f, 0].set_ylabel("crop", fontsize=6)
        axes[2 * f + 1, 0].set_ylabel("recon.", fontsize=6)
    fig.suptitle(f"test faces of fold {cfg.data.fold}: ROI crops and their auto-encoder reconstructions", fontsize=8)
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "ae-reconstructions.png", dpi=150)
    if (args.run / "curves.png").exists():
        shutil.copyfile(args.run / "curves.png", args.out / "training-curves.png")
    print(f"wrote {args.out / 'ae-reconstructions.png'}")


if __name__ == "__main__":
    main()

"""The picture of docs/predict.md: one SynthAU video frame with its ROIs, beside the AU probabilities a
trained run predicts for it (and the frame's true labels).

    PYTHONPATH=$PWD python benchmarks/plot_prediction.py SYNTH_ROOT/Sequences/F007/T1/120.jpg --checkpoint RUN \\
        --labels SYNTH_ROOT/AUCoding/AU_OCC/F007_T1.csv -o docs/img/predict-frame.png

It runs the same pipeline as ``augcn-pyg predict`` (``augcn_pyg.inference.predict.predict``) on the one frame.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("image", type=Path)
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--labels", type=Path, default=None, help="the frame's BP4D AU_OCC CSV (for the true labels)")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from augcn_pyg.inference.predict import predict
    from augcn_pyg.viz.rois import frame_number, show_rois

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "one.csv"
        predict(args.image, csv, checkpoint=args.checkpoint)
        row = pd.read_csv(csv).iloc[0]
        rois_png = Path(tmp) / "rois.png"
        show_rois(args.image, rois_png, "bp4d", landmarks="dlib")
        picture = plt.imread(rois_png)
    aus = [c[:-2] for c in row.index if c.startswith("AU") and c.endswith("_p")]
    probs = np.array([row[f"{a}_p"] for a in aus], dtype=float)
    truth = None
    if args.labels is not None:
        labels = pd.read_csv(args.labels)
        frame = frame_number(args.image)
        hit = labels[labels.iloc[:, 0] == frame]
        if len(hit):
            truth = np.array([hit.iloc[0][str(int(a[2:]))] for a in aus], dtype=float)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [2.2, 1]})
    ax1.imshow(picture)
    ax1.axis("off")
    colours = ["#4c72b0" if p >= 0.5 else "#b0b0b0" for p in probs]
    ax2.barh(range(len(aus)), probs, color=colours)
    if truth is not None:
        ax2.scatter(truth, range(len(aus)), marker="|", s=160, color="#c44e52", label="true label (0 / 1)")
        ax2.legend(loc="lower right", fontsize=7)
    ax2.axvline(0.5, color="k", lw=0.6, ls="--")
    ax2.set_yticks(range(len(aus)), aus)
    ax2.invert_yaxis()
    ax2.set_xlim(0, 1.02)
    ax2.set_xlabel("predicted probability (blue: present at 0.5)")
    fig.suptitle(f"{args.image.parent.parent.name}/{args.image.parent.name}/{args.image.name}: ROIs and "
                 f"the AUs predicted by {args.checkpoint.name}", fontsize=9)
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=130)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

"""Figure for docs/synthau.md: the paper's Msym and phi on the realistic and independent SynthAU-BP4D presets.

    PYTHONPATH=. python benchmarks/plot_synthau_relations.py   # -> docs/img/synthau_relations.png

Labels only (24 subjects x 8 tasks x 60 frames, seed 0). Squares outlined in black are Table 1's edges.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.data.synthau.check import best_threshold, msym, phi
from augcn_pyg.data.synthau.plan import sample_labels
from augcn_pyg.graph.paper import TABLE1


def main(out=ROOT / "docs/img/synthau_relations.png") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    aus = get_protocol("bp4d").aus
    table = TABLE1["bp4d"]
    real = sample_labels("bp4d", "realistic", 24, 60, 0)[0]
    ind = sample_labels("bp4d", "independent", 24, 60, 0)[0]
    panels = [
        (msym(real), "realistic: Msym = P(j|i) + P(i|j)", (0, 2)),
        (msym(ind), "independent: Msym (≈ r_i + r_j)", (0, 2)),
        (phi(real), "realistic: phi", (-1, 1)),
        (phi(ind), "independent: phi", (-1, 1)),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.6))
    for ax, (mat, title, (lo, hi)) in zip(axes, panels):
        m = mat.copy()
        np.fill_diagonal(m, np.nan)
        im = ax.imshow(m, vmin=lo, vmax=hi, cmap="viridis" if lo == 0 else "RdBu_r")
        if "Msym" in title:
            thr, nd = best_threshold(mat, table)
            title += f"\nbest threshold {thr:.2f}: {nd} of 66 pairs differ from Table 1"
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(len(aus)), [str(a) for a in aus], fontsize=7)
        ax.set_yticks(range(len(aus)), [str(a) for a in aus], fontsize=7)
        for i in range(len(aus)):
            for j in range(len(aus)):
                if i != j and table[i, j]:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.0, ec="black"))
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle("SynthAU-BP4D labels (24 subjects x 8 tasks x 60 frames, seed 0); black squares: Table 1 edges",
                 fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(main())

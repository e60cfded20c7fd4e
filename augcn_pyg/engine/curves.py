"""A run's training curves as a picture (``curves.png`` in the run folder)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from augcn_pyg.core.io import atomic_path


def plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in ("loss", "recon", "roi", "au"):
        if any(key in r for r in history):
            ax1.plot(epochs, [r.get(key, np.nan) for r in history], label=key)
    ax1.set_xlabel("epoch"); ax1.set_ylabel("training loss"); ax1.set_yscale("log"); ax1.legend()
    ax2.plot(epochs, [r["val_f1"] for r in history], label="validation F1")
    ax2.plot(epochs, [r["val_auc"] for r in history], label="validation AUC")
    ax2.set_xlabel("epoch"); ax2.set_ylim(0, 1); ax2.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)

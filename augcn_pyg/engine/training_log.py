"""A run's training log for TensorBoard (``train.tensorboard``, ``--tensorboard``): event files in
``RUN/tensorboard/``.

Every number of an ``epochs.csv`` row (the losses, the learning rate, the validation average F1 and AUC,
the epoch's seconds and faces) and the per-AU validation F1 and AUC are written as scalars with the run's
epoch (1, 2, ... over both stages) as the step. ``epochs.csv`` stays the source of truth: the log is for
watching runs, e.g. ``tensorboard --logdir CVDIR`` shows every run of a cross-validation side by side, each
under its folder's name.

A resumed run carries on in a new event file that purges what the old ones hold from its first epoch on
(``purge_step``), so an epoch logged before a crash and trained again is shown once. A run resumed with the
log turned on (``train.tensorboard`` is an option of the call, not of the run) first logs its finished
epochs from their epochs.csv rows, without per-AU scores, which only epochs trained with the log have.

TensorBoard is an optional extra (``pip install 'augcn-pyg[tensorboard]'``); asking for the log without it
is one clear error before any training.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.metrics import AUScores

#: the log's folder in a run folder
TENSORBOARD_DIR = "tensorboard"
#: epochs.csv columns that are the step or a label, not a value to plot
NOT_SCALARS = ("epoch", "stage", "stage_epoch")


def summary_writer_class():
    """torch's ``SummaryWriter``; an :class:`InputError` naming the extra when TensorBoard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError("train.tensorboard (--tensorboard) needs TensorBoard, which is not installed: "
                         "pip install 'augcn-pyg[tensorboard]'") from None
    return SummaryWriter


def tag(column: str) -> str:
    """The TensorBoard tag of an epochs.csv column: ``val/f1``, ``train/lr``, ``time/seconds``, ``loss/roi``."""
    if column.startswith("val_"):
        return f"val/{column[4:]}"
    if column == "lr":
        return "train/lr"
    if column in ("seconds", "faces"):
        return f"time/{column}"
    return f"loss/{column}"


def clear_log(run_dir: str | Path) -> None:
    """Remove a log left by an earlier run in this folder (a run started afresh, e.g. with --overwrite)."""
    shutil.rmtree(Path(run_dir) / TENSORBOARD_DIR, ignore_errors=True)


class TensorBoardLog:
    """The log of the run in ``run_dir``; ``history``: the epochs.csv rows of the epochs it has behind it
    (a resumed run), logged now if the folder has no log yet."""

    def __init__(self, run_dir: str | Path, history: list[dict] = ()):
        writer_class = summary_writer_class()
        self.path = Path(run_dir) / TENSORBOARD_DIR
        started = self.path.is_dir()
        self.writer = writer_class(log_dir=str(self.path), purge_step=len(history) + 1 if history else None)
        if not started:
            for row in history:
                self.write(row)

    def write(self, row: dict, val: AUScores | None = None) -> None:
        """One finished epoch: ``row`` as written to epochs.csv, ``val`` its validation scores (stage 2)."""
        step = int(row["epoch"])
        for column, value in row.items():
            if column not in NOT_SCALARS and isinstance(value, (int, float)) and not math.isnan(value):
                self.writer.add_scalar(tag(column), value, step)
        if val is not None:
            for au, f1, auc in zip(val.aus, val.f1, val.auc):
                self.writer.add_scalar(f"val_f1/AU{au}", float(f1), step)
                if not math.isnan(auc):  # an AU whose validation faces are of one class has no AUC
                    self.writer.add_scalar(f"val_auc/AU{au}", float(auc), step)
        self.writer.flush()  # on disk before the epoch's checkpoint: a killed run loses no logged epoch

    def close(self) -> None:
        self.writer.close()

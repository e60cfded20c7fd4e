"""Scoring a run on another protocol's store: which crops feed the model, which AUs are scored.

A run trained on protocol A reads A's R_A ROI crops and predicts A's C_A AUs. A store of protocol B holds
B's ROI crops. ROIs are matched through the AU catalogue (``core/aus.py``): a ROI of A is taken from the
ROI of B with the same name, which is the same crop (same region, landmarks and offset: checked on the ROI
tables). A ROI of A that B lacks is fed a zero crop. An AU is scored when both protocols score it and every
ROI of A it belongs to (the whole-face ROI aside) exists in B; the other AUs of either side are left out
and listed with why.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from augcn_pyg.core.aus import Protocol, get_protocol
from augcn_pyg.core.errors import InputError


@dataclass
class CrossMap:
    model: str  # protocol the run was trained on
    store: str  # protocol of the store it is scored on
    roi_map: np.ndarray  # (R_model,) store ROI index per model ROI, -1 where the store lacks it
    aus: list[int]  # scored AUs, in the model's order
    model_columns: np.ndarray  # (K,) their columns in the model's outputs
    store_columns: np.ndarray  # (K,) their columns in the store's labels
    left_out: dict[int, str] = field(default_factory=dict)  # AU -> why it is not scored

    def to_dict(self) -> dict:
        return {"model_protocol": self.model, "store_protocol": self.store, "aus": list(self.aus),
                "missing_rois": [int(i) for i in np.flatnonzero(self.roi_map < 0)],
                "left_out": {f"AU{au}": why for au, why in self.left_out.items()}}


def cross_map(model_protocol: str | Protocol, store_protocol: str | Protocol) -> CrossMap:
    """How a ``model_protocol`` run reads a ``store_protocol`` store; a pair sharing no scorable AU raises."""
    a, b = get_protocol(model_protocol), get_protocol(store_protocol)
    b_rois = {r.name: i for i, r in enumerate(b.rois)}
    roi_map = np.full(a.num_rois, -1, dtype=np.int64)
    for i, roi in enumerate(a.rois):
        j = b_rois.get(roi.name)
        if j is not None and (b.rois[j].landmarks, b.rois[j].offset) == (roi.landmarks, roi.offset):
            roi_map[i] = j
    aus, left_out = [], {}
    for au in a.aus:
        if au not in b.aus:
            left_out[au] = f"not scored in protocol {b.name!r}"
            continue
        missing = [r.name for r, j in zip(a.rois, roi_map) if au in r.aus and not r.is_global and j < 0]
        if missing:
            left_out[au] = f"its ROI {', '.join(missing)} has no crop in protocol {b.name!r}"
            continue
        aus.append(au)
    for au in b.aus:
        if au not in a.aus:
            left_out[au] = f"not predicted by a {a.name!r} model"
    if not aus:
        raise InputError(f"a {a.name!r} run and a {b.name!r} store share no AU that both score "
                         f"({a.name}: {list(a.aus)}; {b.name}: {list(b.aus)})")
    return CrossMap(a.name, b.name, roi_map, aus, np.array([a.aus.index(x) for x in aus]),
                    np.array([b.aus.index(x) for x in aus]), left_out)

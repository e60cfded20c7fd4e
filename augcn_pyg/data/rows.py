"""A batch of faces as an index into a ROI store, for the auto-encoders to gather in one pass.

The plain way to feed the model is a (B, R, 3, n, n) uint8 tensor: the store's rows read into a fresh
array, flipped faces copied and mirrored (:class:`~augcn_pyg.data.loader.FlipROIs`), and then, in
:meth:`ROIAutoEncoders.pixels <augcn_pyg.nn.autoencoder.ROIAutoEncoders.pixels>`, re-laid ROI-major and
converted to float. :class:`StoreRows` stands in for that tensor: it holds only (store, row indices, flip
flags, ROI selection), and when the auto-encoders ask for their float input it

1. reads the rows with :meth:`ROIStore.read_rows` (``os.preadv``, no file pages left mapped), a flipped
   face's ROIs landing in their left/right partners' places as they are read, then
2. writes the (R, B, 3, n, n) float32 ROI-major input in one pass over those bytes, mirroring the flipped
   faces' crops on the way (a reversed-stride view, no copy).

The values equal the plain path's exactly (uint8 -> float32 is exact), so latents and losses do too.
The model's ROI selection (``index_select(1, keep)``) and a cross-protocol ROI map (:meth:`select`) are
index arithmetic on the ROI list, done before anything is read.
"""
from __future__ import annotations

import numpy as np
import torch


class StoreRows:
    """B faces of ``store``: ``rows`` (B,) store rows, ``flipped`` (B,) bool or None (horizontal flips as
    :class:`~augcn_pyg.data.loader.FlipROIs` makes them), ``rois`` (R,) the store ROI of each crop slot,
    -1 for an all-zero crop (None: every store ROI in order).

    Duck-types the parts of a (B, R, 3, n, n) uint8 tensor the model touches before its auto-encoders
    (``shape``, ``dtype``, ``device``, ``index_select`` on the ROI axis); :meth:`gather_pixels` is what
    :class:`~augcn_pyg.nn.autoencoder.ROIAutoEncoders` calls instead of converting a tensor, and
    :meth:`crops` gives that tensor (for other devices, or to look at).
    """

    dtype = torch.uint8
    device = torch.device("cpu")

    def __init__(self, store, rows, flipped=None, rois=None):
        self.store = store
        self.rows = np.asarray(rows, dtype=np.int64).reshape(-1)  # (B,)
        self.flipped = None if flipped is None else np.asarray(flipped, dtype=bool).reshape(-1)  # (B,)
        if self.flipped is not None and len(self.flipped) != len(self.rows):
            raise ValueError(f"{len(self.flipped)} flip flags for {len(self.rows)} rows")
        num_rois = store.protocol.num_rois
        self.rois = np.arange(num_rois) if rois is None else np.asarray(rois, dtype=np.int64).reshape(-1)  # (R,)
        if self.rois.size and (self.rois.max() >= num_rois or self.rois.min() < -1):
            raise IndexError(f"ROI index out of range for a store of {num_rois} ROIs")

    @property
    def shape(self) -> torch.Size:
        """(B, R, 3, n, n), the shape of :meth:`crops`."""
        n = self.store.roi_size
        return torch.Size((len(self.rows), len(self.rois), 3, n, n))

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, roi_map) -> "StoreRows":
        """The same faces with crop slot r showing this batch's ROI ``roi_map[r]`` (-1: a zero crop)."""
        roi_map = np.asarray(roi_map, dtype=np.int64).reshape(-1)
        if roi_map.size and (roi_map.max() >= len(self.rois) or roi_map.min() < -1):
            raise IndexError(f"ROI index out of range for a batch of {len(self.rois)} ROIs")
        rois = np.where(roi_map < 0, -1, self.rois[np.maximum(roi_map, 0)])
        return StoreRows(self.store, self.rows, self.flipped, rois)

    def index_select(self, dim: int, index) -> "StoreRows":
        """``tensor.index_select`` on the ROI axis (dim 1), the only one the model selects on."""
        if dim != 1:
            raise ValueError(f"StoreRows selects on the ROI axis (1) only, not {dim}")
        index = index.cpu().numpy() if isinstance(index, torch.Tensor) else index
        if np.asarray(index).size and np.asarray(index).min() < 0:
            raise IndexError("negative ROI index")
        return self.select(index)

    def _read(self) -> np.ndarray:
        """(B, R_store, 3, n, n) uint8: the rows, flipped faces' ROIs in partner order, crops not yet mirrored."""
        return self.store.read_rows(self.rows, swapped=self.flipped)

    def _runs(self) -> list[tuple[int, int, bool]]:
        """(start, stop, flipped) of each run of consecutive faces with the same flip flag."""
        b = len(self.rows)
        if self.flipped is None or b == 0:
            return [(0, b, False)] if b else []
        cuts = (np.flatnonzero(np.diff(self.flipped.astype(np.int8))) + 1).tolist()
        return [(a, z, bool(self.flipped[a])) for a, z in zip([0, *cuts], [*cuts, b])]

    def _slots(self, read: np.ndarray) -> np.ndarray:
        """(B, R, 3, n, n) view (or, for a reordered selection, copy) of the read bytes per crop slot."""
        if np.array_equal(self.rois, np.arange(read.shape[1])):
            return read
        return read[:, np.maximum(self.rois, 0)]  # zero crops are cleared afterwards

    def gather_pixels(self, out: np.ndarray) -> np.ndarray:
        """Write the auto-encoders' input into ``out``, (R, B, 3, n, n) float32 (any memory, e.g. a torch
        tensor's ``.numpy()``): ROI-major, values 0..255, flips applied. One pass over the read bytes per
        run of equally flipped faces."""
        if out.shape != (len(self.rois), *self.shape[:1], *self.shape[2:]) or out.dtype != np.float32:
            raise ValueError(f"out must be float32 {(len(self.rois), *self.shape[:1], *self.shape[2:])}, "
                             f"got {out.dtype} {out.shape}")
        slots = self._slots(self._read())  # (B, R, 3, n, n) uint8
        runs = self._runs()
        if not any(mirrored for _, _, mirrored in runs):  # one copy, torch's threads (inference)
            torch.from_numpy(out).copy_(torch.from_numpy(slots).transpose(0, 1))
        else:  # numpy: torch has no reversed strides, and many small torch copies stall its threads
            for a, z, mirrored in runs:
                src = slots[a:z].swapaxes(0, 1)  # (R, z-a, 3, n, n)
                np.copyto(out[:, a:z], src[..., ::-1] if mirrored else src, casting="unsafe")
        if (self.rois < 0).any():
            out[self.rois < 0] = 0
        return out

    def crops(self) -> torch.Tensor:
        """(B, R, 3, n, n) uint8 tensor, flips applied: what the plain path feeds the model."""
        slots = np.ascontiguousarray(self._slots(self._read()))
        for a, z, mirrored in self._runs():
            if mirrored:
                slots[a:z] = slots[a:z, ..., ::-1].copy()
        slots[:, self.rois < 0] = 0
        return torch.from_numpy(slots)

    def __repr__(self) -> str:
        flips = 0 if self.flipped is None else int(self.flipped.sum())
        return f"StoreRows({len(self.rows)} faces of {self.store!r}, {len(self.rois)} ROIs, {flips} flipped)"

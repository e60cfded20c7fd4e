"""The AU catalogue and the dataset protocols, as data.

A *protocol* fixes what a dataset's faces become: the AUs scored (their order is the column order of
every label matrix), and the ROIs (regions of interest) cut from an aligned face, each with the
landmark rule that places its centre and the AUs it belongs to. The numbers come from
``shared/REFERENCE.md`` (EAC-Net / JAA-Net ROI rules, the field's AU orders); ``docs/aus-and-rois.md``
explains the choices where the AU-GCN paper is ambiguous.

Landmarks are 0-based iBUG-68 indices. ``ruler`` is the inter-ocular distance ``|x39 - x42|`` of the
aligned face; offsets are in rulers, positive = downwards (image y grows downwards). "left"/"right"
name the *image* side: a pair lists its image-left landmark first (the subject's right).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from augcn_pyg.core.errors import InputError

#: FACS number -> name (Ekman, Friesen & Hager 2002).
AU_NAMES: dict[int, str] = {
    1: "Inner Brow Raiser",
    2: "Outer Brow Raiser",
    4: "Brow Lowerer",
    5: "Upper Lid Raiser",
    6: "Cheek Raiser",
    7: "Lid Tightener",
    9: "Nose Wrinkler",
    10: "Upper Lip Raiser",
    11: "Nasolabial Deepener",
    12: "Lip Corner Puller",
    13: "Cheek Puffer",
    14: "Dimpler",
    15: "Lip Corner Depressor",
    16: "Lower Lip Depressor",
    17: "Chin Raiser",
    18: "Lip Puckerer",
    20: "Lip Stretcher",
    22: "Lip Funneler",
    23: "Lip Tightener",
    24: "Lip Pressor",
    25: "Lips Part",
    26: "Jaw Drop",
    27: "Mouth Stretch",
    28: "Lip Suck",
    43: "Eyes Closed",
    45: "Blink",
}


def au_name(au: int) -> str:
    """``"AU12 Lip Corner Puller"`` for 12; unknown numbers still get ``"AU<n>"``."""
    name = AU_NAMES.get(au)
    return f"AU{au} {name}" if name else f"AU{au}"


@dataclass(frozen=True)
class Region:
    """A pair (or a single point) of AU centres defined by landmarks.

    ``landmarks`` are the two iBUG-68 points of a left/right (or upper/lower) pair; ``offset`` moves
    both centres vertically by ``offset * ruler``. ``midpoint=True`` makes one centred ROI at the mean of
    the two points instead of a pair (DISFA's AU9, "the additional one" of the paper).
    """

    key: str
    landmarks: tuple[int, int]
    offset: float
    sides: tuple[str, str] = ("left", "right")
    midpoint: bool = False


#: Centre rules (REFERENCE.md, from EAC-Net / JAA-Net), by region key.
REGIONS: dict[str, Region] = {
    r.key: r
    for r in (
        Region("inner_brow", (21, 22), -1 / 2),  # AU1
        Region("outer_brow", (18, 25), -1 / 3),  # AU2
        Region("brow_lowerer", (19, 24), +1 / 3),  # AU4
        Region("cheek", (41, 46), +1.0),  # AU6
        Region("lid", (38, 43), 0.0),  # AU7
        Region("nose", (32, 34), -1 / 2, midpoint=True),  # AU9 (DISFA): one ROI at the midpoint
        Region("upper_lip", (61, 63), 0.0),  # AU10
        Region("lip_corner", (48, 54), 0.0),  # AU12 / AU14 / AU15
        Region("chin", (58, 56), +1 / 2),  # AU17; iBUG numbers the lower lip right to left
        Region("lips", (51, 57), 0.0, sides=("upper", "lower")),  # AU23 / AU24, AU25 / AU26
    )
}


@dataclass(frozen=True)
class ROI:
    """One node of a face graph.

    ``landmarks``: iBUG-68 indices whose mean is the anchor (one index, two for a midpoint, none for
    the global ROI); ``offset``: vertical shift in rulers; ``aus``: the protocol's AUs this ROI belongs
    to (every AU for the global ROI); ``partner``: index of its mirror ROI (itself if none).
    """

    name: str
    region: str
    aus: tuple[int, ...]
    landmarks: tuple[int, ...]
    offset: float
    side: str
    partner: int
    is_global: bool = False


@dataclass(frozen=True)
class Protocol:
    """A dataset protocol: AU order, ROI table and label conventions."""

    name: str
    aus: tuple[int, ...]
    #: region key -> the protocol's AUs that the region belongs to, in ROI order
    region_aus: tuple[tuple[str, tuple[int, ...]], ...]
    #: intensity at or above which an AU counts as present (DISFA-style intensity labels)
    intensity_threshold: int = 2
    #: every AU a native label file of this dataset may carry (superset of ``aus``)
    labelled_aus: tuple[int, ...] = ()
    rois: tuple[ROI, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rois", _build_rois(self.region_aus, self.aus))

    @property
    def num_aus(self) -> int:
        return len(self.aus)

    @property
    def num_rois(self) -> int:
        return len(self.rois)

    @property
    def roi_names(self) -> list[str]:
        return [r.name for r in self.rois]

    @property
    def global_index(self) -> int:
        return next(i for i, r in enumerate(self.rois) if r.is_global)

    def au_index(self, au: int) -> int:
        try:
            return self.aus.index(au)
        except ValueError:
            raise InputError(f"AU{au} is not scored in protocol {self.name!r} (AUs: {list(self.aus)})") from None

    def membership(self) -> np.ndarray:
        """(R, C) bool: ``membership[r, c]`` is True when AU c belongs to ROI r (paper eq. 2)."""
        mat = np.zeros((self.num_rois, self.num_aus), dtype=bool)
        for r, roi in enumerate(self.rois):
            for au in roi.aus:
                mat[r, self.aus.index(au)] = True
        return mat

    def mirror_permutation(self) -> np.ndarray:
        """(R,) int: the ROI order of a horizontally flipped face (left/right partners swapped)."""
        return np.array([r.partner if r.side in ("left", "right") else i for i, r in enumerate(self.rois)])


def _build_rois(region_aus, all_aus) -> tuple[ROI, ...]:
    rois: list[ROI] = []
    for key, aus in region_aus:
        region = REGIONS[key]
        if region.midpoint:
            rois.append(ROI(key, key, aus, region.landmarks, region.offset, "centre", len(rois)))
            continue
        first = len(rois)
        for k, (side, lm) in enumerate(zip(region.sides, region.landmarks)):
            rois.append(ROI(f"{key}_{side}", key, aus, (lm,), region.offset, side, first + 1 - k))
    rois.append(ROI("global", "global", tuple(all_aus), (), 0.0, "global", len(rois), is_global=True))
    return tuple(rois)


BP4D = Protocol(
    name="bp4d",
    aus=(1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),
    region_aus=(
        ("inner_brow", (1,)),
        ("outer_brow", (2,)),
        ("brow_lowerer", (4,)),
        ("cheek", (6,)),
        ("lid", (7,)),
        ("upper_lip", (10,)),
        ("lip_corner", (12, 14, 15)),
        ("chin", (17,)),
        ("lips", (23, 24)),
    ),
    labelled_aus=(1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 24, 27, 28),
)

DISFA = Protocol(
    name="disfa",
    aus=(1, 2, 4, 6, 9, 12, 25, 26),
    region_aus=(
        ("inner_brow", (1,)),
        ("outer_brow", (2,)),
        ("brow_lowerer", (4,)),
        ("cheek", (6,)),
        ("nose", (9,)),
        ("lip_corner", (12,)),
        ("lips", (25, 26)),
    ),
    labelled_aus=(1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26),
)

#: Registry of protocols by name.
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (BP4D, DISFA)}


def get_protocol(name: str | Protocol) -> Protocol:
    """The protocol called ``name`` (case-insensitive); unknown names list the choices."""
    if isinstance(name, Protocol):
        return name
    try:
        return PROTOCOLS[name.lower()]
    except KeyError:
        raise InputError(f"unknown protocol {name!r}; choose from {sorted(PROTOCOLS)}") from None

"""Missing local evidence, by construction: occluders drawn over the face, subjects who show some AUs weakly,
and per-AU cue strength (``docs/synthau.md``, "Occlusion and expressivity").

* :class:`Evidence` -- the knobs (occlusion rate and mix of occluder kinds, expressivity, cue strength),
  :data:`PRESETS` (``clean``: every knob off, the SynthAU of before; ``occluded``), :func:`evidence`.
* :func:`sample_occluder` -- one occluder of a kind, its shape, size and place random within the kind, as
  polygons in the canonical frame (IOD units: eye centres at (-0.5, 0) and (+0.5, 0), y towards the chin).
* :func:`subject_gains` -- per subject, the factor each rendered AU is drawn with (1, or ``weak_gain``).
* :func:`read_cover` -- those fractions back from a dataset's ``Occlusion/{video}.csv`` files, row-aligned
  to given (video, frame) rows (``prepare`` stores them; the oracles read them).
* :func:`roi_cover` -- the fraction of each ROI an occluder mask covers, cut by the pipeline's own
  alignment and crops (:mod:`augcn_pyg.face.pipeline`), so "covered" means covered in the model's ROIs.

The labels stay the truth: an occluded or weakly shown AU is still present.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from augcn_pyg.core.aus import Protocol, get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.synthau.prototypes import RENDERED_AUS
from augcn_pyg.face.pipeline import align_usable, crop_rois

#: occluder kinds, in the order of :attr:`Evidence.mix`
KINDS = ("hand", "fringe", "sunglasses", "mask")


@dataclass(frozen=True)
class Evidence:
    """Knobs of missing local evidence. The defaults turn everything off (SynthAU as before: same bytes)."""

    occlusion: float = 0.0  # probability that a frame has an occluder
    mix: tuple[float, ...] = (0.35, 0.2, 0.2, 0.25)  # relative odds of hand, fringe, sunglasses, mask/scarf
    weak_share: float = 0.0  # probability that a subject shows a given AU weakly (per subject and AU)
    weak_gain: float = 0.3  # the factor a weakly shown AU is drawn with (motion and appearance cues)
    cue_strength: float = 1.0  # factor on every AU's appearance cues (wrinkles, furrows, bulges)
    au_cue_strength: tuple[tuple[int, float], ...] = ()  # (AU, factor) pairs, multiplied on cue_strength

    def cue_gains(self) -> dict[int, float]:
        """AU -> factor on its appearance cues (only AUs whose factor is not 1)."""
        per_au = dict(self.au_cue_strength)
        out = {a: self.cue_strength * per_au.get(a, 1.0) for a in RENDERED_AUS}
        return {a: g for a, g in out.items() if g != 1.0}

    @property
    def is_default(self) -> bool:
        return self == Evidence()

    def to_json(self) -> dict:
        d = asdict(self)
        d["mix"] = dict(zip(KINDS, self.mix))
        d["au_cue_strength"] = {str(a): f for a, f in self.au_cue_strength}
        return d


EVIDENCE_KNOBS = tuple(f.name for f in fields(Evidence))

#: ``--preset``: ``clean`` turns every knob off; ``occluded`` hides or weakens local evidence for a sizeable
#: share of AU occurrences (measured in docs/synthau.md); ``masked``: face masks alone, nothing else changed
#: (at ``--occlusion 0`` the clean preset's images): a mask hides the lower face's AUs (AU10-AU24) in both of
#: their ROIs while the eyes and cheeks stay visible, so what relations can restore grows with the share of
#: masked frames (the positive control's rate sweep)
PRESETS: dict[str, Evidence] = {
    "clean": Evidence(),
    "occluded": Evidence(occlusion=0.5, weak_share=0.2, weak_gain=0.3, cue_strength=0.6),
    "masked": Evidence(occlusion=0.5, mix=(0.0, 0.0, 0.0, 1.0)),
}


def parse_cue_strength(spec: str) -> tuple[float | None, tuple[tuple[int, float], ...]]:
    """``"0.6"`` (every AU), ``"7=0.3,12=0.5"`` (per AU) or both (``"0.6,7=0.3"``) -> (factor, pairs)."""
    factor, pairs = None, []
    for part in (p.strip() for p in str(spec).split(",") if p.strip()):
        au, sep, value = part.partition("=")
        try:
            if sep:
                pairs.append((int(au.strip().upper().removeprefix("AU")), float(value)))
            else:
                factor = float(au)
        except ValueError:
            raise ValueError(f"cue strength {spec!r}: {part!r} is neither a number nor AU=factor") from None
    return factor, tuple(pairs)


def evidence(preset: str = "clean", **overrides) -> Evidence:
    """The preset's knobs with ``overrides`` (None values ignored), checked."""
    try:
        base = PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; choose from {list(PRESETS)}") from None
    ev = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    ev = replace(ev, mix=tuple(float(m) for m in ev.mix),
                 au_cue_strength=tuple(sorted((int(a), float(f)) for a, f in dict(ev.au_cue_strength).items())))
    bad = [k for k in ("occlusion", "weak_share", "weak_gain") if not 0 <= getattr(ev, k) <= 1]
    if not 0 <= ev.cue_strength < float("inf") or any(not 0 <= f < float("inf") for _, f in ev.au_cue_strength):
        bad.append("cue_strength")
    if len(ev.mix) != len(KINDS) or min(ev.mix) < 0 or sum(ev.mix) <= 0:
        bad.append("mix")
    unknown = [a for a, _ in ev.au_cue_strength if a not in RENDERED_AUS]
    if unknown:
        bad.append(f"au_cue_strength (AUs {unknown} are not rendered)")
    if bad:
        raise ValueError(f"evidence knobs out of range: {', '.join(bad)} (occlusion, weak_share, weak_gain in "
                         f"[0, 1]; cue strengths >= 0; mix: {len(KINDS)} odds >= 0, not all 0; got {ev})")
    return ev


# --- per subject ------------------------------------------------------------------------------------

def subject_gains(rng: np.random.Generator, ev: Evidence) -> dict[int, float]:
    """AU -> drawing factor for one subject: ``weak_gain`` for the AUs this subject shows weakly (each
    with probability ``weak_share``), 1 otherwise (only the weak ones are returned)."""
    weak = rng.random(len(RENDERED_AUS)) < ev.weak_share  # always drawn: the stream does not depend on the knob
    return {a: ev.weak_gain for a, w in zip(RENDERED_AUS, weak) if w}


# --- occluders ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Occluder:
    """One occluder: its kind, a colour and polygons in canonical IOD units (each (n, 2))."""

    kind: str
    colour: tuple[int, int, int]
    polygons: tuple[np.ndarray, ...]


def _ellipse(cx, cy, rx, ry, n=24, angle=0.0) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    p = np.c_[rx * np.cos(t), ry * np.sin(t)]
    return _rotate(p, angle) + [cx, cy]


def _rotate(p: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return p @ np.array([[c, s], [-s, c]])


def _hand(rng, lm) -> tuple[np.ndarray, ...]:
    """A palm with four fingers, over the mouth, a cheek or an eye."""
    where = rng.choice(["mouth", "cheek", "eye"], p=[0.5, 0.3, 0.2])
    side = rng.choice([-1.0, 1.0])
    if where == "mouth":
        cx, cy = rng.uniform(-0.25, 0.25), lm[48:68, 1].mean() + rng.uniform(-0.1, 0.2)
    elif where == "cheek":
        cx, cy = side * rng.uniform(0.45, 0.8), rng.uniform(0.45, 1.1)
    else:
        cx, cy = side * rng.uniform(0.35, 0.6), rng.uniform(-0.15, 0.15)
    w, h = rng.uniform(0.5, 0.8), rng.uniform(0.45, 0.7)
    angle = rng.uniform(-0.6, 0.6) + (side * 0.5 if where != "mouth" else 0.0)
    polys = [_ellipse(0, 0, w / 2, h / 2)]
    fw = w / 4.4
    for k in range(4):
        x0 = -w / 2 + (k + 0.3) * w / 4
        length = h * rng.uniform(0.55, 0.9)
        polys.append(np.array([[x0, 0], [x0 + fw, 0], [x0 + fw, -h / 2 - length], [x0, -h / 2 - length]]))
    # the thumb, to one side
    polys.append(_rotate(np.array([[0, 0], [fw, 0], [fw, -h * 0.6], [0, -h * 0.6]]), side * 1.0) + [side * w / 2, 0])
    return tuple(_rotate(p, angle) + [cx, cy] for p in polys)


def _fringe(rng, lm) -> tuple[np.ndarray, ...]:
    """A hair fringe from above the head down over the brows (and at times the eyes), wavy lower edge."""
    low = rng.uniform(-0.4, 0.1)  # lowest reach of the edge (brows at about -0.3, eyes at 0)
    x0, x1 = sorted(rng.uniform(-1.1, 1.1, 2))
    if x1 - x0 < 0.9:  # at least half the face wide
        x0, x1 = min(x0, -0.45), max(x1, 0.45)
    xs = np.linspace(x1, x0, 12)
    tilt = rng.uniform(-0.2, 0.2)
    edge = low - 0.08 * np.abs(np.sin(xs * rng.uniform(6, 12))) + tilt * xs - rng.uniform(0, 0.1)
    top = [[x0, -1.6], [x1, -1.6]]
    return (np.vstack([top, np.c_[xs, edge]]),)


def _sunglasses(rng, lm) -> tuple[np.ndarray, ...]:
    """Two dark lenses over the eyes and a bridge."""
    rx, ry = rng.uniform(0.22, 0.32), rng.uniform(0.15, 0.24)
    dy = rng.uniform(-0.06, 0.06)
    polys = [_ellipse(lm[lo:lo + 6, 0].mean(), lm[lo:lo + 6, 1].mean() + dy, rx, ry) for lo in (36, 42)]
    polys.append(np.array([[-0.3, dy - 0.03], [0.3, dy - 0.03], [0.3, dy + 0.01], [-0.3, dy + 0.01]]))
    return tuple(polys)


def _mask(rng, lm) -> tuple[np.ndarray, ...]:
    """A face mask or scarf from the nose (or below it) down past the chin, the full face wide."""
    top = rng.uniform(0.35, 0.95)
    half = abs(lm[16, 0] - lm[0, 0]) / 2 + 0.1
    sag = rng.uniform(-0.05, 0.1)
    return (np.array([[-half, top + 0.1], [-0.3, top + sag], [0.3, top + sag], [half, top + 0.1],
                      [half * 0.9, 2.1], [-half * 0.9, 2.1]]),)


_SHAPES = {"hand": _hand, "fringe": _fringe, "sunglasses": _sunglasses, "mask": _mask}


def sample_occluder(rng: np.random.Generator, lm: np.ndarray, ev: Evidence, skin=(200, 160, 130),
                    hair=(60, 40, 30)) -> Occluder:
    """One occluder for a face of canonical landmarks ``lm`` (68, 2): the kind drawn from ``ev.mix``."""
    p = np.asarray(ev.mix, float)
    kind = str(rng.choice(KINDS, p=p / p.sum()))
    polys = _SHAPES[kind](rng, lm)
    if kind == "hand":
        colour = tuple(int(np.clip(c * rng.uniform(0.8, 1.15), 0, 255)) for c in skin)
    elif kind == "fringe":
        colour = tuple(int(c) for c in hair)
    elif kind == "sunglasses":
        colour = tuple(int(v) for v in rng.integers(5, 45, 3))
    else:
        colour = tuple(int(v) for v in rng.integers(30, 240, 3))
    return Occluder(kind, colour, polys)


# --- what it covers -------------------------------------------------------------------------------

def roi_cover(masks: np.ndarray, points: np.ndarray, protocol: str, roi_size: int = 25) -> np.ndarray:
    """(F, H, W) occluder masks in [0, 1] and the faces' (F, 68, 2) landmarks in image pixels -> (F, R) the
    fraction of each ROI of ``protocol`` the occluder covers, cut as ``prepare`` cuts the image (aligned to
    200 x 200, n x n crops, the whole face resized for the global ROI). NaN for a face that cannot be aligned."""
    protocol = get_protocol(protocol)
    out = np.full((len(masks), protocol.num_rois), np.nan, dtype=np.float32)
    if len(masks) == 0:
        return out
    images = [np.repeat(np.clip(np.rint(m * 255), 0, 255).astype(np.uint8)[..., None], 3, axis=2) for m in masks]
    faces = align_usable(images, points, protocol)
    if faces.kept:
        crops = crop_rois(faces.aligned, faces.points, protocol, roi_size)  # (K, R, 3, n, n) uint8
        out[faces.kept] = crops.float().mean(dim=(2, 3, 4)).numpy() / 255.0
    return out


def read_occlusion_csv(path, protocol: str | Protocol) -> dict[int, np.ndarray]:
    """frame -> (R,) covered fractions in the protocol's ROI order, from one ``Occlusion/{video}.csv``."""
    protocol = get_protocol(protocol)
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        missing = [r for r in protocol.roi_names if r not in header]
        if missing:
            raise InputError(f"{path}: no column for the ROIs {missing} of protocol {protocol.name!r}")
        cols = [header.index(r) for r in protocol.roi_names]
        return {int(row[0]): np.array([float(row[c]) for c in cols], dtype=np.float32) for row in reader}


def has_occlusion(root) -> bool:
    """Whether the dataset at ``root`` has an ``Occlusion/`` manifest (a SynthAU set with occluders)."""
    return (Path(root) / "Occlusion").is_dir()


def read_cover(root, protocol: str | Protocol, subjects, videos, frames) -> np.ndarray:
    """(N, R) float32 covered fractions of the rows (``subjects[i]``, ``videos[i]``, ``frames[i]``) from the
    dataset's ``Occlusion/{video}.csv`` files, named as the writer names its videos (BP4D ``F001_T1``: a
    reader's subject ``F001`` and video ``T1``; DISFA ``SN001``); a video without a file, or a frame its file
    lacks, reads 0 (uncovered)."""
    protocol = get_protocol(protocol)
    keys = np.char.add(np.char.add(np.asarray(subjects).astype(str), "/"), np.asarray(videos).astype(str))
    frames = np.asarray(frames)
    cover = np.zeros((len(frames), protocol.num_rois), dtype=np.float32)
    for key in np.unique(keys):
        subject, video = str(key).split("/", 1)
        paths = [Path(root) / "Occlusion" / f"{name}.csv" for name in (f"{subject}_{video}", video, subject)]
        path = next((p for p in paths if p.exists()), None)
        if path is None:
            continue
        table = read_occlusion_csv(path, protocol)
        for i in np.flatnonzero(keys == key):
            hit = table.get(int(frames[i]))
            if hit is not None:
                cover[i] = hit
    return cover

"""The procedural face renderer: 68 landmarks + AU intensities + an identity -> an RGB image.

The face is drawn with PIL in a canonical frame at twice the output size (anti-aliasing by
supersampling), shaded by a per-subject radial gradient with a skin texture, warped by the frame's pose
(in-plane rotation, scale, translation) and downsampled with area averaging; then the frame's lighting
gradient, blur and noise are applied. The landmarks returned are where the drawn features are, in output
pixel coordinates (pixel centres at integers).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import cv2
import numpy as np
from PIL import Image, ImageDraw

from augcn_pyg.data.synthau.effects import cue_strengths, displace
from augcn_pyg.data.synthau.face import Identity

# --- imaging conditions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Conditions:
    """Ranges of the per-frame imaging knobs (each frame draws uniformly within +- the range)."""

    rotation: float = 15.0  # degrees, in-plane
    scale: float = 0.10  # relative
    translation: float = 0.06  # fraction of the image size
    lighting: float = 0.30  # strength of a linear brightness gradient (0 = flat)
    blur: float = 1.0  # max Gaussian sigma, output pixels
    noise: float = 4.0  # std of additive Gaussian noise, grey levels
    jpeg_quality: int = 90


DIFFICULTIES: dict[str, Conditions] = {
    "easy": Conditions(rotation=3.0, scale=0.03, translation=0.02, lighting=0.1, blur=0.0, noise=1.0),
    "medium": Conditions(),
    "hard": Conditions(rotation=30.0, scale=0.2, translation=0.1, lighting=0.5, blur=2.0, noise=8.0),
}
KNOBS = tuple(f.name for f in fields(Conditions))


def conditions(difficulty: str = "medium", **overrides) -> Conditions:
    """The preset's knobs with ``overrides`` (None values ignored)."""
    try:
        base = DIFFICULTIES[difficulty]
    except KeyError:
        raise ValueError(f"unknown difficulty {difficulty!r}; choose from {list(DIFFICULTIES)}") from None
    cond = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    # NaN and inf fail this test too: they would render blank faces with NaN landmarks
    bad = [k for k in KNOBS if not 0 <= getattr(cond, k) < float("inf")]
    if cond.scale >= 0.9:
        bad.append("scale")
    if not 1 <= cond.jpeg_quality <= 100:
        bad.append("jpeg_quality")
    if bad:
        raise ValueError(f"imaging knobs out of range: {', '.join(sorted(set(bad)))} (need finite and >= 0, "
                         f"scale < 0.9, jpeg_quality 1..100; got {cond})")
    return cond


@dataclass(frozen=True)
class FrameConditions:
    """Drawn values of one frame."""

    rotation: float  # degrees
    scale: float
    shift: tuple[float, float]  # fraction of the image size
    light_angle: float
    light: float
    blur: float
    noise: float


def sample_video_conditions(rng: np.random.Generator, cond: Conditions, n_frames: int) -> list[FrameConditions]:
    """Per-frame conditions: a per-video base pose plus a slow drift (head motion), lighting per video."""
    u = rng.uniform
    base = u(-0.7, 0.7, 4) * [cond.rotation, cond.scale, cond.translation, cond.translation]
    amp = u(-0.3, 0.3, 4) * [cond.rotation, cond.scale, cond.translation, cond.translation]
    freq, phase = u(0.5, 1.5, 4), u(0, 2 * np.pi, 4)
    t = np.arange(n_frames) / max(n_frames, 1)
    pose = base + amp * np.sin(2 * np.pi * freq * t[:, None] + phase)  # (F, 4)
    light_angle, light = u(0, 2 * np.pi), u(0, cond.lighting)
    blur = u(0, cond.blur, n_frames)
    return [FrameConditions(float(p[0]), float(1 + p[1]), (float(p[2]), float(p[3])), light_angle, light,
                            float(b), cond.noise) for p, b in zip(pose, blur)]


NEUTRAL_CONDITIONS = FrameConditions(0.0, 1.0, (0.0, 0.0), 0.0, 0.0, 0.0, 0.0)

# --- geometry helpers -----------------------------------------------------------------------------

_T = np.linspace(0, 1, 4, endpoint=False)[:, None]
_CR = np.hstack([(-_T + 2 * _T**2 - _T**3), (2 - 5 * _T**2 + 3 * _T**3), (_T + 4 * _T**2 - 3 * _T**3),
                 (-_T**2 + _T**3)]) / 2  # (4, 4) Catmull-Rom basis, 4 samples per segment


_WINDOW = np.arange(4)


def spline(points: np.ndarray, closed: bool = False) -> np.ndarray:
    """Catmull-Rom curve through ``points`` (n, 2), 4 samples per segment."""
    p = np.asarray(points, dtype=np.float64)
    if closed:
        ext = np.vstack([p[-1:], p, p[:2]])
        n = len(p)
    else:
        ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
        n = len(p) - 1
    segs = ext[np.arange(n)[:, None] + _WINDOW]  # (n, 4, 2)
    out = np.einsum("sk,nkd->nsd", _CR, segs).reshape(-1, 2)
    return out if closed else np.vstack([out, p[-1:]])


def _shade(c, f: float) -> tuple[int, int, int]:
    return tuple(min(255, max(0, int(v * f + 0.5))) for v in c)


# --- the renderer ---------------------------------------------------------------------------------


class FaceRenderer:
    """Renders one identity at ``size`` x ``size``; per-identity layers are computed once."""

    SUPERSAMPLE = 2

    def __init__(self, identity: Identity, size: int = 256):
        self.id = identity
        self.size = size
        self.big = size * self.SUPERSAMPLE
        self.iod = 0.27 * self.big  # canonical IOD in supersampled pixels
        self.origin = np.array([self.big / 2, 0.40 * self.big])  # eye midpoint
        self._shading = self._shading_map()
        self._gain_key, self._gain = None, None
        rng = np.random.default_rng(identity.texture_seed)
        self._chin_dots = rng.uniform([-0.2, 0.0], [0.2, 0.22], size=(18, 2))  # chin texture stipple
        self._freckles = rng.uniform(-1, 1, size=(int(rng.integers(0, 25)), 2)) * [0.6, 0.25] + [0, 0.45]
        #: AU -> factor on its appearance cues (``occlusion.Evidence.cue_gains``; empty: every factor 1)
        self.cue_gain: dict[int, float] = {}

    def px(self, pts) -> np.ndarray:
        """Canonical IOD units -> supersampled canonical pixels."""
        return np.asarray(pts, dtype=np.float64) * self.iod + self.origin

    def _shading_map(self) -> np.ndarray:
        """(H, W, 3) uint8 multiplicative shading (128 = 1): radial fall-off towards the edge of the
        head and a skin texture, on the head only (the background stays flat)."""
        n = self.big
        y, x = np.mgrid[0:n, 0:n].astype(np.float32)
        cx, cy = self.px([0.0, 0.45])
        r2 = ((x - cx) / (1.1 * self.iod)) ** 2 + ((y - cy) / (1.6 * self.iod)) ** 2
        shade = 1.08 - 0.22 * np.clip(r2, 0, 1.6)
        rng = np.random.default_rng(self.id.texture_seed)
        tex = cv2.GaussianBlur(rng.standard_normal((n, n)).astype(np.float32), (0, 0), 1.2)
        shade = shade * (1 + 0.035 * tex)
        # modelling of a lit face: eye sockets and the sides of the nose in shadow, cheekbones and the
        # nose bridge catching light (soft Gaussian blobs in canonical IOD units)
        shape = self.id.shape
        blobs = []
        for lo in (36, 42):
            c = shape[lo:lo + 6].mean(0)
            blobs.append((c + [0, -0.06], (0.24, 0.13), -0.22))  # socket
            blobs.append((c + [np.sign(c[0]) * 0.05, 0.42], (0.22, 0.14), +0.07))  # cheekbone
            blobs.append(([np.sign(c[0]) * 0.16, 0.35], (0.06, 0.22), -0.12))  # side of the nose
        blobs.append(([0.0, 0.3], (0.05, 0.25), +0.06))  # bridge
        blobs.append(([0.0, (shape[57, 1] + shape[8, 1]) / 2 - 0.06], (0.16, 0.05), -0.08))  # under the lip
        for (bx, by), (sx, sy), amp in blobs:
            gx, gy = self.px([bx, by])
            shade = shade * (1 + amp * np.exp(-0.5 * (((x - gx) / (sx * self.iod)) ** 2
                                                     + ((y - gy) / (sy * self.iod)) ** 2)))
        head = Image.new("L", (n, n), 0)
        jaw = self.id.shape[0:17]
        half = abs(jaw[16, 0] - jaw[0, 0]) / 2 + 0.15
        ImageDraw.Draw(head).ellipse([*self.px([-half, -1.45]), *self.px([half, 2.0])], fill=255)
        head = cv2.GaussianBlur(np.asarray(head, dtype=np.float32) / 255, (0, 0), 0.08 * self.iod)
        shade = 1 + head * (shade - 1)
        return np.repeat(np.clip(shade * 128, 0, 255).astype(np.uint8)[..., None], 3, axis=2)

    # -- drawing ----------------------------------------------------------------------------------

    def draw_canonical(self, lm: np.ndarray, intensities: dict[int, float]) -> np.ndarray:
        """(2S, 2S, 3) uint8: the face of landmarks ``lm`` (68, 2) in IOD units, canonical pose."""
        idn, P = self.id, self.px
        img = Image.new("RGB", (self.big, self.big), idn.background)
        d = ImageDraw.Draw(img)
        skin = idn.skin
        jaw = lm[0:17]
        head_w = abs(jaw[16, 0] - jaw[0, 0]) / 2
        top = np.array([[head_w * 1.02 * np.cos(a), 0.05 - 1.38 * np.sin(a)] for a in np.linspace(0.05, np.pi - 0.05, 15)])
        # clothes, neck, back hair, ears
        d.polygon([tuple(p) for p in P([[-2.2, 3.2], [-1.7, 2.25], [-0.5, 2.05], [0.5, 2.05], [1.7, 2.25], [2.2, 3.2]])],
                  fill=idn.clothes)
        d.polygon([tuple(p) for p in P([[-0.55, 1.0], [0.55, 1.0], [0.6, 2.3], [-0.6, 2.3]])], fill=_shade(skin, 0.78))
        if idn.long_hair:
            back = np.vstack([[[head_w * 1.2, 1.6]], top * [1.15, 1.08], [[-head_w * 1.2, 1.6]]])
            d.polygon([tuple(p) for p in P(spline(back))], fill=idn.hair)
        for s in (-1, 1):
            ear = np.array([[s * head_w * 0.96, 0.05], [s * (head_w + 0.13), 0.12], [s * (head_w + 0.12), 0.45],
                            [s * head_w * 0.93, 0.62]])
            d.polygon([tuple(p) for p in P(spline(ear))], fill=_shade(skin, 0.9))
        # face: jaw + skull top
        outline = np.vstack([jaw, top])
        d.polygon([tuple(p) for p in P(spline(outline, closed=True))], fill=skin)
        gain = self.cue_gain
        self._draw_cues(d, lm, cue_strengths({a: v * gain.get(a, 1.0) for a, v in intensities.items()} if gain
                                             else intensities))
        # hair fringe
        fringe = np.vstack([top * [1.04, 1.03], [[-head_w * 1.0, idn.hair_fringe + 0.35],
                                                 [-0.3, idn.hair_fringe + 0.05], [0.4, idn.hair_fringe],
                                                 [head_w * 1.0, idn.hair_fringe + 0.3]]])
        d.polygon([tuple(p) for p in P(spline(fringe, closed=True))], fill=idn.hair)
        self._draw_brows(d, lm)
        for lo in (36, 42):
            self._draw_eye(d, lm[lo:lo + 6], lm, intensities)
        self._draw_nose(d, lm)
        self._draw_mouth(d, lm, intensities)
        return cv2.multiply(np.asarray(img), self._shading, scale=1 / 128)

    def _line(self, d, pts, colour, width_iod: float, smooth=True):
        p = spline(pts) if smooth and len(pts) > 2 else np.asarray(pts)
        d.line([tuple(q) for q in self.px(p)], fill=colour, width=max(1, int(round(width_iod * self.iod))),
               joint="curve")

    def _draw_cues(self, d, lm, cues: dict[str, float]):
        skin = self.id.skin
        dark = lambda a: _shade(skin, 1 - 0.45 * a)  # noqa: E731
        brow_y = min(lm[19, 1], lm[24, 1])
        if (a := cues.get("forehead_central", 0)) > 0.02:
            for k in range(3):
                y = brow_y - 0.16 - 0.11 * k
                self._line(d, [[-0.32, y + 0.03], [0, y - 0.01], [0.32, y + 0.03]], dark(a), 0.018)
        if (a := cues.get("forehead_lateral", 0)) > 0.02:
            for s in (-1, 1):
                for k in range(3):
                    y = brow_y - 0.15 - 0.1 * k
                    self._line(d, [[s * 0.3, y], [s * 0.55, y - 0.025], [s * 0.8, y + 0.02]], dark(a), 0.016)
        if (a := cues.get("glabella", 0)) > 0.02:
            for s in (-1, 1):
                x = lm[21 if s < 0 else 22, 0] * 0.6
                self._line(d, [[x, -0.34], [x * 0.8, -0.22], [x * 0.7, -0.1]], dark(a), 0.02)
        if (a := cues.get("crows_feet", 0)) > 0.02:
            for idx, s in ((36, -1), (45, 1)):
                c = lm[idx]
                for ang in (-0.45, 0.0, 0.45):
                    v = np.array([s * np.cos(ang), np.sin(ang)])
                    self._line(d, [c + v * 0.07, c + v * 0.18], dark(a), 0.014, smooth=False)
        if (a := cues.get("cheek_bulge", 0)) > 0.02:
            for lo in (36, 42):
                e = lm[lo:lo + 6]
                cx, by = e[:, 0].mean(), e[:, 1].max()
                self._line(d, [[cx - 0.17, by + 0.06], [cx, by + 0.12], [cx + 0.17, by + 0.06]], dark(a * 0.8), 0.022)
            # the raised cheek's apple, where the cheek ROI looks (a ruler below the lower lid: ROI rules)
            ruler = abs(lm[39, 0] - lm[42, 0])
            for lid in (41, 46):
                cx, cy = lm[lid, 0], lm[lid, 1] + ruler
                self._line(d, [[cx - 0.13, cy + 0.05], [cx - 0.07, cy - 0.01], [cx, cy - 0.03], [cx + 0.07, cy - 0.01],
                                [cx + 0.13, cy + 0.05]], dark(a), 0.022)
        if (a := cues.get("lid_tension", 0)) > 0.02:
            for lo in (36, 42):
                e = lm[lo:lo + 6]
                self._line(d, [e[0] + [0, 0.04], e[5] + [0, 0.05], e[4] + [0, 0.05], e[3] + [0, 0.04]],
                           dark(a), 0.014)
        if (a := cues.get("nose_wrinkle", 0)) > 0.02:
            for k in range(3):
                y = 0.08 + 0.07 * k
                self._line(d, [[-0.11, y + 0.02], [0, y], [0.11, y + 0.02]], dark(a), 0.016)
        a = 0.25 + cues.get("nasolabial", 0)  # faint at rest, deepens with AU9/10/12
        for wing, corner, s in ((31, 48, -1), (35, 54, 1)):
            w, c = lm[wing], lm[corner]
            self._line(d, [w + [s * 0.07, -0.02], (w + c) / 2 + [s * 0.1, 0.0], c + [s * 0.07, 0.08]],
                       dark(min(a, 1)), 0.016 + 0.012 * cues.get("nasolabial", 0))
        if (a := cues.get("dimple", 0)) > 0.02:
            for corner, s in ((48, -1), (54, 1)):
                c = lm[corner]
                self._line(d, [c + [s * 0.06, -0.05], c + [s * 0.08, 0.0], c + [s * 0.06, 0.05]], dark(a), 0.02)
        if (a := cues.get("mentolabial", 0)) > 0.02:
            y = (lm[57, 1] + lm[8, 1]) / 2 - 0.05
            self._line(d, [[-0.16, y + 0.02], [0, y], [0.16, y + 0.02]], dark(a), 0.02)
        if (a := cues.get("chin_texture", 0)) > 0.02:
            base = np.array([0.0, (lm[57, 1] + lm[8, 1]) / 2 - 0.05])
            r = 0.012 * self.iod
            for p in self.px(base + self._chin_dots):
                d.ellipse([p[0] - r, p[1] - r, p[0] + r, p[1] + r], fill=dark(a * 0.8))
        for p in self.px(self._freckles):
            d.ellipse([p[0] - 1.5, p[1] - 1.5, p[0] + 1.5, p[1] + 1.5], fill=_shade(skin, 0.85))

    def _draw_brows(self, d, lm):
        t = self.id.brow_thickness
        for idx, outer_first in ((range(17, 22), True), (range(22, 27), False)):
            b = lm[list(idx)]
            thick = np.linspace(0.45, 1.0, 5) if outer_first else np.linspace(1.0, 0.45, 5)
            up = b - np.c_[np.zeros(5), thick * t * 0.5]
            down = b + np.c_[np.zeros(5), thick * t * 0.5]
            poly = np.vstack([spline(up), spline(down)[::-1]])
            d.polygon([tuple(p) for p in self.px(poly)], fill=_shade(self.id.hair, 0.9))

    def _draw_eye(self, d, e, lm, intensities):
        skin = self.id.skin
        eye = spline(e, closed=True)
        d.polygon([tuple(p) for p in self.px(eye)], fill=(236, 232, 226))
        centre = e.mean(0)
        opening = (e[4:6, 1].mean() - e[1:3, 1].mean())
        r = 0.105
        cx, cy = self.px(centre + [0, 0.005])
        R = r * self.iod
        d.ellipse([cx - R, cy - R, cx + R, cy + R], fill=self.id.iris)
        R2 = 0.045 * self.iod
        d.ellipse([cx - R2, cy - R2, cx + R2, cy + R2], fill=(15, 12, 12))
        R3 = 0.018 * self.iod
        d.ellipse([cx + R2 * 0.4, cy - R2 * 1.2, cx + R2 * 0.4 + 2 * R3, cy - R2 * 1.2 + 2 * R3], fill=(250, 250, 250))
        # lids: skin bands above and below the opening hide the iris outside it
        upper = spline(e[[0, 1, 2, 3]])
        lower = spline(e[[3, 4, 5, 0]])
        band = 0.2
        d.polygon([tuple(p) for p in self.px(np.vstack([upper, upper[::-1] - [0, band]]))], fill=_shade(skin, 0.93))
        d.polygon([tuple(p) for p in self.px(np.vstack([lower, lower[::-1] + [0, band * 0.6]]))], fill=skin)
        # lash line, lid crease, lower lid
        self._line(d, e[[0, 1, 2, 3]], (35, 25, 22), 0.026)
        crease = e[[0, 1, 2, 3]] - [0, 0.06 + 0.25 * max(opening - 0.1, 0)]
        self._line(d, crease, _shade(skin, 0.75), 0.014)
        self._line(d, e[[3, 4, 5, 0]], _shade(skin, 0.7), 0.012)

    def _draw_nose(self, d, lm):
        skin = self.id.skin
        self._line(d, [lm[27] + [-0.11, 0.05], lm[28] + [-0.1, 0], lm[29] + [-0.1, 0]], _shade(skin, 0.9), 0.02)
        wing = lm[[31, 32, 33, 34, 35]]
        self._line(d, np.vstack([lm[31] + [-0.04, -0.1], wing]), _shade(skin, 0.72), 0.018)
        self._line(d, np.vstack([wing, lm[35] + [0.04, -0.1]]), _shade(skin, 0.72), 0.018)
        for s, i in ((-1, 32), (1, 34)):
            c = (lm[i] + lm[33]) / 2 + [s * 0.03, -0.025]
            p = self.px(c)
            w, h = 0.05 * self.iod, 0.026 * self.iod
            d.ellipse([p[0] - w, p[1] - h, p[0] + w, p[1] + h], fill=_shade(skin, 0.45))
        tip = self.px(lm[30] + [0.02, -0.02])
        R = 0.05 * self.iod
        d.ellipse([tip[0] - R, tip[1] - R, tip[0] + R, tip[1] + R], fill=_shade(skin, 1.06))

    def _draw_mouth(self, d, lm, intensities):
        lips = self.id.lips
        outer, inner = lm[48:60], lm[60:68]
        d.polygon([tuple(p) for p in self.px(spline(outer, closed=True))], fill=lips)
        gap = lm[66, 1] - lm[62, 1]
        upper_inner = spline(np.vstack([outer[0], inner[1:4], outer[6]]))
        lower_inner = spline(np.vstack([outer[6], inner[5:8], outer[0]]))
        if gap > 0.03:
            cavity = np.vstack([upper_inner, lower_inner[1:-1]])
            d.polygon([tuple(p) for p in self.px(cavity)], fill=(70, 22, 25))
            teeth_h = min(gap * 0.55, 0.09)
            teeth = np.vstack([upper_inner, upper_inner[::-1] + [0, teeth_h]])
            d.polygon([tuple(p) for p in self.px(teeth)], fill=(238, 234, 222))
            if gap > 0.12:
                low_t = np.vstack([lower_inner[2:-2], lower_inner[2:-2][::-1] - [0, min(gap * 0.2, 0.04)]])
                d.polygon([tuple(p) for p in self.px(low_t)], fill=(225, 220, 208))
            # redraw the lower lip over the teeth
            lower_lip = np.vstack([spline(outer[[6, 7, 8, 9, 10, 11, 0]]), lower_inner[::-1]])
            d.polygon([tuple(p) for p in self.px(lower_lip)], fill=lips)
        line_col = _shade(lips, 0.55 - 0.2 * min(1, intensities.get(24, 0) / 4))
        self._line(d, np.vstack([outer[0], inner[1:4], outer[6]]), line_col, 0.018)
        # highlight on the lower lip
        self._line(d, [lm[58] + [0.0, -0.04], lm[57] + [0, -0.045], lm[56] + [0.0, -0.04]], _shade(lips, 1.18), 0.02)

    # -- a whole frame ----------------------------------------------------------------------------

    def render(self, intensities: dict[int, float], cond: FrameConditions = NEUTRAL_CONDITIONS,
               rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(image (S, S, 3) uint8 RGB, landmarks (68, 2) float32 in output pixels)``."""
        img, pts, _ = self.render_occluded(intensities, cond, rng)
        return img, pts

    def canonical_landmarks(self, intensities: dict[int, float]) -> np.ndarray:
        """(68, 2) the drawn landmarks in canonical IOD units (where :func:`sample_occluder` places things)."""
        return displace(self.id.shape, intensities)

    def render_occluded(self, intensities: dict[int, float], cond: FrameConditions = NEUTRAL_CONDITIONS,
                        rng: np.random.Generator | None = None, occluder=None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """:meth:`render` with an ``occlusion.Occluder`` drawn over the face (after the face, before pose and
        the photometric steps, so it moves, blurs and gets noise like the face): ``(image, landmarks, mask)``,
        mask (S, S) float32 in [0, 1] the occluder's share of each output pixel (None without an occluder).
        The landmarks stay the drawn face's: the occluder hides them, it does not move them."""
        lm = displace(self.id.shape, intensities)
        canon = self.draw_canonical(lm, intensities)
        big_mask = None
        if occluder is not None:
            m = Image.new("L", (self.big, self.big), 0)
            dm = ImageDraw.Draw(m)
            for poly in occluder.polygons:
                dm.polygon([tuple(p) for p in self.px(poly)], fill=255)
            big_mask = np.asarray(m)
            canon = canon.copy()
            canon[big_mask > 0] = occluder.colour  # hard-edged at 2x: the warp below anti-aliases it
        # pose: rotate/scale about the face centre, then shift; in supersampled pixels
        centre = self.px([0.0, 0.6])
        m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), cond.rotation, cond.scale)
        m[:, 2] += np.array(cond.shift) * self.big
        # supersampled -> output pixels (centres at integers); bilinear sampling at half scale averages
        # each 2x2 block, so this one warp also does the anti-aliasing downsample
        k = 1 / self.SUPERSAMPLE
        m = np.vstack([m * k, [0, 0, 1]])[:2] + [[0, 0, 0.5 * k - 0.5], [0, 0, 0.5 * k - 0.5]]
        img = cv2.warpAffine(canon, m, (self.size, self.size), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
        pts = self.px(lm) @ m[:, :2].T + m[:, 2]
        mask = None
        if big_mask is not None:
            mask = cv2.warpAffine(big_mask.astype(np.float32) / 255, m, (self.size, self.size),
                                  flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        img = self._photometric(img, cond, rng)
        return img, pts.astype(np.float32), mask

    def _photometric(self, img: np.ndarray, cond: FrameConditions, rng) -> np.ndarray:
        if cond.light > 0:
            key = (cond.light_angle, cond.light)
            if self._gain_key != key:  # lighting is per video: compute its gain map once
                n = self.size
                ramp = (np.arange(n, dtype=np.float32) / n - 0.5) * 2
                g = np.cos(cond.light_angle) * ramp[None, :] + np.sin(cond.light_angle) * ramp[:, None]
                self._gain = np.repeat((1 + cond.light * g)[..., None], 3, axis=2).astype(np.float32)
                self._gain_key = key
            img = cv2.multiply(img, self._gain, dtype=cv2.CV_8U)
        if cond.blur > 0.3:
            img = cv2.GaussianBlur(img, (0, 0), cond.blur)
        if cond.noise > 0 and rng is not None:
            # a window of the subject's noise bank at a random offset and sign: cheap and deterministic
            dy, dx = rng.integers(0, self._BANK_PAD, 2)
            n = self._noise_bank()[dy:dy + self.size, dx:dx + self.size]
            noise = n * (cond.noise * (1 if rng.random() < 0.5 else -1))
            img = cv2.add(img.astype(np.float32), noise, dtype=cv2.CV_32F)
            img = np.clip(img, 0, 255).astype(np.uint8)
        return img

    _BANK_PAD = 64

    def _noise_bank(self) -> np.ndarray:
        if getattr(self, "_bank", None) is None:
            rng = np.random.default_rng(self.id.texture_seed + 1)
            n = self.size + self._BANK_PAD
            self._bank = rng.standard_normal((n, n, 3), dtype=np.float32)
        return self._bank

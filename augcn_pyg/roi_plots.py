"""Pictures of the ROI pipeline: a face's landmarks, AU centres and ROI boxes beside a montage of its crops.

:func:`show_rois` runs the whole chain on one photo (landmarks -> alignment -> ROIs) and draws it;
:func:`draw_rois` draws an already aligned face (or, with no image, the bare template: a pure diagram).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .align import TEMPLATE_68, align_faces, similarity_transforms
from .aus import Protocol, get_protocol
from .errors import InputError
from .rois import au_centres, extract_rois, usable_faces
from .viz import FACE_CONTOURS, _pyplot, check_output, save_figure

#: colour per ROI region (pairs share one); the global ROI is only in the montage
REGION_COLOURS = {
    "inner_brow": "#1f77b4", "outer_brow": "#17becf", "brow_lowerer": "#9467bd", "cheek": "#e377c2",
    "lid": "#2ca02c", "nose": "#bcbd22", "upper_lip": "#ff7f0e", "lip_corner": "#d62728", "chin": "#8c564b",
    "lips": "#7f7f7f", "global": "#000000",
}


def roi_label(roi) -> str:
    """``"AU12/14/15"`` for the lip-corner ROIs of BP4D, ``"global"`` for the global ROI."""
    return "global" if roi.is_global else "AU" + "/".join(str(a) for a in roi.aus)


def load_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an image file, or an :class:`InputError` naming the file."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # BGR; drops alpha, expands grey
    if image is None:
        raise InputError(f"cannot decode the image {path} (corrupt or not an image)")
    return np.ascontiguousarray(image[:, :, ::-1])


def draw_rois(aligned: np.ndarray | None, aligned_landmarks: np.ndarray, protocol: str | Protocol = "bp4d",
              size: int = 25, photo: np.ndarray | None = None, photo_landmarks: np.ndarray | None = None,
              box=None, title: str | None = None, montage: bool = True):
    """A figure: [the photo with its box and landmarks,] the aligned face with landmarks, AU centres and
    ROI boxes labelled with their AUs, and a montage of the R crops. Returns the matplotlib figure.

    ``aligned``: (S, S, 3) uint8 or None for a light-grey canvas (a diagram of the template's ROIs);
    ``aligned_landmarks``: (68, 2) in the aligned frame; ``montage=False`` leaves the crops out.
    """
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    protocol = get_protocol(protocol)
    lm = np.asarray(aligned_landmarks, dtype=np.float32)
    canvas = np.full((200, 200, 3), 235, np.uint8) if aligned is None else np.asarray(aligned)
    side = canvas.shape[0]
    rois = extract_rois(canvas[None], lm[None], protocol, size)[0].permute(0, 2, 3, 1).numpy()  # (R, n, n, 3)
    centres = au_centres(lm, protocol)  # (R-1, 2)
    face_rois = [r for r in protocol.rois if not r.is_global]

    cols = 5 if montage else 0
    rows = int(np.ceil(len(rois) / cols)) if montage else 1
    panels = 2 if photo is None else 3
    fig = plt.figure(figsize=(4.2 * (panels - 1) + 0.9 * cols, max(4.6, 1.05 * rows + 0.6)))
    grid = fig.add_gridspec(rows, panels - 1 + cols, width_ratios=[4.5] * (panels - 1) + [1] * cols)
    if photo is not None:
        ax = fig.add_subplot(grid[:, 0])
        ax.imshow(photo)
        if box is not None:
            x0, y0, x1, y1 = box
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="#00ff00", lw=1.5))
        if photo_landmarks is not None:
            ax.scatter(photo_landmarks[:, 0], photo_landmarks[:, 1], s=2, c="#00ff00")
        ax.set_title("input with face box and 68 landmarks", fontsize=9)
        ax.axis("off")

    ax = fig.add_subplot(grid[:, panels - 2])
    ax.imshow(canvas, extent=(-0.5, side - 0.5, side - 0.5, -0.5))
    for first, last, closed in FACE_CONTOURS:
        idx = list(range(first, last + 1)) + ([first] if closed else [])
        ax.plot(lm[idx, 0], lm[idx, 1], "-", c="#ffffff" if aligned is not None else "#aaaaaa", lw=0.6)
    ax.scatter(lm[:, 0], lm[:, 1], s=3, c="#00cc00", zorder=3)
    half = size / 2
    for roi, (cx, cy) in zip(face_rois, centres):
        colour = REGION_COLOURS.get(roi.region, "#ff0000")
        ax.add_patch(Rectangle((cx - half, cy - half), size, size, fill=False, ec=colour, lw=1.2))
        ax.plot(cx, cy, "+", c=colour, ms=6, mew=1.5)
        ax.text(cx, cy - half - 1, roi_label(roi), color=colour, fontsize=6, ha="center", va="bottom",
                bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.7))
    ax.set_xlim(-0.5, side - 0.5)
    ax.set_ylim(side - 0.5, -0.5)
    ax.set_title(title or f"aligned {side}x{side}: AU centres and {size}x{size} ROIs ({protocol.name})", fontsize=9)
    ax.axis("off")

    for r, (roi, crop) in enumerate(zip(protocol.rois, rois) if montage else ()):
        sub = fig.add_subplot(grid[r // cols, panels - 1 + r % cols])
        sub.imshow(crop, interpolation="nearest")
        sub.set_title(f"{r}: {roi_label(roi)}\n{roi.name}", fontsize=5.5,
                      color=REGION_COLOURS.get(roi.region, "#000000"))
        sub.axis("off")
    fig.tight_layout()
    return fig


def show_rois(image_path: str | Path, output: str | Path, protocol: str | Protocol = "bp4d",
              landmarks: str = "auto", landmarks_file: str | Path | None = None, size: int = 25,
              **backend_options) -> Path:
    """Detect (or read) the landmarks of ``image_path``, align, cut the ROIs, and draw them into ``output``.

    With ``landmarks_file`` (OpenFace CSV, DISFA .mat or .npy in the photo's pixels) its first complete
    face is used instead of a detector. Bad input (unreadable image, no face, NaN landmarks) raises an
    :class:`InputError` naming the file.
    """
    from .landmarks import get_backend, read_landmarks_file

    output = check_output(output)
    protocol = get_protocol(protocol)
    photo = load_rgb(image_path)
    box = None
    if landmarks_file is not None:
        sets = read_landmarks_file(landmarks_file)  # (N, 68, 2)
        # points all on one spot fit no transform (align_faces would raise a ValueError)
        fits = np.isfinite(similarity_transforms(sets)).all(axis=(1, 2))  # (N,)
        usable = usable_faces(sets, protocol) & fits
        if not usable.any():
            raise InputError(f"{landmarks_file}: no face with the landmarks the {protocol.name} ROIs need "
                             "(finite, and not all on one spot)")
        points = sets[np.flatnonzero(usable)[0]]
        source = f"landmarks from {Path(landmarks_file).name}"
    else:
        backend = get_backend(landmarks, **backend_options)
        faces = backend.detect(photo)
        if not faces:
            raise InputError(f"no face found in {image_path} by the {backend.name} landmark backend")
        points, box = faces[0].landmarks, faces[0].box
        source = f"{backend.name} landmarks, score {faces[0].score:.2f}"
    aligned, aligned_landmarks = align_faces([photo], points[None], size=200)
    fig = draw_rois(aligned[0], aligned_landmarks[0], protocol, size, photo=photo, photo_landmarks=points, box=box,
                    title=f"{Path(image_path).name}: {source}, {protocol.name} ROIs")
    return save_figure(fig, output)


def draw_template_rois(output: str | Path, protocol: str | Protocol = "bp4d", size: int = 25) -> Path:
    """The ROI layout on the canonical template (no photo): the documentation's diagram."""
    fig = draw_rois(None, TEMPLATE_68, protocol, size, montage=False,
                    title=f"canonical 200x200 template: {get_protocol(protocol).name} AU centres and ROIs")
    return save_figure(fig, output)

"""Pictures of the ROI pipeline: a face's landmarks, AU centres and ROI boxes beside a montage of its crops.

:func:`show_rois` runs the whole chain on one photo (landmarks -> alignment -> ROIs) and draws it;
:func:`draw_rois` draws an already aligned face (or, with no image, the bare template: a pure diagram).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from augcn_pyg.core.aus import Protocol, get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.face.align import TEMPLATE_68
from augcn_pyg.face.pipeline import ALIGNED_SIZE, align_usable, face_transforms, unusable_reasons
from augcn_pyg.face.rois import au_centres, extract_rois
from augcn_pyg.landmarks import detect_downscaled, downscale, get_backend, read_landmarks_file, read_openface_csv
from augcn_pyg.landmarks.base import DETECT_MAX_SIDE
from augcn_pyg.viz.graphs import FACE_CONTOURS, check_output, pyplot, save_figure

#: colour per ROI region (pairs share one); the global ROI is only in the montage
REGION_COLOURS = {
    "inner_brow": "#1f77b4", "outer_brow": "#17becf", "brow_lowerer": "#9467bd", "cheek": "#e377c2",
    "lid": "#2ca02c", "nose": "#bcbd22", "upper_lip": "#ff7f0e", "lip_corner": "#d62728", "chin": "#8c564b",
    "lips": "#7f7f7f", "global": "#000000",
}


def roi_label(roi) -> str:
    """``"AU12/14/15"`` for the lip-corner ROIs of BP4D, ``"global"`` for the global ROI."""
    return "global" if roi.is_global else "AU" + "/".join(str(a) for a in roi.aus)


#: longest side of the photo as drawn in the picture's first panel (a few hundred pixels wide at 150 dpi)
DISPLAY_MAX_SIDE = 1600
_TRAILING_NUMBER = re.compile(r"(\d+)$")


@dataclass
class ROIPicture:
    """What :func:`show_rois` wrote, and the notes a user should read (which face, a downscaled detection)."""

    path: Path
    notes: list[str] = field(default_factory=list)


def load_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an image file, or an :class:`InputError` naming the file."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # BGR; drops alpha, expands grey
    if image is None:
        raise InputError(f"cannot decode the image {path} (corrupt or not an image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)  # in place: a large photo is not held twice


def frame_number(image_path: str | Path) -> int | None:
    """The number that ends the file name's stem (``850.jpg``, ``frame_0850.png`` -> 850), else None: the
    rule by which ``prepare`` pairs images with label and landmark rows."""
    m = _TRAILING_NUMBER.search(Path(image_path).stem)
    return int(m.group(1)) if m else None


def landmarks_for_image(landmarks_file: str | Path, image_path: str | Path) -> tuple[np.ndarray, str]:
    """``(sets (K, 68, 2), where)``: the landmark sets of ``landmarks_file`` that belong to ``image_path``.

    An OpenFace CSV of several frames (a per-video file) gives the rows whose ``frame`` equals the number
    in the image's file name (several rows = several faces of that frame); one that cannot be matched is an
    :class:`InputError`, never a silent first row. A CSV of one frame, a ``.mat`` and a ``.npy`` give all
    their sets: they are the faces of this photo.
    """
    path = Path(landmarks_file)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return read_landmarks_file(path), path.name
    frames, sets = read_openface_csv(path)  # (N,), (N, 68, 2)
    numbers = np.unique(frames)
    if len(numbers) <= 1:
        return sets, path.name
    span = f"frames {numbers[0]}-{numbers[-1]}"
    number = frame_number(image_path)
    if number is None:
        raise InputError(f"{path} holds landmarks of {len(numbers)} frames ({span}) and the image name "
                         f"{Path(image_path).name!r} carries no frame number to choose one: name the image by "
                         f"its frame (e.g. {numbers[0]}.jpg) or pass a file with one frame's landmarks")
    rows = frames == number
    if not rows.any():
        raise InputError(f"{path} has no row for frame {number} (the number in {Path(image_path).name!r}); "
                         f"it covers {span}")
    return sets[rows], f"frame {number} of {path.name}"


def _pick(count: int, face: int | None, what: str) -> int:
    """0-based index of the face to draw: ``face`` (1-based) if given, else the first."""
    if face is None:
        return 0
    if not 1 <= face <= count:
        raise InputError(f"--face {face}: {what} {count} face{'s' if count != 1 else ''}")
    return face - 1


def draw_rois(aligned: np.ndarray | None, aligned_landmarks: np.ndarray, protocol: str | Protocol = "bp4d",
              size: int = 25, photo: np.ndarray | None = None, photo_landmarks: np.ndarray | None = None,
              box=None, title: str | None = None, montage: bool = True, other_boxes=()):
    """A figure: [the photo with its box and landmarks,] the aligned face with landmarks, AU centres and
    ROI boxes labelled with their AUs, and a montage of the R crops. Returns the matplotlib figure.

    ``aligned``: (S, S, 3) uint8 or None for a light-grey canvas (a diagram of the template's ROIs);
    ``aligned_landmarks``: (68, 2) in the aligned frame; ``montage=False`` leaves the crops out;
    ``other_boxes``: ``(number, box)`` of the faces not drawn, outlined and numbered on the photo.
    The photo is drawn from a copy at most :data:`DISPLAY_MAX_SIDE` pixels long (a 10000-px photo
    would cost matplotlib gigabytes), in the original's pixel coordinates.
    """
    plt = pyplot()
    from matplotlib.patches import Rectangle

    protocol = get_protocol(protocol)
    lm = np.asarray(aligned_landmarks, dtype=np.float32)
    canvas = np.full((ALIGNED_SIZE, ALIGNED_SIZE, 3), 235, np.uint8) if aligned is None else np.asarray(aligned)
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
        height, width = photo.shape[:2]
        ax.imshow(downscale(photo, DISPLAY_MAX_SIDE)[0], extent=(-0.5, width - 0.5, height - 0.5, -0.5))
        for number, (x0, y0, x1, y1) in other_boxes:
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="#ffcc00", lw=1.0, ls="--"))
            ax.text(x0, y0, str(number), color="#ffcc00", fontsize=7, ha="left", va="bottom")
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
              face: int | None = None, detect_max_side: int = DETECT_MAX_SIDE, **backend_options) -> ROIPicture:
    """Detect (or read) the landmarks of ``image_path``, align, cut the ROIs, and draw them into ``output``.

    With ``landmarks_file`` (OpenFace CSV, DISFA .mat or .npy in the photo's pixels) its sets for this
    image (:func:`landmarks_for_image`) are used instead of a detector. A detector runs on a copy whose
    longer side is at most ``detect_max_side`` (:func:`~augcn_pyg.landmarks.detect_downscaled`); the
    alignment cuts the face from the full-size photo. ``face`` (1-based) picks one of several faces: the
    detector's in score order, the file's in row order; by default the best-scoring (or the file's first
    usable) one. The returned notes say how many faces there were, which was drawn, and whether a
    downscaled copy was used. Bad input (unreadable image, no face, NaN landmarks) raises an
    :class:`InputError` naming the file.
    """
    output = check_output(output)
    protocol = get_protocol(protocol)
    photo = load_rgb(image_path)
    box, others, notes = None, [], []
    if landmarks_file is not None:
        sets, where = landmarks_for_image(landmarks_file, image_path)  # (K, 68, 2)
        usable = np.array([not why for why in unusable_reasons(sets, face_transforms(sets), protocol)])  # (K,)
        if face is None and not usable.any():
            raise InputError(f"{landmarks_file}: no face with the landmarks the {protocol.name} ROIs need "
                             "(finite, and not all on one spot)")
        k = _pick(len(sets), face, f"{where} has") if face is not None else int(np.flatnonzero(usable)[0])
        if not usable[k]:
            raise InputError(f"{landmarks_file}: face {k + 1} of {where} lacks landmarks the {protocol.name} "
                             "ROIs need (finite, and not all on one spot)")
        points = sets[k]
        many = f", face {k + 1} of {len(sets)}" if len(sets) > 1 else ""
        source = f"landmarks from {where}{many}"
        if len(sets) > 1:
            notes.append(f"{len(sets)} landmark sets in {where}; drew face {k + 1}"
                         f"{' (the first usable)' if face is None else ''}; --face N draws another")
    else:
        backend = get_backend(landmarks, all_faces=True, **backend_options)
        faces, scale = detect_downscaled(backend, photo, detect_max_side)  # best score first
        if scale < 1:
            h, w = photo.shape[:2]
            notes.append(f"detected on a {round(w * scale)}x{round(h * scale)} copy of the {w}x{h} photo "
                         f"(landmarks mapped back; the face is cut from the full photo)")
        if not faces:
            raise InputError(f"no face found in {image_path} by the {backend.name} landmark backend")
        k = _pick(len(faces), face, "the photo has")
        points, box = faces[k].landmarks, faces[k].box
        others = [(i + 1, f.box) for i, f in enumerate(faces) if i != k]
        many = f", face {k + 1} of {len(faces)}" if len(faces) > 1 else ""
        source = f"{backend.name} landmarks{many}, score {faces[k].score:.2f}"
        if len(faces) > 1:
            x0, y0, x1, y1 = np.round(box).astype(int).tolist()
            notes.append(f"{len(faces)} faces found; drew face {k + 1} (score {faces[k].score:.2f}"
                         f"{', the best' if k == 0 else ''}; box {x0},{y0}-{x1},{y1}); --face N draws another")
    faces = align_usable([photo], np.asarray(points, np.float32)[None], protocol)
    if not faces.kept:
        raise InputError(f"the landmarks of {image_path} cannot be aligned ({faces.reasons[0]})")
    aligned, aligned_landmarks = faces.aligned, faces.points
    fig = draw_rois(aligned[0], aligned_landmarks[0], protocol, size, photo=photo, photo_landmarks=points, box=box,
                    title=f"{Path(image_path).name}: {source}, {protocol.name} ROIs", other_boxes=others)
    return ROIPicture(save_figure(fig, output), notes)


def draw_template_rois(output: str | Path, protocol: str | Protocol = "bp4d", size: int = 25) -> Path:
    """The ROI layout on the canonical template (no photo): the documentation's diagram."""
    fig = draw_rois(None, TEMPLATE_68, protocol, size, montage=False,
                    title=f"canonical 200x200 template: {get_protocol(protocol).name} AU centres and ROIs")
    return save_figure(fig, output)

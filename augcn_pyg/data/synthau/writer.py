"""Write a SynthAU dataset in the real datasets' native layouts (plus landmarks and true intensities).

BP4D-style (``protocol="bp4d"``), one video per subject and task::

    Sequences/F001/T1/1234.jpg ...            frames (numbers start mid-sequence, like BP4D)
    AUCoding/AU_OCC/F001_T1.csv               frame,1,2,4,...,24   (0/1, the protocol's AUs)

DISFA-style (``protocol="disfa"``), one video per subject (the eight task segments one after another)::

    Images/SN001/1.jpg ...                    frames, numbered from 1
    ActionUnit_Labels/SN001/SN001_au1.txt     "frame,intensity" lines (0..5) for AUs 1 2 4 6 9 12 15 17 25 26

With occlusion or expressivity knobs set (:mod:`.occlusion`), also ``Occlusion/{video}.csv``: ``frame,
occluder`` (hand, fringe, sunglasses, mask or none) and, per ROI of the protocol, the fraction of it the
occluder covers (0-1, 3 decimals); weakly shown AUs per subject are in ``synthau.json`` (``weak_aus``).

Both: ``Landmarks/{video}.csv`` (OpenFace 2 style: ``frame, face_id, timestamp, confidence, success,
x_0..x_67, y_0..y_67``, the true positions of the drawn features in image pixels),
``AUIntensity/{video}.csv`` (``frame`` then ``AU01..AU26``, the true continuous intensities of every
rendered AU, truncated to 3 decimals) and ``synthau.json`` (parameters, seed, version, videos, measured rates;
no run history, so the folder's bytes depend only on the parameters).

Every file is written atomically; a video's label file is written last, so a video whose label files,
landmark and intensity CSVs all exist is complete and is skipped when a run is resumed.
"""
from __future__ import annotations

import io
import json
import multiprocessing as mp
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from augcn_pyg.core.aus import PROTOCOLS as AU_PROTOCOLS
from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import atomic_path, write_json_atomic, write_text_atomic
from augcn_pyg.core.workers import die_with_parent
from augcn_pyg.data.synthau.face import sample_identity
from augcn_pyg.data.synthau.occlusion import (
    EVIDENCE_KNOBS,
    Evidence,
    evidence,
    roi_cover,
    sample_occluder,
    subject_gains,
)
from augcn_pyg.data.synthau.plan import (
    EXPRESSIVITY,
    FRAME_NUMBERS,
    IDENTITY,
    OCCLUSION,
    RENDER,
    Video,
    sample_intensities,
    sample_labels,
    stream,
    videos,
)
from augcn_pyg.data.synthau.prototypes import RENDERED_AUS
from augcn_pyg.data.synthau.relations import PRESENT, RELATIONS, load_model
from augcn_pyg.data.synthau.render import Conditions, FaceRenderer, conditions, sample_video_conditions

VERSION = "synthau-1"
FPS = 25.0
#: AUs a DISFA label folder holds (DISFA labels 12 AUs; 5 and 20 are not rendered, so not written).
DISFA_FILE_AUS = tuple(a for a in (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26) if a in RENDERED_AUS)
#: the protocols SynthAU writes a native layout for: every protocol of the AU catalogue
PROTOCOLS = tuple(AU_PROTOCOLS)


def frame_numbers(protocol: str, video: Video, n: int, seed: int) -> np.ndarray:
    if protocol == "disfa":
        return np.arange(1, n + 1)
    start = int(stream(seed, FRAME_NUMBERS, video.subject_index, video.task_index).integers(1, 3000))
    return np.arange(start, start + n)


# --- paths ----------------------------------------------------------------------------------------


def image_path(root: Path, protocol: str, video: Video, frame: int) -> Path:
    if protocol == "disfa":
        return root / "Images" / video.subject / f"{frame}.jpg"
    return root / "Sequences" / video.subject / f"T{video.task_index + 1}" / f"{frame}.jpg"


def label_paths(root: Path, protocol: str, video: Video) -> list[Path]:
    if protocol == "disfa":
        d = root / "ActionUnit_Labels" / video.subject
        return [d / f"{video.subject}_au{a}.txt" for a in DISFA_FILE_AUS]
    return [root / "AUCoding" / "AU_OCC" / f"{video.name}.csv"]


def landmark_path(root: Path, video: Video) -> Path:
    return root / "Landmarks" / f"{video.name}.csv"


def intensity_path(root: Path, video: Video) -> Path:
    return root / "AUIntensity" / f"{video.name}.csv"


def occlusion_path(root: Path, video: Video) -> Path:
    return root / "Occlusion" / f"{video.name}.csv"


def is_complete(root: Path, protocol: str, video: Video, occlusion: bool = False) -> bool:
    return all(p.exists() for p in [landmark_path(root, video), intensity_path(root, video),
                                    *label_paths(root, protocol, video)]
               + ([occlusion_path(root, video)] if occlusion else []))


# --- file contents ---------------------------------------------------------------------------------


def _csv(header: list[str], rows: np.ndarray, fmt: list[str]) -> str:
    buf = io.StringIO()
    buf.write(",".join(header) + "\n")
    line = ",".join(fmt) + "\n"
    for r in rows:
        buf.write(line % tuple(r))
    return buf.getvalue()


def landmarks_csv(frames: np.ndarray, landmarks: np.ndarray) -> str:
    """OpenFace 2 style: frame, face_id, timestamp, confidence, success, x_0..x_67, y_0..y_67."""
    header = ["frame", "face_id", "timestamp", "confidence", "success"] + [f"x_{i}" for i in range(68)] \
        + [f"y_{i}" for i in range(68)]
    n = len(frames)
    rows = np.column_stack([frames, np.zeros(n), (np.arange(n)) / FPS, np.ones(n), np.ones(n),
                            landmarks[:, :, 0], landmarks[:, :, 1]])
    return _csv(header, rows, ["%d", "%d", "%.3f", "%.2f", "%d"] + ["%.3f"] * 136)


def intensity_csv(frames: np.ndarray, inten: np.ndarray) -> str:
    # truncated, not rounded, to 3 decimals: rounding wrote 1.9996 as 2.000, so thresholding this file at
    # 2 disagreed with the label files on a few frames; truncation keeps "present = intensity >= 2" exact
    header = ["frame"] + [f"AU{a:02d}" for a in RENDERED_AUS]
    values = np.floor(np.asarray(inten, dtype=np.float64) * 1000) / 1000
    return _csv(header, np.column_stack([frames, values]), ["%d"] + ["%.3f"] * len(RENDERED_AUS))


def occlusion_csv(frames: np.ndarray, kinds: list[str], cover: np.ndarray, roi_names: list[str]) -> str:
    """``frame, occluder, <roi>...``: the occluder's kind ("none" without one) and the covered fraction of
    each ROI (3 decimals; NaN where the face could not be aligned)."""
    buf = io.StringIO()
    buf.write(",".join(["frame", "occluder", *roi_names]) + "\n")
    for f, k, row in zip(frames, kinds, cover):
        buf.write(f"{int(f)},{k}," + ",".join("nan" if np.isnan(v) else f"{v:.3f}" for v in row) + "\n")
    return buf.getvalue()


def bp4d_occ_csv(frames: np.ndarray, inten: np.ndarray, aus) -> str:
    cols = [RENDERED_AUS.index(a) for a in aus]
    occ = (inten[:, cols] >= PRESENT).astype(int)
    return _csv(["frame"] + [str(a) for a in aus], np.column_stack([frames, occ]), ["%d"] * (len(aus) + 1))


def disfa_txt(frames: np.ndarray, inten_col: np.ndarray) -> str:
    # integer DISFA intensities: floor keeps "present = intensity >= 2" exact
    levels = np.clip(np.floor(inten_col), 0, 5).astype(int)
    return "".join(f"{f},{v}\n" for f, v in zip(frames, levels))


# --- one video -------------------------------------------------------------------------------------

_RENDERER_CACHE: dict = {}


def _renderer(seed: int, subject_index: int, size: int) -> FaceRenderer:
    key = (seed, subject_index, size)
    if key not in _RENDERER_CACHE:
        _RENDERER_CACHE.clear()  # jobs come subject by subject: keep one
        _RENDERER_CACHE[key] = FaceRenderer(sample_identity(stream(seed, IDENTITY, subject_index)), size)
    return _RENDERER_CACHE[key]


def write_video(job: dict) -> tuple[str, int, bool]:
    """Render and write one video; returns ``(name, frames, skipped)``."""
    root, protocol, video = Path(job["root"]), job["protocol"], job["video"]
    ev: Evidence = job.get("evidence") or Evidence()
    if job["resume"] and is_complete(root, protocol, video, not ev.is_default):
        return video.name, 0, True
    seed = job["seed"]
    model = load_model(protocol) if job["relations"] == "realistic" else None
    inten = sample_intensities(protocol, job["relations"], video, job["frames_per_video"], seed, model)
    frames = frame_numbers(protocol, video, len(inten), seed)
    renderer = _renderer(seed, video.subject_index, job["image_size"])
    rng = stream(seed, RENDER, video.subject_index, max(video.task_index, 0))
    conds = sample_video_conditions(rng, Conditions(**job["conditions"]), len(inten))
    quality = [cv2.IMWRITE_JPEG_QUALITY, int(job["conditions"]["jpeg_quality"])]
    lms = np.empty((len(inten), 68, 2), dtype=np.float32)
    # missing local evidence (occlusion.py): own streams, so the default knobs leave every byte as before
    gains = subject_gains(stream(seed, EXPRESSIVITY, video.subject_index), ev)
    renderer.cue_gain = ev.cue_gains()
    occ_rng = stream(seed, OCCLUSION, video.subject_index, max(video.task_index, 0))
    kinds = ["none"] * len(inten)
    cover = np.zeros((len(inten), get_protocol(protocol).num_rois), dtype=np.float32)
    for i, (row, cond) in enumerate(zip(inten, conds)):
        active = {au: float(v) * gains.get(au, 1.0) for au, v in zip(RENDERED_AUS, row) if v > 0.05}
        occluder = None
        if ev.occlusion > 0 and occ_rng.random() < ev.occlusion:
            idn = renderer.id
            occluder = sample_occluder(occ_rng, renderer.canonical_landmarks(active), ev, idn.skin, idn.hair)
        img, lms[i], mask = renderer.render_occluded(active, cond, rng, occluder)
        if mask is not None:
            kinds[i] = occluder.kind
            cover[i] = roi_cover(mask[None], lms[i][None], protocol)[0]
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), quality)
        path = image_path(root, protocol, video, int(frames[i]))
        with atomic_path(path) as tmp:
            tmp.write_bytes(buf.tobytes())
    if not ev.is_default:
        write_text_atomic(occlusion_path(root, video),
                          occlusion_csv(frames, kinds, cover, get_protocol(protocol).roi_names))
    write_text_atomic(landmark_path(root, video), landmarks_csv(frames, lms))
    write_text_atomic(intensity_path(root, video), intensity_csv(frames, inten))
    if protocol == "disfa":
        for a, path in zip(DISFA_FILE_AUS, label_paths(root, protocol, video)):
            write_text_atomic(path, disfa_txt(frames, inten[:, RENDERED_AUS.index(a)]))
    else:
        aus = get_protocol(protocol).aus
        write_text_atomic(label_paths(root, protocol, video)[0], bp4d_occ_csv(frames, inten, aus))
    return video.name, len(inten), False


# --- the dataset ----------------------------------------------------------------------------------


def generate_synthau(out_dir, protocol: str = "bp4d", relations: str = "realistic", subjects: int = 24,
                     frames_per_video: int = 60, seed: int = 0, difficulty: str = "medium", workers: int = 1,
                     image_size: int = 256, resume: bool = True, progress: bool = True, preset: str = "clean",
                     **knobs) -> dict:
    """Render a SynthAU dataset into ``out_dir`` in ``protocol``'s native layout; returns the manifest
    (``synthau.json``: the dataset's description) plus this run's ``frames_written`` and ``videos_skipped``,
    which the file does not hold, so a resumed or repeated run leaves the same bytes as one uninterrupted run.

    ``knobs`` override the difficulty's imaging conditions (:class:`.render.Conditions`: rotation,
    scale, translation, lighting, blur, noise, jpeg_quality). BP4D-style output has ``subjects x 8``
    videos of ``frames_per_video`` frames; DISFA-style one video of ``8 x frames_per_video`` frames per
    subject. The output is byte-identical for a seed whatever ``workers`` is.
    ``preset`` (:data:`.occlusion.PRESETS`) sets the knobs of missing local evidence, which ``knobs`` also
    override (:class:`.occlusion.Evidence`: occlusion, mix, weak_share, weak_gain, cue_strength,
    au_cue_strength); the default ``clean`` turns them off.
    """
    root = Path(out_dir)
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r} for {root}; choose from {list(PROTOCOLS)}")
    if relations not in RELATIONS:
        raise InputError(f"unknown relations {relations!r} for {root}; choose from {list(RELATIONS)}")
    if subjects < 1 or frames_per_video < 1 or image_size < 64 or workers < 1 or seed < 0:
        raise InputError(f"subjects, frames_per_video and workers must be >= 1, image_size >= 64 and seed >= 0 "
                         f"(got {subjects}, {frames_per_video}, {workers}, {image_size}, {seed}) for {root}")
    ev_knobs = {k: knobs.pop(k) for k in list(knobs) if k in EVIDENCE_KNOBS}
    try:
        cond = conditions(difficulty, **knobs)
        ev = evidence(preset, **ev_knobs)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{exc} (output {root})") from None
    if root.exists() and not root.is_dir():
        raise InputError(f"output path is not a folder: {root}")
    params = {"protocol": protocol, "relations": relations, "subjects": subjects,
              "frames_per_video": frames_per_video, "seed": seed, "difficulty": difficulty,
              "image_size": image_size, "conditions": asdict(cond)}
    if not ev.is_default:  # only then: datasets made before these knobs keep their parameters
        params |= {"preset": preset, "evidence": ev.to_json()}
    manifest_path = root / "synthau.json"
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            raise InputError(f"unreadable SynthAU manifest {manifest_path}: delete it or use another folder") from None
        if old.get("parameters") != params:
            raise InputError(f"{root} holds a SynthAU dataset made with other parameters ({manifest_path}); "
                             "use another folder or delete it")
    vids = videos(protocol, subjects)
    manifest = {"version": VERSION, "parameters": params, "complete": False,
                "layout": "bp4d" if protocol == "bp4d" else "disfa",
                "videos": [v.name for v in vids], "subjects": sorted({v.subject for v in vids})}
    if ev.weak_share > 0:
        manifest["weak_aus"] = {v.subject: {str(a): g for a, g in subject_gains(
            stream(seed, EXPRESSIVITY, v.subject_index), ev).items()} for v in vids}
    try:
        root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(manifest_path, manifest)
    except OSError as exc:
        raise InputError(f"cannot write the SynthAU output folder {root}: {exc.strerror or exc}") from None
    jobs = [{"root": str(root), "protocol": protocol, "relations": relations, "video": v, "seed": seed,
             "frames_per_video": frames_per_video, "image_size": image_size, "conditions": asdict(cond),
             "resume": resume, "evidence": ev} for v in vids]
    total_frames = frames_per_video * len(vids) * (8 if protocol == "disfa" else 1)
    written = skipped = 0
    bar = None
    if progress:
        bar = tqdm(total=total_frames, unit="face", desc=f"SynthAU {protocol}")
    per_video = total_frames // len(vids)
    if workers == 1:
        results = map(write_video, jobs)
        pool = None
    else:
        pool = mp.get_context("fork").Pool(workers, initializer=die_with_parent)  # ends with this process
        results = pool.imap_unordered(write_video, jobs, chunksize=1)
    try:
        for _name, n, skip in results:
            written += n
            skipped += skip
            if bar is not None:
                bar.update(per_video)
    except BaseException:
        if pool is not None:
            pool.terminate()  # stop the other workers at once (Ctrl-C, a failing video)
        raise
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if bar is not None:
            bar.close()
    labels, _, _ = sample_labels(protocol, relations, subjects, frames_per_video, seed)
    aus = get_protocol(protocol).aus
    manifest |= {"complete": True, "frames": int(total_frames),
                 "rates": {str(a): round(float(r), 4) for a, r in zip(aus, labels.mean(0))}}
    write_json_atomic(manifest_path, manifest)
    # this run's counts are returned, never written: a resumed run's folder is byte-identical to one run
    return manifest | {"frames_written": int(written), "videos_skipped": int(skipped)}

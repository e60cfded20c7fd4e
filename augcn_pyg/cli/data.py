"""Data commands: prepare (faces to an ROI store), show-rois, synth and synth-gallery (SynthAU)."""
from __future__ import annotations

from pathlib import Path

import click

from augcn_pyg.cli.group import LANDMARK_CHOICES, user_errors
from augcn_pyg.core.aus import PROTOCOLS
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.prepare import PrepareInterrupted, prepare
from augcn_pyg.data.readers import DATASET_READERS
from augcn_pyg.data.synthau.occlusion import PRESETS as EVIDENCE_PRESETS
from augcn_pyg.data.synthau.occlusion import parse_cue_strength
from augcn_pyg.data.synthau.writer import PROTOCOLS as SYNTH_PROTOCOLS
from augcn_pyg.data.synthetic import generate_synthau, render_gallery
from augcn_pyg.face.rois import ROI_SIZE_RANGE
from augcn_pyg.viz.rois import show_rois


@click.command("prepare")
@click.option("--dataset", type=click.Choice(DATASET_READERS.choices()), required=True,
              help="How ROOT is laid out (native BP4D / DISFA folders, ME-GraphAU lists, a folder or video).")
@click.option("--root", type=click.Path(path_type=Path), required=True, help="The dataset's folder (or video).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The ROI store directory.")
@click.option("--protocol", type=click.Choice(sorted(PROTOCOLS)), default=None,
              help="AU order and ROI table; default: the dataset's own (needed for lists/folder).")
@click.option("--landmarks", type=click.Choice(LANDMARK_CHOICES), default="auto", show_default=True,
              help="Landmark backend for frames without shipped landmarks (auto: insightface if a model pack "
                   "is in $INSIGHTFACE_HOME, else dlib).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Frames per chunk (the unit of work and of resume checkpoints).")
@click.option("--roi-size", type=click.IntRange(*ROI_SIZE_RANGE), default=25, show_default=True,
              help="ROI side n (pixels, on the 200-px aligned face).")
@click.option("--labels", "labels_path", type=click.Path(path_type=Path), default=None,
              help="Label file or folder (bp4d: instead of ROOT/AUCoding/AU_OCC; folder: any label format).")
@click.option("--openface", type=click.Path(path_type=Path), default=None,
              help="folder: an OpenFace 2 CSV whose landmarks are used instead of detecting them.")
@click.option("--images", type=click.Path(path_type=Path), default=None,
              help="disfa/lists: the folder of extracted frames (images) if not found under ROOT.")
@click.option("--landmarks-dir", type=click.Path(path_type=Path), default=None,
              help="bp4d/disfa: per-video OpenFace 2 CSVs {video}.csv (F001_T1.csv, SN001.csv; SynthAU's "
                   "ROOT/Landmarks) used instead of detecting; frames they lack are skipped.")
@click.option("--model-root", type=click.Path(path_type=Path), default=None,
              help="InsightFace model root or pack folder (default: $INSIGHTFACE_HOME, then ~/.insightface).")
@click.option("--intensity-threshold", type=click.IntRange(1, 5), default=None,
              help="disfa: an AU is present at or above this intensity (default 2).")
@click.option("--camera", type=click.Choice(["left", "right"]), default=None,
              help="disfa: which camera's video or frames (default left).")
@click.option("--track/--no-track", default=None,
              help="Follow the face from frame to frame within each video (of each chunk) instead of detecting "
                   "on every whole frame (default: on for bp4d and disfa with dlib; dlib only).")
@click.option("--overwrite", is_flag=True, help="Prepare again into a directory that holds a store.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@user_errors
def prepare_cmd(dataset, root, output, protocol, landmarks, workers, batch_size, roi_size, labels_path, openface,
                images, intensity_threshold, camera, landmarks_dir, model_root, track, overwrite, quiet):
    """Turn a dataset's frames into an ROI store: landmarks -> aligned face -> R crops of n x n.

    A run that is stopped (Ctrl-C, kill, power loss) resumes where it stopped when the same command is
    run again; frames without a usable face are listed in OUTPUT/skipped.csv. The reader's notes are
    printed before the work starts; a run that stores no face leaves nothing behind.

    \b
    Examples:
      augcn-pyg prepare --dataset bp4d --root /data/BP4D -o stores/bp4d --workers 4
      augcn-pyg prepare --dataset folder --root clip.mp4 --openface clip.csv --protocol disfa -o stores/clip
      augcn-pyg prepare --dataset bp4d --root synthau -o stores/synthau --landmarks-dir synthau/Landmarks
    """
    disfa_only = {"intensity_threshold": intensity_threshold, "camera": camera}
    if dataset != "disfa" and any(v is not None for v in disfa_only.values()):
        raise InputError(f"{root}: --intensity-threshold and --camera apply to --dataset disfa only")
    options = {k: v for k, v in (("labels", labels_path), ("openface", openface), ("images", images),
                                 ("landmarks_dir", landmarks_dir), *disfa_only.items()) if v is not None}
    backend_options = {"model_root": model_root} if model_root else None
    try:
        summary = prepare(dataset, root, output, protocol, landmarks=landmarks, workers=workers,
                          batch_size=batch_size, roi_size=roi_size, overwrite=overwrite, progress=not quiet,
                          backend_options=backend_options, on_note=lambda n: click.echo(f"note: {n}", err=True),
                          track=track, **options)
    except PrepareInterrupted as stop:
        click.echo(f"\n{stop.line()}", err=True)
        raise click.exceptions.Exit(130) from None  # the shell's code for "stopped by SIGINT"
    click.echo(summary.line())


@click.command("show-rois")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help=".png, .svg or .pdf")
@click.option("--protocol", type=click.Choice(sorted(PROTOCOLS)), default="bp4d", show_default=True)
@click.option("--landmarks", "backend", type=click.Choice(LANDMARK_CHOICES), default="auto", show_default=True,
              help="Landmark backend (auto: insightface if a model pack is on disk, else dlib).")
@click.option("--landmarks-file", type=click.Path(path_type=Path), default=None,
              help="Use these landmarks instead of a detector: OpenFace 2 CSV, DISFA .mat (66 points) or .npy.")
@click.option("--model-root", type=click.Path(path_type=Path), default=None,
              help="InsightFace model root or pack folder (default: $INSIGHTFACE_HOME, then ~/.insightface).")
@click.option("--roi-size", type=click.IntRange(*ROI_SIZE_RANGE), default=25, show_default=True,
              help="ROI side n (pixels, on the 200-px aligned face).")
@click.option("--face", type=click.IntRange(min=1), default=None,
              help="Which face to draw when there are several: 1 = the best-scoring detection (default), "
                   "2 = the next, ...; with --landmarks-file, the file's sets in row order.")
@user_errors
def show_rois_command(image, output, protocol, backend, landmarks_file, model_root, roi_size, face):
    """Draw a photo's landmarks, AU centres and ROI boxes beside a montage of its ROI crops.

    A per-video OpenFace CSV is matched to the image by the frame number in the image's name
    (Sequences/F001/T1/850.jpg takes the row of frame 850). Detection runs on a copy at most
    1280 px long (landmarks mapped back to the photo).

    \b
    Examples:
      augcn-pyg show-rois face.jpg -o rois.png
      augcn-pyg show-rois group.jpg -o rois.png --face 2 --protocol disfa --landmarks dlib
      augcn-pyg show-rois Sequences/F001/T1/850.jpg -o rois.png --landmarks-file Landmarks/F001_T1.csv
    """
    options = {"model_root": model_root} if model_root is not None else {}
    picture = show_rois(image, output, protocol, backend, landmarks_file, roi_size, face=face, **options)
    for note in picture.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {picture.path}")


# --- SynthAU -------------------------------------------------------------------------------


@click.command("synth")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(),
              help="Output folder (created; a finished video is skipped when re-run).")
@click.option("--protocol", type=click.Choice(SYNTH_PROTOCOLS), default="bp4d", show_default=True,
              help="Native layout and AU preset.")
@click.option("--relations", type=click.Choice(["realistic", "independent"]), default="realistic",
              show_default=True, help="AU co-occurrence model; independent = same rates, no relations.")
@click.option("--subjects", type=click.IntRange(min=1), default=24, show_default=True)
@click.option("--frames-per-video", type=click.IntRange(min=1), default=60, show_default=True,
              help="Frames per task video (DISFA: per task segment of the subject's one video).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--difficulty", type=click.Choice(["easy", "medium", "hard"]), default="medium",
              show_default=True, help="Sets pose, lighting, blur and noise together.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--image-size", type=click.IntRange(min=64), default=256, show_default=True)
@click.option("--rotation", type=float, default=None, help="Override: max in-plane rotation (degrees).")
@click.option("--scale", type=float, default=None, help="Override: max relative scale change.")
@click.option("--translation", type=float, default=None, help="Override: max shift (fraction of the image).")
@click.option("--lighting", type=float, default=None, help="Override: max lighting-gradient strength.")
@click.option("--blur", type=float, default=None, help="Override: max Gaussian blur sigma (pixels).")
@click.option("--noise", type=float, default=None, help="Override: noise std (grey levels).")
@click.option("--jpeg-quality", type=click.IntRange(1, 100), default=None, help="Override: JPEG quality.")
@click.option("--preset", type=click.Choice(list(EVIDENCE_PRESETS)), default="clean", show_default=True,
              help="Missing local evidence: clean = none; occluded = occluders, weak AUs, fainter cues; "
                   "masked = face masks alone.")
@click.option("--occlusion", type=click.FloatRange(0, 1), default=None,
              help="Override: probability that a frame has an occluder (hand, fringe, sunglasses, mask).")
@click.option("--weak-share", type=click.FloatRange(0, 1), default=None,
              help="Override: probability that a subject shows a given AU weakly.")
@click.option("--weak-gain", type=click.FloatRange(0, 1), default=None,
              help="Override: the factor a weakly shown AU is drawn with.")
@click.option("--cue-strength", default=None,
              help="Override: factor on appearance cues, for every AU (0.6) and/or per AU (7=0.3,12=0.5).")
@click.option("--no-resume", is_flag=True, help="Re-render videos that are already complete.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@user_errors
def synth_command(out_dir, protocol, relations, subjects, frames_per_video, seed, difficulty, workers,
                  image_size, no_resume, quiet, preset, cue_strength, **knobs):
    """Render a SynthAU dataset (faces with known AU relations) in a native dataset layout.

    \b
    Examples:
      augcn-pyg synth -o synth_bp4d --protocol bp4d --subjects 24 --frames-per-video 60 --seed 0 --workers 2
      augcn-pyg synth -o synth_ind --relations independent --difficulty hard --rotation 20
      augcn-pyg synth -o synth_disfa --protocol disfa --subjects 27
      augcn-pyg synth -o synth_occ --preset occluded            # and --relations independent: its control
    """
    if cue_strength is not None:
        try:
            knobs["cue_strength"], knobs["au_cue_strength"] = parse_cue_strength(cue_strength)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    manifest = generate_synthau(out_dir, protocol=protocol, relations=relations, subjects=subjects,
                                frames_per_video=frames_per_video, seed=seed, difficulty=difficulty,
                                workers=workers, image_size=image_size, resume=not no_resume, progress=not quiet,
                                preset=preset, **knobs)
    rates = ", ".join(f"AU{a} {100 * r:.0f}%" for a, r in manifest["rates"].items())
    click.echo(f"wrote {manifest['frames_written']} faces ({manifest['videos_skipped']} videos already "
               f"complete) to {out_dir}\noccurrence: {rates}")


@click.command("synth-gallery")
@click.option("-o", "--output", "out_path", required=True, type=click.Path(dir_okay=False),
              help="PNG to write (.png).")
@click.option("--seed", type=click.IntRange(min=0), default=3, show_default=True, help="Which identity to show.")
@user_errors
def synth_gallery_command(out_path, seed):
    """Draw every SynthAU AU: a face at rest beside the same face at intensity 2 and 4.

    \b
    Example:
      augcn-pyg synth-gallery -o docs/img/synthau.png
    """
    click.echo(f"wrote {render_gallery(out_path, seed=seed)}")


COMMANDS = [prepare_cmd, show_rois_command, synth_command, synth_gallery_command]

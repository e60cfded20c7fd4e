"""The commands that use a trained model: predict (images, folders, videos -> per-frame AU rows) and
export (a run's model as ONNX). A thin layer over :mod:`augcn_pyg.inference.predict` and :mod:`augcn_pyg.inference.export`."""
from __future__ import annotations

from pathlib import Path

import click
from tqdm.auto import tqdm

from augcn_pyg.cli.group import user_errors
from augcn_pyg.inference.export import export_onnx
from augcn_pyg.inference.output import OUTPUT_FORMATS
from augcn_pyg.inference.predict import SMOOTH_DEFAULT, predict
from augcn_pyg.landmarks import LANDMARK_BACKENDS


@click.command("predict")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="A trained run folder (or its model.safetensors).")
@click.option("--onnx", "onnx_path", type=click.Path(path_type=Path), default=None,
              help="Instead of --checkpoint: a model from `augcn-pyg export`, run by ONNX Runtime.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The CSV (or JSON Lines with --format json) to write; its folder must exist.")
@click.option("--format", "output_format", type=click.Choice(sorted(OUTPUT_FORMATS)), default="csv",
              show_default=True, help="csv: one row per frame and face (OpenFace 2 columns); json: one object per frame.")
@click.option("--landmarks", type=click.Choice(sorted(LANDMARK_BACKENDS)), default="dlib", show_default=True,
              help="Face detector and 68-point landmark backend.")
@click.option("--model-root", type=click.Path(path_type=Path), default=None,
              help="InsightFace model root or pack folder (default: $INSIGHTFACE_HOME, then ~/.insightface).")
@click.option("--upsample", type=click.IntRange(0, 3), default=None,
              help="dlib: times the frame is doubled before detection (default 1, finds faces down to about "
                   "40 px; 0 is about 4x faster and finds faces from about 80 px).")
@click.option("--track/--no-track", default=None,
              help="Follow faces from frame to frame, detecting again only when a face is lost (default: on "
                   "for videos with dlib; docs/predict.md says how a lost face is noticed).")
@click.option("--redetect-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="With tracking: also search the whole frame every N frames, to find faces that enter (0: "
                   "only when a face is lost).")
@click.option("--smooth", type=click.IntRange(min=1), default=None, metavar="N",
              help=f"Videos: average each tracked face's AU probabilities over its last N frames (causal; restarts "
                   f"when the face is lost; 1 = off). Default {SMOOTH_DEFAULT}"
                   f"{' (off: on SynthAU no N raised F1, see docs/predict.md)' if SMOOTH_DEFAULT == 1 else ''}; "
                   f"N > 1 needs a video or a folder of frames with --track.")
@click.option("--largest-face", is_flag=True, help="Only the largest face of each frame (default: every face).")
@click.option("--landmarks-out", is_flag=True,
              help="Also write the 68 landmarks (x_0..x_67, y_0..y_67) and the head pose they give (pose_Rx, "
                   "pose_Ry, pose_Rz in radians, OpenFace 2's convention; an approximation, see docs/predict.md).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Frames per batch: the unit of model calls, of flushed output and of --resume.")
@click.option("--resume", is_flag=True, help="Carry on an interrupted run after its last complete batch.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@user_errors
def predict_cmd(input_path, checkpoint, onnx_path, output, output_format, landmarks, model_root, upsample, track,
                redetect_every, smooth, largest_face, landmarks_out, batch_size, resume, overwrite, quiet):
    """Predict AUs on an image, a folder of images or a video: one row per frame and face.

    Every frame has its row; a frame without a face has success = 0 and empty AU cells. An image of a
    folder that cannot be read has success = 0 and the reason in its note, and the run goes on (an input
    none of whose images can be read is an error, and writes nothing). Rows are written batch by batch,
    so a killed run keeps them and --resume carries on.

    \b
    Examples:
      augcn-pyg predict face.jpg --checkpoint runs/gcn-f1 -o face.csv
      augcn-pyg predict photos/ --checkpoint runs/gcn-f1 -o photos.csv --largest-face
      augcn-pyg predict clip.mp4 --checkpoint runs/gcn-f1 -o clip.csv --landmarks-out
      augcn-pyg predict clip.mp4 --onnx model.onnx -o clip.jsonl --format json
      augcn-pyg predict clip.mp4 --checkpoint runs/gcn-f1 -o clip.csv --no-track   # detect on every frame
      augcn-pyg predict clip.mp4 --checkpoint runs/gcn-f1 -o clip.csv --smooth 5   # mean of the last 5 frames
      augcn-pyg predict clip.mp4 --checkpoint runs/gcn-f1 -o clip.csv --resume     # after a kill
    """

    bars = []  # made once the input and the model have loaded: a bad input prints only its error

    def start(total, done):
        bars.append(tqdm(total=total or None, initial=done, unit="frame", desc="predict", disable=quiet))

    options = {k: v for k, v in (("model_root", model_root), ("upsample", upsample)) if v is not None}
    try:
        summary = predict(input_path, output, checkpoint, onnx_path, landmarks=landmarks, backend_options=options,
                          largest_face=largest_face, landmarks_out=landmarks_out, output_format=output_format,
                          batch_size=batch_size, track=track, redetect_every=redetect_every, smooth=smooth,
                          resume=resume, overwrite=overwrite,
                          progress=lambda n: bars[0].update(n), on_start=start)
    finally:
        for bar in bars:
            bar.close()
    click.echo(summary.line())


@click.command("export")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The .onnx file to write.")
@user_errors
def export_cmd(run, output):
    """Export a trained run's model to ONNX: ROI crops (B, R, 3, n, n) uint8 -> AU probabilities (B, C), and
    intensities (B, C) on 0-5 as a second output when the model has an intensity head (--task intensity or both).

    The batch size is dynamic; the protocol, ROI size and AU order are stored in the file's metadata, so
    `predict --onnx` needs nothing else.

    \b
    Example:
      augcn-pyg export runs/gcn-f1 -o gcn-f1.onnx
      augcn-pyg predict clip.mp4 --onnx gcn-f1.onnx -o clip.csv
    """
    meta = export_onnx(run, output)
    extra = f" and {meta['intensity_output']}" if "intensity_output" in meta else ""
    click.echo(f"wrote {output}: {meta['layer']} on {meta['protocol']}, input {meta['input']}, output {meta['output']}"
               f"{extra}")


COMMANDS = [predict_cmd, export_cmd]

"""How much local evidence SynthAU's ``occluded`` preset removes, and the oracle bounds it leaves
(docs/synthau.md, "Occlusion and expressivity").

    python -m benchmarks.synthau_evidence            # 8 subjects x 8 tasks x 20 frames, realistic + control
    python -m benchmarks.synthau_evidence --quick    # a smoke run (tests)
    python -m benchmarks.synthau_evidence --preset masked --occlusion 0.9   # another preset, another rate

Renders the preset and its control (``--relations independent``, same seed: same people, poses, occluders
and weak AUs), reads the labels and the manifest back, and writes per preset: the share of AU occurrences
without local evidence (all of it, and the occluders' part alone), the share of frames with an occluder,
per-AU shares, and the local and relation oracles' mean F1 on the test subjects (the last ``subjects -
train`` of the fold order), and their difference in differences (the oracles' gap on the preset minus their gap
on the control: what relations could add at best). Results: ``benchmarks/results/synthau_evidence.{json,md}``
(``synthau_evidence_<preset>_r<rate>`` for another preset or ``--occlusion``).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.data.readers import read_dataset
from augcn_pyg.data.synthau.occlusion import PRESETS
from augcn_pyg.data.synthau.oracles import local_evidence, missing_share, oracle_report, read_manifest
from augcn_pyg.data.synthetic import generate_synthau
from benchmarks.common import machine_info, write_json, write_text

RESULTS = Path(__file__).resolve().parent / "results"


def measure(root: Path, relations: str, args) -> dict:
    start = time.perf_counter()
    generate_synthau(root, protocol=args.protocol, relations=relations, subjects=args.subjects,
                     frames_per_video=args.frames_per_video, seed=args.seed, image_size=args.image_size,
                     preset=args.preset, occlusion=args.occlusion, progress=False)
    seconds = time.perf_counter() - start
    frames = read_dataset(args.protocol, root, args.protocol)
    subj = np.array([f.subject for f in frames])
    labels = np.array([f.labels for f in frames], float)
    cover, weak = read_manifest(root, args.protocol, subj, [f.video for f in frames], [f.frame for f in frames])
    visible = local_evidence(cover, weak, args.protocol)
    order = list(dict.fromkeys(subj))  # fold order
    rep = oracle_report(labels, visible, subj, set(order[:args.train]))
    aus = get_protocol(args.protocol).aus
    return {"relations": relations, "frames": len(frames), "render_seconds": round(seconds, 1),
            "missing_share": missing_share(labels, visible),
            "missing_share_occluders": missing_share(labels, local_evidence(cover, None, args.protocol)),
            "occluded_frames": float((cover.max(axis=1) > 0).mean()),
            "per_au_missing": {str(a): missing_share(labels[:, [c]], visible[:, [c]]) for c, a in enumerate(aus)},
            "local_oracle_f1": rep["local_mean"], "relation_oracle_f1": rep["relation_mean"],
            "test_missing_share": rep["missing_share"]}


def markdown(doc: dict) -> str:
    p = doc["parameters"]
    lines = [f"# SynthAU `{p['preset']}`: missing local evidence and oracle bounds", "",
             f"{p['protocol']}, {p['subjects']} subjects x 8 tasks x {p['frames_per_video']} frames, seed {p['seed']}; "
             f"oracles fitted on the first {p['train']} subjects, scored on the rest. Command: `{doc['command']}`.", "",
             "| relations | frames | occurrences without local evidence | of which occluders alone | frames with an "
             "occluder | local oracle F1 | relation oracle F1 | render s |", "|---|---|---|---|---|---|---|---|"]
    gap = {r["relations"]: r["relation_oracle_f1"] - r["local_oracle_f1"] for r in doc["rows"]}
    for r in doc["rows"]:
        lines.append(f"| {r['relations']} | {r['frames']} | {100 * r['missing_share']:.1f} % | "
                     f"{100 * r['missing_share_occluders']:.1f} % | {100 * r['occluded_frames']:.1f} % | "
                     f"{100 * r['local_oracle_f1']:.1f} | {100 * r['relation_oracle_f1']:.1f} | {r['render_seconds']} |")
    if set(gap) == {"realistic", "independent"}:
        lines += ["", f"The oracles' difference in differences: {100 * (gap['realistic'] - gap['independent']):+.1f} F1 "
                  "(relation − local oracle on the preset, minus the same on the control)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--protocol", default="bp4d")
    ap.add_argument("--preset", default="occluded", choices=list(PRESETS))
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--train", type=int, default=5)
    ap.add_argument("--frames-per-video", type=int, default=20)
    ap.add_argument("--image-size", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--occlusion", type=float, default=None, help="override the preset's occluder rate")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where the result files go")
    ap.add_argument("--quick", action="store_true", help="2 subjects x 2 frames (a smoke run)")
    args = ap.parse_args(argv)
    if args.occlusion is not None and not 0 <= args.occlusion <= 1:
        ap.error(f"--occlusion must be in [0, 1], got {args.occlusion:g}")
    if args.quick:
        args.subjects, args.train, args.frames_per_video, args.image_size = 2, 1, 2, 96
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(Path(tmp) / rel, rel, args) for rel in ("realistic", "independent")]
    params = {k: getattr(args, k) for k in ("protocol", "preset", "subjects", "train", "frames_per_video",
                                            "image_size", "seed", "occlusion")}
    variant = (f"_{args.preset}" if args.preset != "occluded" or args.occlusion is not None else "") + (
        f"_r{args.occlusion:g}" if args.occlusion is not None else "")
    command = "python -m benchmarks.synthau_evidence" + (f" --preset {args.preset}" if variant else "") + (
        f" --occlusion {args.occlusion:g}" if args.occlusion is not None else "") + (" --quick" if args.quick else "")
    doc = {"parameters": params, "command": command, "machine": machine_info(), "rows": rows}
    name = "synthau_evidence" + variant + ("_quick" if args.quick else "")
    write_json(args.out / f"{name}.json", doc)
    write_text(args.out / f"{name}.md", markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Writers of small files in the datasets' native label formats (REFERENCE.md, "Native file formats").

The licensed datasets cannot be obtained here, so the tests write miniature copies of their files.
Imported by the tests of this folder as ``import native_formats as native`` (pytest puts the folder on
``sys.path``); a plain module rather than a conftest, so other test files here keep their own fixtures.
"""
from __future__ import annotations

from pathlib import Path

BP4D_AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
DISFA_FILE_AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)


def write_bp4d_csv(path: Path, frames, labels: dict[int, list[int]], header_style: str = "number",
                   uncoded=(3, 8), occlusion: bool = False) -> Path:
    """``{Subject}_{Task}.csv``: frame column, one column per AU (``labels``), plus all-9 columns for
    ``uncoded`` AUs (BP4D carries placeholders for AUs it never codes) and an optional occlusion column."""
    aus = sorted(set(labels) | set(uncoded))
    name = (lambda au: str(au)) if header_style == "number" else (lambda au: f"AU{au}")
    header = ["0" if header_style == "number" else "frame"] + [name(au) for au in aus]
    if occlusion:
        header.append("occlusion")
    lines = [",".join(header)]
    for i, f in enumerate(frames):
        row = [str(f)] + [str(labels[au][i]) if au in labels else "9" for au in aus]
        if occlusion:
            row.append("0")
        lines.append(",".join(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_disfa_subject(root: Path, subject: str, intensities: dict[int, list[int]], first_frame: int = 1) -> Path:
    """``ActionUnit_Labels/SNxxx/SNxxx_au{N}.txt`` with ``frame,intensity`` lines (frames 1-based)."""
    folder = root / subject
    folder.mkdir(parents=True, exist_ok=True)
    for au, values in intensities.items():
        lines = [f"{first_frame + i},{v}" for i, v in enumerate(values)]
        (folder / f"{subject}_au{au}.txt").write_text("\n".join(lines) + "\n")
    return folder


def write_openface_csv(path: Path, au_c: dict[int, list[int]], success: list[int], spaces: bool = True) -> Path:
    """OpenFace 2 output: frame, face_id, timestamp, confidence, success, landmarks, AUxx_r, AUxx_c."""
    n = len(success)
    sp = " " if spaces else ""
    header = ["frame", f"{sp}face_id", f"{sp}timestamp", f"{sp}confidence", f"{sp}success"]
    header += [f"{sp}x_{i}" for i in range(68)] + [f"{sp}y_{i}" for i in range(68)]
    header += [f"{sp}AU{au:02d}_r" for au in sorted(au_c)] + [f"{sp}AU{au:02d}_c" for au in sorted(au_c)]
    lines = [",".join(header)]
    for i in range(n):
        row = [str(i + 1), "0", f"{i * 0.033:.3f}", "0.98" if success[i] else "0", str(success[i])]
        row += [f"{100 + j:.1f}" for j in range(68)] + [f"{200 + j:.1f}" for j in range(68)]
        row += [f"{au_c[au][i] * 2.5:.2f}" for au in sorted(au_c)] + [f"{au_c[au][i]:.1f}" for au in sorted(au_c)]
        lines.append(", ".join(row) if spaces else ",".join(row))
    path.write_text("\n".join(lines) + "\n")
    return path


# short names used by the tests: native.bp4d_csv(...), native.disfa_subject(...), native.openface_csv(...)
bp4d_csv, disfa_subject, openface_csv = write_bp4d_csv, write_disfa_subject, write_openface_csv

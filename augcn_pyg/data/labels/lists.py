"""ME-GraphAU list files: ``*_label_fold*.txt`` rows in the protocol's AU order, and the sibling
``*_img_path_fold*.txt`` image list that gives each row its subject, video and frame."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from augcn_pyg.core.aus import Protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.labels.common import LabelSet, binary_labels, read_numeric, row_numbers, strings


def list_image_file(label_file: Path) -> Path:
    """``BP4D_train_label_fold1.txt`` -> ``BP4D_train_img_path_fold1.txt`` (its sibling image list)."""
    return label_file.with_name(label_file.name.replace("label", "img_path", 1))


def read_image_list(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig") as fh:
        return [ln.strip() for ln in fh if ln.strip()]


def image_path_keys(paths: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative image paths -> (subject, video, frame): ``F001/T1/2440.jpg`` -> F001, T1, 2440;
    ``SN001/12.png`` -> SN001, SN001, 12. Frames that are not numbers get their 1-based row number."""
    n = len(paths)
    subject, video = np.empty(n, dtype=object), np.empty(n, dtype=object)
    frame = row_numbers(n)
    for i, p in enumerate(paths):
        parts = Path(p.replace("\\", "/")).parts
        subject[i] = parts[0] if len(parts) > 1 else "unknown"
        video[i] = parts[1] if len(parts) > 2 else subject[i]
        stem = Path(parts[-1]).stem
        if stem.isdigit():
            frame[i] = int(stem)
    return subject.astype(str), video.astype(str), frame


def read_list(path: Path, protocol: Protocol, intensity_threshold: int = 2) -> LabelSet:
    """ME-GraphAU ``*_label_fold*.txt``: rows of C space-separated 0/1 in the protocol's AU order."""
    if path.is_dir():
        raise InputError(f"list format needs a *_label_fold*.txt file, not a folder: {path}")
    data = read_numeric(path, delimiter=None, skiprows=0)
    if data.size == 0:
        raise InputError(f"no labelled frames found: {path}")
    if data.shape[1] != protocol.num_aus:
        raise InputError(f"label rows have {data.shape[1]} columns but protocol {protocol.name!r} scores "
                         f"{protocol.num_aus} AUs {list(protocol.aus)}: {path}")
    labels = binary_labels(data, path, [f"AU{a}" for a in protocol.aus])
    n = len(labels)
    img_file = list_image_file(path)
    if img_file != path and img_file.is_file():
        paths = read_image_list(img_file)
        if len(paths) != n:
            raise InputError(f"{img_file.name} lists {len(paths)} images but the label file has {n} rows: {path}")
        subject, video, frame = image_path_keys(paths)
    else:
        subject, video, frame = strings("unknown", n), strings("unknown", n), row_numbers(n)
    return LabelSet(tuple(protocol.aus), labels, subject, video, frame, f"list:{path}")

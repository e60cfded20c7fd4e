"""The AU gallery: for each rendered AU, one face at rest beside the same face at intensity 2 and 4."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from augcn_pyg.core.aus import au_name
from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import atomic_path
from augcn_pyg.data.synthau.face import sample_identity
from augcn_pyg.data.synthau.prototypes import RENDERED_AUS
from augcn_pyg.data.synthau.render import FaceRenderer

LEVELS = (0, 2, 4)
#: what the gallery can be written as: a raster sheet, so PNG only (no vector format would hold more)
GALLERY_FORMATS = (".png",)


def render_gallery(out_path, seed: int = 3, size: int = 200, columns: int = 3, aus=RENDERED_AUS) -> Path:
    """Write a PNG grid (``columns`` AUs per row, each AU as neutral | 2 | 4, labelled); returns the path.

    Any suffix but ``.png`` is refused before anything is drawn, as the other plotting commands do."""
    out_path = Path(out_path)
    if out_path.suffix.lower() not in GALLERY_FORMATS:
        raise InputError(f"{out_path}: unsupported picture format {out_path.suffix or '(none)'!r} for the gallery; "
                         f"use {', '.join(GALLERY_FORMATS)}")
    renderer = FaceRenderer(sample_identity(np.random.default_rng(seed)), size)
    crop = (int(0.12 * size), int(0.06 * size), int(0.88 * size), int(0.96 * size))  # the face
    cw, ch = crop[2] - crop[0], crop[3] - crop[1]
    label_h, pad = 18, 10
    rows = -(-len(aus) // columns)
    cell_w = len(LEVELS) * cw + pad
    sheet = Image.new("RGB", (columns * cell_w + pad, rows * (ch + label_h + pad) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.load_default(size=13)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    for k, au in enumerate(aus):
        x0 = pad + (k % columns) * cell_w
        y0 = pad + (k // columns) * (ch + label_h + pad)
        draw.text((x0, y0), f"{au_name(au)}  (0 | 2 | 4)", fill=(0, 0, 0), font=font)
        for j, level in enumerate(LEVELS):
            img, _ = renderer.render({au: float(level)} if level else {})
            sheet.paste(Image.fromarray(img).crop(crop), (x0 + j * cw, y0 + label_h))
    try:
        with atomic_path(out_path) as tmp:
            sheet.save(tmp, format="PNG", optimize=True)
    except OSError as exc:
        raise InputError(f"cannot write the gallery {out_path}: {exc.strerror or exc}") from None
    return out_path

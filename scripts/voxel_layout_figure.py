#!/usr/bin/env python
"""Picture of the layout check: rendered views next to the projected voxel hulls.

    python scripts/voxel_layout_figure.py [--out docs/voxel_layout.png] [--h5 FILE]

Rows: the asymmetric probe object and one generated object per chosen category (or the
first objects of ``--h5``). For views 0, 3, 6, ..., 21 each cell shows the stored RGB
(inverted back for display) with the alpha mask outline in green and the projection of
the voxel centres (softrec.data.layout_check) in magenta; the IoU is in the title row.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from softrec.data.layout_check import hull_mask_ious, probe_parts, voxel_hull_image
from softrec.data.synthetic import (
    SyntheticObject,
    generate_object,
    merge,
    normalize,
    object_arrays,
    object_rng,
)

VIEWS = range(0, 24, 3)
ZOOM = 3
CATEGORIES = ["02691156", "03001627", "04379243", "02958343", "03636649", "04530566"]


def _outline(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:-1, 1:-1] &= mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    return mask & ~inner


def cell(images: np.ndarray, vox: np.ndarray, view: int) -> np.ndarray:
    rgba = images[view].astype(np.float64) / 255
    alpha = rgba[3]
    # stored = a·(1 − rgb): recover rgb where covered, white background.
    rgb = np.where(alpha[None] > 0, (alpha[None] - rgba[:3]) / np.maximum(alpha, 1e-6), 1.0)
    rgb = np.clip(rgb, 0, 1).transpose(1, 2, 0)
    hull = voxel_hull_image(vox, view)
    out = rgb.copy()
    out[hull] = 0.6 * out[hull] + 0.4 * np.array([1.0, 0.0, 1.0])
    out[_outline(alpha >= 0.5)] = [0.0, 0.8, 0.0]
    return (np.kron(out, np.ones((ZOOM, ZOOM, 1))) * 255).astype(np.uint8)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="voxel_layout.png")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rows = []
    v, f, c = merge(probe_parts())
    rows.append(
        ("probe", SyntheticObject(normalize(v).astype(np.float32), f, c.astype(np.float32)))
    )
    for s in CATEGORIES:
        rows.append((s, generate_object(s, object_rng(args.seed, s, 0, 0))))
    size = 64 * ZOOM
    label_h = 14
    canvas = Image.new("RGB", (size * len(VIEWS), (size + label_h) * len(rows)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (name, obj) in enumerate(rows):
        images, vox = object_arrays(obj)
        ious = hull_mask_ious(images, vox)
        for k, view in enumerate(VIEWS):
            x, y = k * size, r * (size + label_h)
            draw.text((x + 2, y), f"{name} v{view} IoU {ious[view]:.2f}", fill="black")
            canvas.paste(Image.fromarray(cell(images, vox, view)), (x, y + label_h))
        print(f"{name}: hull/mask IoU min {ious.min():.3f} mean {ious.mean():.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

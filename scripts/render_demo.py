#!/usr/bin/env python
"""Render a mesh with color and lighting: a turntable GIF plus a PNG of the first frame.

    python scripts/render_demo.py                       # the icosphere, colored by position
    python scripts/render_demo.py path/to/mesh.obj --frames 24 --size 256 --out out/demo

The mesh is centred and scaled into the unit cube's [-0.5, 0.5] range, colored per vertex
by its position, and rendered with the official look-at camera (distance 2.732,
elevation 30°, viewing angle 15°) and softmax color aggregation.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import softrec
from softrec.render import SoftRenderer, cameras


def normalize(vertices: torch.Tensor) -> torch.Tensor:
    """Centre the bounding box at the origin and fit its longest side to 1."""
    lo, hi = vertices.min(0).values, vertices.max(0).values
    scale = float((hi - lo).max())
    if scale <= 0:
        raise ValueError("the mesh has no extent (all vertices coincide)")
    return (vertices - (lo + hi) / 2) / scale


def to_rgba8(image: torch.Tensor) -> np.ndarray:
    """(4, S, S) float in [0, 1] → (S, S, 4) uint8."""
    return (image.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mesh", nargs="?", help="mesh file (OBJ, PLY, ...); default: icosphere")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--sigma", type=float, default=1e-6)
    ap.add_argument("--out", default="outputs/render_demo")
    args = ap.parse_args()
    if args.frames < 1 or args.size < 8:
        raise SystemExit("--frames must be >= 1 and --size >= 8")
    if args.mesh:
        vertices, faces = softrec.load_obj(args.mesh)
    else:
        vertices, faces = softrec.icosphere(3, 1.0)
    vertices = normalize(vertices)
    colors = (vertices - vertices.min(0).values) / (
        vertices.max(0).values - vertices.min(0).values + 1e-9
    )
    renderer = SoftRenderer(image_size=args.size, viewing_angle=15, texture_type="vertex",
                            sigma=args.sigma, anti_aliasing=True, fill_back=True,
                            light_directions=(0.0, -1.0, -0.5))  # fmt: skip
    n = args.frames
    eyes = cameras.eye_from_angles(torch.full((n,), 2.732), torch.full((n,), 30.0),
                                   -torch.arange(n) * 360.0 / n)  # fmt: skip
    with torch.no_grad():
        frames = torch.cat([
            renderer(vertices[None], faces, colors[None], eyes=eyes[i : i + 1]) for i in range(n)
        ])  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(to_rgba8(frame)) for frame in frames]
    for suffix, save in ((".png", lambda p: images[0].save(p, format="PNG")),
                         (".gif", lambda p: _save_gif(images, p))):  # fmt: skip
        fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=suffix)
        os.close(fd)
        save(tmp)
        os.replace(tmp, out.with_suffix(suffix))
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.gif')} ({n} frames)")


def _save_gif(images: list[Image.Image], path: str) -> None:
    # GIF has no alpha channel: composite over white.
    frames = []
    for im in images:
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        frames.append(Image.alpha_composite(bg, im).convert("RGB"))
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)


if __name__ == "__main__":
    main()

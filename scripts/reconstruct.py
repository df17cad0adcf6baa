"""Reconstruct meshes from images with a trained checkpoint.

    python scripts/reconstruct.py CKPT image1.png [image2.png ...] [--out out/] [--gif]

Each image (PNG with alpha; any size, resized to the model's 64×64 input) gives
``<out>/<stem>.{obj,ply,glb}`` (vertex colors for the "full" model; ``--out`` defaults
to ``outputs/reconstruct``) and, with ``--gif``, a turntable ``<out>/<stem>.gif`` rendered
with the project's soft renderer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

import softrec
from softrec.data.conventions import CAMERA_DISTANCE, ELEVATION_DEG, IMAGE_SIZE, NUM_VIEWS
from softrec.files import save_gif
from softrec.image_encoding import straight_to_stored
from softrec.mesh import MESH_FORMATS, face_to_vertex_colors, save_mesh
from softrec.render import render_turntable, turntable_eyes
from softrec.tasks.common import load_module
from softrec.tasks.errors import ConfigError


def load_image(path: Path, size: int = IMAGE_SIZE) -> torch.Tensor:
    """PNG (RGBA, or RGB with a white background) → (4, S, S) in the dataset convention
    (RGB stored inverted: ``α·(1 − rgb)``)."""
    from PIL import Image

    if not path.is_file():
        raise ConfigError(f"image not found: {path}")
    img = Image.open(path)
    if img.mode != "RGBA":
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
        alpha = (rgb.min(axis=2) < 0.99).astype(np.float32)  # non-white = object
        arr = np.concatenate([rgb, alpha[..., None]], 2)
    else:
        arr = np.asarray(img, dtype=np.float32) / 255.0
    t = torch.from_numpy(arr).permute(2, 0, 1)[None]
    t = torch.nn.functional.interpolate(t, size=(size, size), mode="area")[0]
    alpha = t[3:4]
    return straight_to_stored(t[:3], alpha)


def turntable(
    vertices: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor | None,
    renderer_cfg: dict, frames: int = NUM_VIEWS, size: int = 128,
) -> torch.Tensor:
    """Render (V, 3) / (F, 3) with per-face colors (F, 3) around the object → (N, 4, S, S)."""
    opts = {k: v for k, v in renderer_cfg.items() if not k.startswith("_")}
    opts.update(image_size=size, sigma=1e-5, dist_eps=1e-4, backend=opts.get("backend"))
    renderer = softrec.SoftRenderer(**opts)
    tex = colors if colors is not None else torch.full((faces.shape[0], 3), 0.8)
    eyes = turntable_eyes(frames, CAMERA_DISTANCE, ELEVATION_DEG)
    return render_turntable(renderer, vertices, faces, tex[:, None, :], eyes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt", type=Path, help="checkpoint written by train.py")
    ap.add_argument("images", type=Path, nargs="+", help="PNG image(s), alpha = object mask")
    ap.add_argument("--out", type=Path, default=Path("outputs/reconstruct"),
                    help="output folder (default: outputs/reconstruct)")
    ap.add_argument("--gif", action="store_true", help="also write a turntable GIF")
    ap.add_argument("--gif-size", type=int, default=128)
    ap.add_argument("--frames", type=int, default=NUM_VIEWS)
    args = ap.parse_args(argv)
    try:
        module, _ = load_module(args.ckpt)
        images = torch.stack([load_image(p) for p in args.images])
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    vertices, colors = module.net(images)
    faces = module.net.faces
    renderer_cfg = (module.run_config or {}).get("model", {}).get("renderer", {})
    for i, path in enumerate(args.images):
        stem = args.out / path.stem
        vc = face_to_vertex_colors(colors[i], faces, vertices.shape[1]) if colors is not None \
            else None
        for suffix in MESH_FORMATS:
            print(f"wrote {save_mesh(f'{stem}{suffix}', vertices[i], faces, vertex_colors=vc)}")
        if args.gif:
            frames = turntable(vertices[i], faces, None if colors is None else colors[i],
                               renderer_cfg, args.frames, args.gif_size)  # fmt: skip
            save_gif(f"{stem}.gif", frames)
            print(f"wrote {stem}.gif")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reconstruct meshes from images with a trained checkpoint.

    python scripts/reconstruct.py CKPT image1.png [photo.jpg ...] [--out out/] [--gif]
        [--mask mask1.png ...] [--crop 0.1] [--tolerance 0.1]

Any image PIL reads. The object's mask comes from ``--mask`` files (one per image), else
the image's alpha channel, else a uniform background (the border's colour); non-square
images are padded, then everything is resized to the model's 64×64 input; each step is
printed (rules: ``softrec.data.photos``). Each image gives ``<out>/<stem>.{obj,ply,glb}``
(vertex colors for the "full" model; ``--out`` defaults to ``outputs/reconstruct``), the prepared
input ``<out>/<stem>_input.png`` and, with ``--gif``, a turntable ``<out>/<stem>.gif``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import softrec
from softrec.data.conventions import CAMERA_DISTANCE, ELEVATION_DEG, NUM_VIEWS
from softrec.data.photos import BACKGROUND_TOLERANCE, ImageInputError, prepare_image
from softrec.files import save_gif, save_png
from softrec.image_encoding import stored_to_straight
from softrec.mesh import MESH_FORMATS, face_to_vertex_colors, save_mesh
from softrec.render import render_turntable, turntable_eyes
from softrec.tasks.common import load_module
from softrec.tasks.errors import ConfigError


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
    ap.add_argument("images", type=Path, nargs="+", help="image file(s)")
    ap.add_argument("--mask", type=Path, nargs="+", default=None,
                    help="mask file(s), one per image (white = object)")
    ap.add_argument("--crop", type=float, default=None, metavar="MARGIN",
                    help="crop to the object's box grown by MARGIN x its size (e.g. 0.1)")
    ap.add_argument("--tolerance", type=float, default=BACKGROUND_TOLERANCE,
                    help="colour tolerance of a uniform background (default %(default)s)")
    ap.add_argument("--out", type=Path, default=Path("outputs/reconstruct"),
                    help="output folder (default: outputs/reconstruct)")
    ap.add_argument("--gif", action="store_true", help="also write a turntable GIF")
    ap.add_argument("--gif-size", type=int, default=128)
    ap.add_argument("--frames", type=int, default=NUM_VIEWS)
    args = ap.parse_args(argv)
    try:
        if args.mask is not None and len(args.mask) != len(args.images):
            raise ConfigError(f"--mask: {len(args.mask)} masks for {len(args.images)} images")
        masks = args.mask or [None] * len(args.images)
        prepared = [prepare_image(p, mask_path=m, tolerance=args.tolerance, crop_margin=args.crop)
                    for p, m in zip(args.images, masks, strict=True)]  # fmt: skip
        module, _ = load_module(args.ckpt)
    except (ConfigError, ImageInputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path, prep in zip(args.images, prepared, strict=True):
        print(f"{path}: {'; '.join(prep.notes)}")
    images = torch.stack([prep.image for prep in prepared])
    with torch.no_grad():
        vertices, colors = module.net(images)
    faces = module.net.faces
    renderer_cfg = (module.run_config or {}).get("model", {}).get("renderer", {})
    for i, path in enumerate(args.images):
        stem = args.out / path.stem
        vc = face_to_vertex_colors(colors[i], faces, vertices.shape[1]) if colors is not None \
            else None
        for suffix in MESH_FORMATS:
            print(f"wrote {save_mesh(f'{stem}{suffix}', vertices[i], faces, vertex_colors=vc)}")
        save_png(f"{stem}_input.png", torch.cat([stored_to_straight(images[i]), images[i, 3:]]))
        print(f"wrote {stem}_input.png")
        if args.gif:
            frames = turntable(vertices[i], faces, None if colors is None else colors[i],
                               renderer_cfg, args.frames, args.gif_size)  # fmt: skip
            save_gif(f"{stem}.gif", frames)
            print(f"wrote {stem}.gif")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reconstruct meshes from images with a trained checkpoint.

    python scripts/reconstruct.py CKPT image1.png [image2.png ...] [--out out/] [--gif]

Each image (PNG with alpha; any size, resized to the model's 64×64 input) gives
``<out>/<stem>.obj`` (vertex colors for the "full" model) and, with ``--gif``, a turntable
``<out>/<stem>.gif`` rendered with the project's soft renderer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

import softrec
from softrec.data.conventions import CAMERA_DISTANCE, ELEVATION_DEG, IMAGE_SIZE, NUM_VIEWS
from softrec.models.evaluation import _face_to_vertex_colors
from softrec.models.io import _atomic
from softrec.models.pipeline import ConfigError, load_net


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
    return torch.cat([alpha * (1.0 - t[:3]), alpha], 0)


@torch.no_grad()
def turntable(
    vertices: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor | None,
    renderer_cfg: dict, frames: int = NUM_VIEWS, size: int = 128,
) -> list[np.ndarray]:
    """Render (V, 3) / (F, 3) with per-face colors (F, 3) around the object → RGB frames."""
    opts = {k: v for k, v in renderer_cfg.items() if not k.startswith("_")}
    opts.update(image_size=size, sigma=1e-5, dist_eps=1e-4, backend=opts.get("backend"))
    renderer = softrec.SoftRenderer(**opts)
    tex = (colors if colors is not None else torch.full((faces.shape[0], 3), 0.8))
    az = torch.arange(frames, dtype=torch.float32) * (360.0 / frames)
    eyes = softrec.eye_from_angles(torch.full_like(az, CAMERA_DISTANCE),
                                   torch.full_like(az, ELEVATION_DEG), az)  # fmt: skip
    out = []
    for i in range(frames):
        img = renderer(vertices[None], faces, tex[None, :, None, :], eyes=eyes[i : i + 1])[0]
        rgb = img[:3] + (1.0 - img[3:4])  # over white
        out.append((rgb.clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt", type=Path, help="checkpoint written by train.py")
    ap.add_argument("images", type=Path, nargs="+", help="PNG image(s), alpha = object mask")
    ap.add_argument("--out", type=Path, default=Path("reconstructions"))
    ap.add_argument("--gif", action="store_true", help="also write a turntable GIF")
    ap.add_argument("--gif-size", type=int, default=128)
    ap.add_argument("--frames", type=int, default=NUM_VIEWS)
    args = ap.parse_args(argv)
    try:
        module, _ = load_net(args.ckpt)
        images = torch.stack([load_image(p) for p in args.images])
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    vertices, colors = module.net(images)
    faces = module.net.faces
    renderer_cfg = (module.run_config or {}).get("model", {}).get("renderer", {})
    for i, path in enumerate(args.images):
        stem = args.out / path.stem
        vc = _face_to_vertex_colors(colors[i], faces, vertices.shape[1]) if colors is not None \
            else None
        softrec.save_obj(f"{stem}.obj", vertices[i], faces, vertex_colors=vc)
        print(f"wrote {stem}.obj")
        if args.gif:
            from PIL import Image

            frames = turntable(vertices[i], faces, None if colors is None else colors[i],
                               renderer_cfg, args.frames, args.gif_size)  # fmt: skip
            pil = [Image.fromarray(f) for f in frames]

            def write(fh, pil=pil):
                pil[0].save(fh, format="GIF", save_all=True, append_images=pil[1:],
                            duration=80, loop=0)  # fmt: skip

            _atomic(f"{stem}.gif", write)
            print(f"wrote {stem}.gif")
    return 0


if __name__ == "__main__":
    sys.exit(main())

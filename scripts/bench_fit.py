#!/usr/bin/env python
"""Benchmark multi-view mesh fitting: the official deformation demo's recipe against
softrec's defaults, scored by hard-silhouette IoU against the true mesh.

    python scripts/bench_fit.py                          # spot the cow, both recipes
    python scripts/bench_fit.py --mesh path/to/mesh.obj --recipes softrec --picture docs/fit.png

Targets are rendered from a real mesh (centred, longest side 1): 120 training views
(elevations −60…60° in 30° steps × 24 azimuths, 64 px, distance 2.732, viewing angle 15°,
soft anti-aliased alpha) and 48 held-out views in between (elevations ±15°, ±45°,
azimuths offset by 7.5°). Every fit is scored in both sets by a renderer-independent
point-in-triangle test (:func:`softrec.fit.hard_silhouettes`): per-view IoU of the fit's
hard silhouette against the true mesh's. Prints a Markdown table (mean/min IoU, wall time).

The official demo deforms a Meshlab-remeshed sphere of 1352 vertices / 2700 faces scaled
by 0.5. An icosphere cannot have 1352 vertices; the stand-in here is a spherified cube
with 15×15 quads per side (equal-angle mapping, each quad split in two): exactly 1352
vertices and 2700 faces, nearly uniform like the remeshed sphere.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

import softrec
from softrec.files import atomic_write_text, save_png
from softrec.fit import (
    DeformableMesh,
    FitOptions,
    ViewCameras,
    fit_mesh,
    mesh_silhouettes,
    silhouette_iou,
)
from softrec.render import RasterOptions

SHARED_MESHES = Path(__file__).resolve().parents[2] / "shared" / "meshes"
IMAGE_SIZE = 64
DISTANCE = 2.732  # the dataset's camera distance (docs/conventions.md §3)
VIEWING_ANGLE = 15.0
TRAIN_ELEVATIONS = (-60.0, -30.0, 0.0, 30.0, 60.0)
TRAIN_AZIMUTHS = 24
HELD_OUT_ELEVATIONS = (-45.0, -15.0, 15.0, 45.0)
HELD_OUT_AZIMUTHS = 12
TARGET_SIGMA = 1e-5  # targets: nearly hard edges, anti-aliased (soft) alpha

#: The official deformation demo: 2000 Adam steps (lr 0.01, betas 0.5/0.99) on all views,
#: σ 1e-4 throughout, λ_lap 0.03, λ_flat 3e-4, fill_back, no subdivision.
OFFICIAL = FitOptions(iterations=2000, lr=0.01, betas=(0.5, 0.99), views_per_step=None,
                      sigma_start=1e-4, sigma_end=1e-4, lambda_laplacian=0.03,
                      lambda_flatten=3e-4, subdivide_at=(), fill_back=True)  # fmt: skip


def cube_sphere(n: int, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Spherified cube, n×n quads per side, equal-angle mapping: 6n² + 2 vertices,
    12n² faces wound counter-clockwise seen from outside."""
    t = np.tan(np.linspace(-np.pi / 4, np.pi / 4, n + 1))
    points, faces = [], []
    for axis in range(3):
        for side in (-1.0, 1.0):
            a, b = np.meshgrid(t, t, indexing="ij")
            p = np.empty((n + 1, n + 1, 3))
            p[..., axis] = side
            p[..., (axis + 1) % 3], p[..., (axis + 2) % 3] = a, b
            base = sum(len(q) for q in points)
            points.append(p.reshape(-1, 3))
            idx = base + np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
            q00, q10, q01, q11 = idx[:-1, :-1], idx[1:, :-1], idx[:-1, 1:], idx[1:, 1:]
            tri = np.concatenate([np.stack([q00, q10, q11], -1).reshape(-1, 3),
                                  np.stack([q00, q11, q01], -1).reshape(-1, 3)])  # fmt: skip
            faces.append(tri if side > 0 else tri[:, ::-1])
    v = np.concatenate(points)
    f = np.concatenate(faces)
    # merge the points shared by neighbouring sides
    uniq, inverse = np.unique(np.round(v, 9), axis=0, return_inverse=True)
    v = uniq / np.linalg.norm(uniq, axis=1, keepdims=True) * radius
    return torch.from_numpy(v).float(), torch.from_numpy(inverse.reshape(-1)[f]).long()


def load_target_mesh(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    vertices, faces = softrec.load_obj(path)
    lo, hi = vertices.min(0).values, vertices.max(0).values
    return (vertices - (lo + hi) / 2) / float((hi - lo).max()), faces


def view_cameras(elevations, azimuths: int, offset: float) -> ViewCameras:
    el = torch.tensor(elevations).repeat_interleave(azimuths)
    az = (torch.arange(azimuths, dtype=torch.float32) * 360 / azimuths + offset).repeat(
        len(elevations)
    )
    return ViewCameras.from_angles(torch.full_like(el, DISTANCE), el, az, VIEWING_ANGLE)


def render_targets(vertices, faces, cams: ViewCameras) -> torch.Tensor:
    """(N, 4, S, S) RGBA targets: white object, anti-aliased soft alpha."""
    renderer = cams.renderer(RasterOptions(image_size=IMAGE_SIZE, sigma=TARGET_SIGMA),
                             anti_aliasing=True)  # fmt: skip
    with torch.no_grad():
        alpha = torch.cat([cams.render(renderer, vertices[None], faces, None, torch.tensor([i]))
                           for i in range(len(cams))])[:, 3:4]  # fmt: skip
    return torch.cat([torch.ones_like(alpha).expand(-1, 3, -1, -1), alpha], 1)


def score(vertices, faces, truth: torch.Tensor, cams: ViewCameras) -> torch.Tensor:
    return silhouette_iou(mesh_silhouettes(vertices, faces, cams, IMAGE_SIZE), truth)


def comparison_picture(path: Path, targets, fit_masks, views) -> None:
    """Target masks (top row) over the fit's hard silhouettes (bottom row)."""
    top = torch.cat([targets[i, 3] for i in views], 1)
    bottom = torch.cat([fit_masks[i].float() for i in views], 1)
    save_png(path, torch.cat([top, bottom], 0)[None])


def overrides(pairs: list[str]) -> dict:
    """``["iterations=900", "subdivide_at=[0.4]"]`` → FitOptions keyword arguments."""
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        parsed = json.loads(value)
        out[key] = tuple(parsed) if isinstance(parsed, list) else parsed
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mesh", type=Path, default=SHARED_MESHES / "spot.obj")
    ap.add_argument("--recipes", default="official,softrec",
                    help="comma-separated: official, softrec")  # fmt: skip
    ap.add_argument("--iterations-scale", type=float, default=1.0,
                    help="multiply every recipe's iterations (quick checks)")  # fmt: skip
    ap.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override FitOptions fields of the softrec recipe (JSON values)",
    )
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    ap.add_argument("--picture", type=Path, help="write a target-vs-fit PNG of softrec's fit")
    args = ap.parse_args(argv)
    if not args.mesh.is_file():
        print(f"error: mesh not found: {args.mesh}", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    vertices, faces = load_target_mesh(args.mesh)
    train = view_cameras(TRAIN_ELEVATIONS, TRAIN_AZIMUTHS, 0.0)
    held = view_cameras(HELD_OUT_ELEVATIONS, HELD_OUT_AZIMUTHS, 180.0 / TRAIN_AZIMUTHS)
    targets = render_targets(vertices, faces, train)
    truth_train = mesh_silhouettes(vertices, faces, train, IMAGE_SIZE)
    truth_held = mesh_silhouettes(vertices, faces, held, IMAGE_SIZE)
    recipes = {
        "official": (OFFICIAL, lambda: DeformableMesh(*cube_sphere(15, 0.5), bound=1.0)),
        "softrec": (FitOptions(**overrides(args.set)), None),
    }
    rows = []
    for name in args.recipes.split(","):
        options, make_mesh = recipes[name]
        steps = max(1, round(options.iterations * args.iterations_scale))
        options = replace(options, iterations=steps)
        result = fit_mesh(targets, train, options, make_mesh() if make_mesh else None)
        iou_train = score(result.vertices, result.faces, truth_train, train)
        iou_held = score(result.vertices, result.faces, truth_held, held)
        rows.append({"recipe": name, "vertices": result.vertices.shape[0],
                     "iterations": options.iterations, "seconds": result.seconds,
                     "train_mean": float(iou_train.mean()), "train_min": float(iou_train.min()),
                     "held_mean": float(iou_held.mean()), "held_min": float(iou_held.min()),
                     "options": asdict(options)})  # fmt: skip
        print(f"{name}: {rows[-1]['train_mean']:.4f} / {rows[-1]['held_mean']:.4f} "
              f"in {result.seconds:.0f} s", file=sys.stderr, flush=True)  # fmt: skip
        if args.picture and name == "softrec":
            fit_masks = mesh_silhouettes(result.vertices, result.faces, train, IMAGE_SIZE)
            comparison_picture(args.picture, targets, fit_masks, range(0, 120, 15))
    print(f"\nmesh {args.mesh.name}, {len(train)} training / {len(held)} held-out views, "
          f"{IMAGE_SIZE} px; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}\n")  # fmt: skip
    print(
        "| recipe | vertices | steps | IoU train mean | min | IoU held-out mean | min | wall time |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['recipe']} | {r['vertices']} | {r['iterations']} | {r['train_mean']:.4f} "
              f"| {r['train_min']:.4f} | {r['held_mean']:.4f} | {r['held_min']:.4f} "
              f"| {r['seconds']:.0f} s |")  # fmt: skip
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Fit a mesh to silhouettes (and colors) seen from many calibrated views.

    python scripts/fit_mesh.py images.npy --cameras cameras.npy [--out DIR] [--colors]
    python scripts/fit_mesh.py views/ [--cameras views/cameras.json] [--tensorboard]

Targets: a ``.npy`` of RGBA images, (N, H, W, 4) or (N, 4, H, W), uint8 or float in
[0, 1], or a folder of RGBA PNG files. Images are square; alpha is the object's mask,
RGB straight (as stored in PNG). Cameras, one per image, in the same order:

* ``.npy``: (N, 3) camera positions looking at the origin with +y up
  (``--camera-format angles``: rows of distance, elevation, azimuth in degrees, as the
  official demo stores them), or (N, 3, 4) projection matrices ``P = K [R | t]`` in pixels
  (u to the right, v upwards) for images of ``--orig-size`` pixels (default: the
  targets' size);
* ``.json``: an object with one of ``"eyes"`` (N×3), ``"angles"`` (N×3: distance,
  elevation, azimuth) or ``"P"`` (N×3×4), and optionally ``"viewing_angle"`` (half field
  of view in degrees, default 15), ``"orig_size"`` and, for a PNG folder, ``"images"``
  (file names in camera order; default: the folder's ``*.png`` sorted by name).

A PNG folder without ``--cameras`` uses its ``cameras.json`` (or ``cameras.npy``).

Writes to ``--out`` (default ``outputs/fit/<name>_<time>/``): ``mesh.obj`` and
``mesh.ply`` (vertex colors with ``--colors``), ``turntable.gif``, ``comparison.png``
(targets above the fit, up to 8 views), ``iou.json`` and ``iou.csv`` (per-view IoU of
the fit's hard silhouette against the target mask, alpha > 0.5) and, with
``--tensorboard``, the losses under ``tensorboard/``. Bad input stops with one
``error:`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import time
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from softrec.files import atomic_write, atomic_write_text, save_gif, save_png
from softrec.fit import (
    MASK_THRESHOLD,
    FitOptions,
    FitResult,
    ViewCameras,
    as_target_images,
    fit_mesh,
    mesh_silhouettes,
    silhouette_iou,
)
from softrec.mesh import save_obj
from softrec.render import (
    CameraOptions,
    RasterOptions,
    SoftRenderer,
    render_turntable,
    turntable_eyes,
)
from softrec.tasks.errors import ConfigError

DEFAULTS = FitOptions()
VIEWING_ANGLE = 15.0  # half field of view of look-at cameras unless the cameras say otherwise
TURNTABLE_ELEVATION = 30.0
TURNTABLE_MARGIN = 1.2  # distance = margin × the distance at which the mesh just fits
COMPARISON_VIEWS = 8
PROGRESS_SECONDS = 0.5  # refresh interval of the progress line


def load_images(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """The target array and, for a PNG folder, the file names in order."""
    if path.is_dir():
        names = sorted(p.name for p in path.glob("*.png"))
        if not names:
            raise ConfigError(f"no PNG files in {path}")
        return _read_pngs(path, names), names
    if not path.is_file():
        raise ConfigError(f"targets not found: {path}")
    if path.suffix != ".npy":
        raise ConfigError(f"targets must be a .npy file or a folder of PNGs, got {path}")
    return _load_npy(path), None


def _read_pngs(folder: Path, names: list[str]) -> np.ndarray:
    from PIL import Image

    images = []
    for name in names:
        file = folder / name
        if not file.is_file():
            raise ConfigError(f"image not found: {file}")
        with Image.open(file) as img:
            if img.mode not in ("RGBA", "LA"):
                raise ConfigError(f"{file} has no alpha channel (the object's mask)")
            images.append(np.asarray(img.convert("RGBA")))
    if len({a.shape for a in images}) > 1:
        raise ConfigError(f"the PNG files in {folder} differ in size")
    return np.stack(images)


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def load_cameras(
    path: Path, args: argparse.Namespace, image_size: int
) -> tuple[ViewCameras, list[str] | None]:
    """Cameras from ``.npy`` or ``.json`` (and the JSON's image order, if it gives one)."""
    if not path.is_file():
        raise ConfigError(f"cameras file not found: {path}")
    orig_size = args.orig_size or image_size
    try:
        if path.suffix == ".json":
            try:
                spec = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path} is not valid JSON: {exc}") from None
            if not isinstance(spec, dict):
                raise ConfigError(f"{path} must hold a JSON object")
            kinds = [k for k in ("eyes", "angles", "P") if k in spec]
            if len(kinds) != 1:
                raise ConfigError(f"{path} needs exactly one of 'eyes', 'angles', 'P'")
            values = np.asarray(spec[kinds[0]], dtype=np.float64)
            angle = float(spec.get("viewing_angle", args.viewing_angle))
            orig_size = int(spec.get("orig_size", orig_size))
            order = spec.get("images")
            return _cameras(values, kinds[0], angle, orig_size, path), order
        if path.suffix != ".npy":
            raise ConfigError(f"cameras must be a .npy or .json file, got {path}")
        values = _load_npy(path).astype(np.float64)
        kind = "P" if values.ndim == 3 else args.camera_format
        return _cameras(values, kind, args.viewing_angle, orig_size, path), None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _cameras(values: np.ndarray, kind: str, angle: float, orig_size: int, path: Path):
    if kind == "P":
        if values.ndim != 3 or values.shape[1:] != (3, 4):
            raise ConfigError(f"{path}: projection matrices must be (N, 3, 4), got {values.shape}")
        return ViewCameras.from_projection(torch.from_numpy(values).float(), orig_size)
    if values.ndim != 2 or values.shape[1] != 3:
        raise ConfigError(f"{path}: cameras must be (N, 3) or (N, 3, 4), got {values.shape}")
    t = torch.from_numpy(values).float()
    if kind == "angles":
        return ViewCameras.from_angles(t[:, 0], t[:, 1], t[:, 2], viewing_angle=angle)
    return ViewCameras.from_eyes(t, viewing_angle=angle)


def load_inputs(args: argparse.Namespace) -> tuple[torch.Tensor, ViewCameras]:
    """Targets and cameras, checked against each other; ConfigError on any problem."""
    images, names = load_images(args.targets)
    camera_path = args.cameras
    if camera_path is None:
        if not args.targets.is_dir():
            raise ConfigError("--cameras is required for .npy targets")
        found = [args.targets / n for n in ("cameras.json", "cameras.npy")]
        camera_path = next((p for p in found if p.is_file()), found[0])
    targets = _targets(images, args.targets)
    cams, order = load_cameras(camera_path, args, targets.shape[-1])
    if order is not None and names is not None:
        missing = sorted(set(order) - set(names))
        if missing:
            raise ConfigError(f"{camera_path} names images that are not in "
                              f"{args.targets}: {missing[:5]}")  # fmt: skip
        targets = _targets(_read_pngs(args.targets, list(order)), args.targets)
    if len(targets) != len(cams):
        raise ConfigError(f"{len(targets)} target images but {len(cams)} cameras "
                          f"({camera_path})")  # fmt: skip
    return targets, cams


def _targets(images: np.ndarray, source: Path) -> torch.Tensor:
    try:
        return as_target_images(images)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


class Progress:
    """One line on stderr: step/total, loss, IoU loss, σ, vertices, ETA."""

    def __init__(self, quiet: bool, writer=None) -> None:
        self.quiet, self.writer = quiet, writer
        self.start = self.last = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def __call__(self, step: int, total: int, record: dict[str, float]) -> None:
        if self.writer is not None:
            for key, value in record.items():
                if key != "step":
                    self.writer.add_scalar(f"fit/{key}", value, step)
        now = time.perf_counter()
        done = step + 1
        if self.quiet:
            return
        if self.tty:  # redraw the line at most every PROGRESS_SECONDS
            if now - self.last < PROGRESS_SECONDS and done < total:
                return
        elif done < total and done % max(total // 10, 1):  # logs: one line per 10 %
            return
        self.last = now
        eta = (now - self.start) / done * (total - done)
        line = (f"step {done}/{total}  loss {record['total']:.4f}  iou-loss {record['iou']:.4f}"
                f"  sigma {record['sigma']:.1e}  vertices {int(record['vertices'])}"
                f"  ETA {int(eta) // 60}m{int(eta) % 60:02d}s")  # fmt: skip
        end = "\n" if done == total or not self.tty else ""
        print(f"\r{line}", end=end, file=sys.stderr, flush=True)


def write_outputs(
    out: Path, result: FitResult, targets: torch.Tensor, cams: ViewCameras,
    options: FitOptions, args: argparse.Namespace,
) -> dict[str, float]:  # fmt: skip
    """Mesh files, turntable, comparison picture and per-view IoU; returns the summary."""
    import trimesh

    v, f, colors = result.vertices, result.faces, result.colors
    save_obj(out / "mesh.obj", v, f, vertex_colors=colors)
    ply = trimesh.Trimesh(v.numpy(), f.numpy(), process=False,
                          vertex_colors=None if colors is None else
                          (colors.numpy() * 255).round().astype(np.uint8))  # fmt: skip
    data = ply.export(file_type="ply")
    atomic_write(out / "mesh.ply", lambda fh: fh.write(data))

    size = targets.shape[-1]
    masks = mesh_silhouettes(v, f, cams, size)
    iou = silhouette_iou(masks, targets[:, 3] > MASK_THRESHOLD)
    summary = {"views": len(iou), "iou_mean": float(iou.mean()), "iou_min": float(iou.min()),
               "seconds": result.seconds, "vertices": int(v.shape[0]), "faces": int(f.shape[0]),
               "final_loss": result.history[-1]["total"]}  # fmt: skip
    record = {**summary, "per_view": [float(x) for x in iou], "options": asdict(options)}
    atomic_write_text(out / "iou.json", json.dumps(record, indent=2) + "\n")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["view", "iou"])
    writer.writerows([i, f"{x:.6f}"] for i, x in enumerate(iou.tolist()))
    atomic_write_text(out / "iou.csv", buf.getvalue())

    # comparison: targets (over white) above the fit rendered in the same views
    views = torch.linspace(0, len(cams) - 1, min(COMPARISON_VIEWS, len(cams))).round().long()
    raster = RasterOptions(image_size=size, sigma=options.sigma_end, texture_type="vertex")
    renderer = cams.renderer(raster, anti_aliasing=True, lighting=colors is None)
    tex = colors if colors is not None else torch.full_like(v, 0.8)
    with torch.no_grad():
        fit = torch.cat([cams.render(renderer, v[None], f, tex[None], views[i : i + 1])
                         for i in range(len(views))])  # fmt: skip
    fit_rgb = fit[:, :3] + (1 - fit[:, 3:4])
    tgt_rgb = targets[views, :3] * targets[views, 3:4] + (1 - targets[views, 3:4])
    grid = torch.cat([torch.cat(list(tgt_rgb), 2), torch.cat(list(fit_rgb), 2)], 1)
    save_png(out / "comparison.png", grid)

    # turntable around the mesh's centre, from a look-at camera that frames all of it
    centred = v - (v.min(0).values + v.max(0).values) / 2
    radius = float(centred.norm(dim=1).max())
    distance = radius / math.sin(math.radians(VIEWING_ANGLE)) * TURNTABLE_MARGIN
    spin = SoftRenderer(RasterOptions(image_size=args.gif_size, sigma=1e-5, texture_type="vertex"),
                        CameraOptions(viewing_angle=VIEWING_ANGLE), anti_aliasing=True,
                        fill_back=True, light_directions=(0.0, -1.0, -0.5))  # fmt: skip
    eyes = turntable_eyes(args.frames, distance, TURNTABLE_ELEVATION)
    save_gif(out / "turntable.gif", render_turntable(spin, centred, f, tex, eyes))
    return summary


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", type=Path, help=".npy of RGBA images, or a folder of PNGs")
    ap.add_argument(
        "--cameras",
        type=Path,
        help=".npy or .json cameras (default for a folder: its cameras.json)",
    )
    ap.add_argument(
        "--camera-format",
        choices=("eyes", "angles"),
        default="eyes",
        help="meaning of an (N, 3) .npy: positions or distance/elevation/azimuth",
    )
    ap.add_argument(
        "--viewing-angle",
        type=float,
        default=VIEWING_ANGLE,
        help="half field of view of position cameras, degrees (default 15)",
    )
    ap.add_argument("--orig-size", type=int, help="image size the P matrices were made for")
    ap.add_argument("--out", type=Path, help="output folder (default outputs/fit/<name>_<time>)")
    ap.add_argument("--colors", action="store_true", help="also fit per-vertex colors")
    ap.add_argument("--iterations", type=int, default=DEFAULTS.iterations)
    ap.add_argument(
        "--views-per-step",
        type=int,
        default=DEFAULTS.views_per_step,
        help="views rendered per step (0: all)",
    )
    ap.add_argument("--lr", type=float, default=DEFAULTS.lr)
    ap.add_argument("--sigma-start", type=float, default=DEFAULTS.sigma_start)
    ap.add_argument("--sigma-end", type=float, default=DEFAULTS.sigma_end)
    ap.add_argument("--template-subdivisions", type=int, default=DEFAULTS.template_subdivisions)
    ap.add_argument(
        "--subdivide-at",
        type=float,
        nargs="*",
        default=DEFAULTS.subdivide_at,
        help="fractions of the run at which the mesh is subdivided",
    )
    ap.add_argument("--lambda-laplacian", type=float, default=DEFAULTS.lambda_laplacian)
    ap.add_argument("--lambda-flatten", type=float, default=DEFAULTS.lambda_flatten)
    ap.add_argument("--seed", type=int, default=DEFAULTS.seed)
    ap.add_argument("--frames", type=int, default=24, help="turntable frames")
    ap.add_argument("--gif-size", type=int, default=128)
    ap.add_argument("--tensorboard", action="store_true", help="log losses to <out>/tensorboard")
    ap.add_argument("--quiet", action="store_true", help="no progress line")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        targets, cams = load_inputs(args)
        options = replace(DEFAULTS, iterations=args.iterations, lr=args.lr,
                          views_per_step=args.views_per_step or None,
                          sigma_start=args.sigma_start, sigma_end=args.sigma_end,
                          template_subdivisions=args.template_subdivisions,
                          subdivide_at=tuple(args.subdivide_at),
                          lambda_laplacian=args.lambda_laplacian,
                          lambda_flatten=args.lambda_flatten, fit_colors=args.colors,
                          seed=args.seed)  # fmt: skip
        if args.frames < 1 or args.gif_size < 8:
            raise ConfigError("--frames must be >= 1 and --gif-size >= 8")
    except ValueError as exc:  # option checks of FitOptions
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = args.out or Path("outputs/fit") / f"{args.targets.stem}_{stamp}"
    writer = None
    if args.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tensorboard"))
    print(f"fitting {len(targets)} views of {targets.shape[-1]} px "
          f"({options.iterations} steps)", file=sys.stderr)  # fmt: skip
    result = fit_mesh(targets, cams, options, callback=Progress(args.quiet, writer))
    summary = write_outputs(out, result, targets, cams, options, args)
    if writer is not None:
        writer.add_scalar("fit/iou_mean", summary["iou_mean"], options.iterations)
        writer.close()
    print(f"IoU (hard silhouettes vs target masks): mean {summary['iou_mean']:.4f}, "
          f"min {summary['iou_min']:.4f} over {summary['views']} views; "
          f"{result.seconds:.0f} s")  # fmt: skip
    print(f"wrote {out}/ (mesh.obj, mesh.ply, turntable.gif, comparison.png, iou.json, iou.csv)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

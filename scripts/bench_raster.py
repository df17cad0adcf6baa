#!/usr/bin/env python
"""Benchmark the soft rasterizer backends side by side on the training workload.

Silhouettes: a jittered 642-vertex icosphere (radius 0.5) seen by the dataset cameras
(distance 2.732, elevation 30°, azimuths 0..345° in 15° steps, viewing angle 15°), 64×64,
σ = 1e-4, dist_eps = 1e-10, prod aggregation; batch B renders; forward and
forward+backward. Color: B = 8, 256×256, per-vertex colors, lighting, softmax.
Prints a Markdown table of medians (ms) and the reference/backend ratio. ``--old REV``
also times the CPU kernel of git revision REV (built from its sources under its own
extension name) in the same run, as backend ``cpu@REV``.

    python scripts/bench_raster.py [--threads 2] [--repeats 5] [--batches 1 16 64 256]
                                   [--old REV]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import platform
import statistics
import subprocess
import tempfile
import time
import types
from pathlib import Path

import torch

import softrec
from softrec.render import SoftRenderer, _ext, cameras, resolve_backend, soft_rasterize

DISTANCE, ELEVATION, VIEW_ANGLE = 2.732, 30.0, 15.0


def silhouette_inputs(batch: int, seed: int = 0) -> torch.Tensor:
    v, f = softrec.icosphere(3, 0.5)
    g = torch.Generator().manual_seed(seed)
    verts = v + 0.01 * torch.randn(batch, *v.shape, generator=g)
    az = (torch.arange(batch) % 24).float() * 15.0
    eye = cameras.eye_from_angles(
        torch.full((batch,), DISTANCE), torch.full((batch,), ELEVATION), az
    )
    return softrec.face_vertices(cameras.perspective(cameras.look_at(verts, eye), VIEW_ANGLE), f)


def timed(fn, repeats: int, warmup: bool = True) -> float:
    if warmup:
        fn()  # JIT build, allocator warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def bench_silhouettes(backend: str, batch: int, repeats: int, device: str) -> tuple[float, float]:
    fv = silhouette_inputs(batch).to(device)
    kw = dict(image_size=64, sigma=1e-4, dist_eps=1e-10, backend=backend)
    target = torch.rand(batch, 64, 64, device=device)

    def fwd():
        with torch.no_grad():
            soft_rasterize(fv, None, **kw)

    def fwd_bwd():
        x = fv.clone().requires_grad_()
        loss = ((soft_rasterize(x, None, **kw)[:, 3] - target) ** 2).sum()
        loss.backward()

    return timed(fwd, repeats), timed(fwd_bwd, repeats)


def bench_color(backend: str, repeats: int, device: str, batch: int = 8) -> tuple[float, float]:
    v, f = softrec.icosphere(3, 0.5)
    verts = v[None].expand(batch, -1, -1).to(device)
    colors = (v[None].expand(batch, -1, -1) + 0.5).clamp(0, 1).to(device)
    r = SoftRenderer(image_size=256, viewing_angle=VIEW_ANGLE, texture_type="vertex",
                     sigma=1e-5, backend=backend)  # fmt: skip
    eyes = cameras.eye_from_angles(
        torch.full((batch,), DISTANCE), torch.full((batch,), ELEVATION), torch.arange(batch) * 45.0
    ).to(device)

    def fwd():
        with torch.no_grad():
            r(verts, f.to(device), colors, eyes=eyes)

    def fwd_bwd():
        x = verts.clone().requires_grad_()
        c = colors.clone().requires_grad_()
        r(x, f.to(device), c, eyes=eyes).sum().backward()

    return timed(fwd, repeats), timed(fwd_bwd, repeats)


def build_cpu_at(rev: str):
    """The CPU extension compiled from the kernel sources of git revision ``rev``."""
    root = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(root)]
    short = subprocess.run([*git, "rev-parse", "--short", rev], check=True, capture_output=True,
                           text=True).stdout.strip()  # fmt: skip
    names = subprocess.run(
        [*git, "ls-tree", "-r", "--name-only", short, "softrec/csrc/common", "softrec/csrc/cpu"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    # a fixed folder whose files keep their times: the cached build is reused next run
    out = Path(tempfile.gettempdir()) / f"softrec_sources_{short}"
    for name in names:
        blob = subprocess.run([*git, "show", f"{short}:{name}"], check=True, capture_output=True)
        path = out / name
        if not path.exists() or path.read_bytes() != blob.stdout:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob.stdout)
    csrc = out / "softrec" / "csrc"
    # revisions before named settings took option lists; their int list may be shorter
    header = (csrc / "common" / "soft_raster_params.h").read_text()
    n_iparams = None
    if "enum IParam {" in header:
        enum = header.split("enum IParam {")[1]
        n_iparams = len(enum.split("IP_COUNT")[0].split(","))
    module = _ext.build_extension(
        f"softrec_raster_cpu_at_{short}",
        [csrc / "cpu" / "soft_raster_cpu.cpp"],
        [csrc / "common", csrc / "cpu"],
        f"the CPU rasterizer at {short}",
        extra_cflags=_ext._CPU_CFLAGS,
        extra_ldflags=["-fopenmp"],
    )
    return short, module if n_iparams is None else _OptionListKernel(module, n_iparams - 1)


class _OptionListKernel:
    """A kernel of a revision that took its settings as a float and an int list (the
    first ``n`` of today's int settings), called with today's named settings."""

    RasterSettings = types.SimpleNamespace

    def __init__(self, module, n: int):
        self.module, self.n = module, n

    def _lists(self, s) -> tuple[list[float], list[int]]:
        floats = [s.near, s.far, s.eps, s.sigma, s.gamma, s.threshold, *s.background]
        ints = [s.image_size, s.dist_func, s.aggr_alpha, s.aggr_rgb, s.texture_type,
                int(s.double_side), s.tile, int(s.for_backward)]  # fmt: skip
        return floats, ints[: self.n]

    def forward(self, fv, tex, settings):
        return self.module.forward(fv, tex, *self._lists(settings))

    def backward(self, *args):
        *rest, settings = args
        return self.module.backward(*rest, *self._lists(settings))


@contextlib.contextmanager
def cpu_module(module):
    """Run the ``cpu`` backend with ``module`` (None: the current sources)."""
    saved = _ext.load("cpu")
    _ext._modules["cpu"] = module or saved
    try:
        yield
    finally:
        _ext._modules["cpu"] = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64, 256])
    ap.add_argument("--reference-repeats", type=int, default=1,
                    help="timed runs of the slow reference (seconds each)")  # fmt: skip
    ap.add_argument("--reference-max-batch", type=int, default=16,
                    help="largest batch the slow dense reference is timed at")  # fmt: skip
    ap.add_argument("--old", metavar="REV",
                    help="also time the CPU kernel of this git revision (same run)")  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    backends = ["reference", "cpu"]
    if torch.cuda.is_available():
        backends.append("cuda")
    backends = [b for b in backends if b == "reference" or
                resolve_backend(torch.device(b if b == "cuda" else "cpu"), b) == b]  # fmt: skip
    modules = {}  # label of a CPU kernel other than the current one -> its module
    if args.old and "cpu" in backends:
        short, modules[f"cpu@{short}"] = build_cpu_at(args.old)
        backends.insert(backends.index("cpu"), f"cpu@{short}")
    simd = {0: "scalar", 1: "SSE2", 2: "AVX2"}.get(getattr(_ext.load("cpu"), "simd_level",
                                                           lambda: 0)(), "?")  # fmt: skip
    print(f"# bench_raster — {datetime.date.today()}, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, {args.threads} threads, "
          f"cpu float32 path: {simd}"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))  # fmt: skip

    def run(backend, fn, *a):
        with cpu_module(modules.get(backend)):
            return fn("cpu" if backend in modules else backend, *a)

    print("\nSilhouettes, 642-vertex sphere, 64×64, σ = 1e-4 (median ms)\n")
    print("| B | backend | forward | forward+backward | reference / backend (fwd+bwd) |")
    print("|---|---|---|---|---|")
    for batch in args.batches:
        ref = None
        for backend in backends:
            if backend == "reference" and batch > args.reference_max_batch:
                continue
            device = "cuda" if backend == "cuda" else "cpu"
            repeats = args.reference_repeats if backend == "reference" else args.repeats
            f, fb = run(backend, bench_silhouettes, batch, repeats, device)
            if backend == "reference":
                ref = fb
            ratio = f"{ref / fb:.0f}×" if ref is not None and backend != "reference" else "—"
            print(f"| {batch} | {backend} | {f:.1f} | {fb:.1f} | {ratio} |", flush=True)
    print("\nColor: B = 8, 256×256, vertex colors, lighting, softmax (median ms)\n")
    print("| backend | forward | forward+backward |")
    print("|---|---|---|")
    for backend in backends:
        if backend == "reference":
            continue
        device = "cuda" if backend == "cuda" else "cpu"
        f, fb = run(backend, bench_color, args.repeats, device)
        print(f"| {backend} | {f:.1f} | {fb:.1f} |", flush=True)


if __name__ == "__main__":
    main()

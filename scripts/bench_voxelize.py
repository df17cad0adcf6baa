#!/usr/bin/env python
"""Benchmark softrec.data.voxelize: a batch of deformed 1280-face icospheres at 32³.

python scripts/bench_voxelize.py [--batch 100] [--repeats 5] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from softrec import icosphere
from softrec.data import voxelize


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, nargs="*", default=[1, torch.get_num_threads()])
    args = p.parse_args()
    v, f = icosphere(3, 0.5)
    g = torch.Generator().manual_seed(0)
    # Template deformed like a network prediction: anisotropic scale plus vertex noise.
    verts = v[None] * (0.6 + 0.4 * torch.rand(args.batch, 1, 3, generator=g))
    verts = verts + 0.03 * torch.randn(args.batch, *v.shape, generator=g)
    voxelize(verts[:2], f, args.resolution)  # warm-up
    for threads in args.threads:
        torch.set_num_threads(threads)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            voxelize(verts, f, args.resolution)
            times.append(time.perf_counter() - start)
        print(
            f"voxelize {args.batch} x {f.shape[0]} faces @ {args.resolution}^3, "
            f"{threads} thread(s): median {statistics.median(times) * 1e3:.0f} ms, "
            f"min {min(times) * 1e3:.0f} ms over {args.repeats}"
        )


if __name__ == "__main__":
    main()

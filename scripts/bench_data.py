#!/usr/bin/env python
"""Benchmark the training loader: samples/s and peak RSS, 0 and 2 workers, on a synthetic
dataset and on a 10× larger copy of it (RSS must not grow with the file). A sample is one
object in two views; timed up to float32 batches in the training process.

    python scripts/bench_data.py [--root /tmp/softrec_bench] [--n-train 80] [--batches 150]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import h5py
import torch
from torch.utils.data import DataLoader

from softrec.data import TwoViewDataset, images_to_float, make_synthetic_dataset
from softrec.data.datasets import collate_batch
from softrec.data.h5format import IMAGES, VOXELS, atomic_h5, create_category, split_path

REPLICAS = 10
OBJECTS_PER_COPY = 64


def _vm_hwm_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def replicate(src: Path, dst: Path, k: int) -> None:
    """Write ``dst`` holding every category of ``src`` repeated ``k`` times (streamed)."""
    if dst.is_file():
        return
    with h5py.File(src, "r") as f, atomic_h5(dst, f"{src.name} x{k} (benchmark)") as out:
        for s in f:
            n = f[s][IMAGES].shape[0]
            g = create_category(out, s, n * k)
            for r in range(k):
                for i in range(0, n, OBJECTS_PER_COPY):
                    j = min(n, i + OBJECTS_PER_COPY)
                    g[IMAGES][r * n + i : r * n + j] = f[s][IMAGES][i:j]
                    g[VOXELS][r * n + i : r * n + j] = f[s][VOXELS][i:j]


def warm_page_cache(path: Path) -> None:
    """Read the file once so that every configuration is timed from the page cache (the
    first pass over a cold file measures the disk instead)."""
    with path.open("rb") as f:
        while f.read(1 << 24):
            pass


def _reset_hwm() -> None:
    """Restart this process's peak-RSS counter (Linux: ``5`` → /proc/self/clear_refs), so
    each configuration reports its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def bench(path: Path, workers: int, batches: int, batch_size: int) -> tuple[float, float]:
    _reset_hwm()
    ds = TwoViewDataset(path)
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        persistent_workers=workers > 0,
        collate_fn=collate_batch,
    )
    it = iter(loader)
    next(it)  # start-up (worker spawn, file open) is not throughput
    start = time.perf_counter()
    n = 0
    for _ in range(batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        images_to_float(batch)  # in the training process, as on_after_batch_transfer does
        n += batch["images_a"].shape[0]
    rate = n / (time.perf_counter() - start)
    rss = _vm_hwm_mib()
    if workers:
        rss = max([rss] + [_vm_hwm_mib(w.pid) for w in it._workers])  # noqa: SLF001
    del it, loader
    return rate, rss


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", default="/tmp/softrec_bench")
    p.add_argument("--n-train", type=int, default=80)
    p.add_argument("--batches", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    torch.set_num_threads(1)
    root = Path(args.root)
    start = time.perf_counter()
    make_synthetic_dataset(root, n_train=args.n_train, n_val=0, n_test=0, progress=False)
    print(f"dataset ready in {time.perf_counter() - start:.0f} s")
    small = split_path(root, "train")
    large = root / f"train_x{REPLICAS}.h5"
    replicate(small, large, REPLICAS)
    for path in (small, large):
        size = path.stat().st_size / 2**20
        objects = len(TwoViewDataset(path))
        warm_page_cache(path)
        for workers in (0, 2):
            rate, rss = bench(path, workers, args.batches, args.batch_size)
            print(
                f"{path.name:>14} ({objects} objects, {size:.0f} MiB): workers={workers}  "
                f"{rate:,.0f} samples/s  peak RSS (largest process) {rss:.0f} MiB"
            )


if __name__ == "__main__":
    main()

"""Build a synthetic ShapeNet-like dataset (train/val/test HDF5 files) in parallel."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm import tqdm

from ..categories import resolve_categories
from ..conventions import FORMAT_VERSION, SPLITS
from ..h5format import IMAGES, VOXELS, atomic_h5, create_category, split_path
from .objects import generate_object, object_arrays, object_rng

SOURCE = "softrec synthetic (softrec.data.synthetic)"
#: Version of the object generators, stored in each file (``synthetic_generator``): files
#: written by other versions hold different objects and are rebuilt.
GENERATOR_VERSION = 3
#: Default objects per category in each split (13 × 112 objects: ~1-2 minutes on 2 cores).
DEFAULT_SPLIT_SIZES = {"train": 80, "val": 16, "test": 16}


def _make_one(args: tuple[int, str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    seed, synset, split_index, index = args
    obj = generate_object(synset, object_rng(seed, synset, split_index, index))
    return object_arrays(obj)


def _init_worker() -> None:
    torch.set_num_threads(1)  # one process per core


def _is_complete(path: Path, synsets: Sequence[str], n: int, seed: int) -> bool:
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            return (
                int(f.attrs.get("format_version", -1)) == FORMAT_VERSION
                and int(f.attrs.get("synthetic_seed", -1)) == seed
                and int(f.attrs.get("synthetic_generator", -1)) == GENERATOR_VERSION
                and all(s in f and f[s][IMAGES].shape[0] == n for s in synsets)
            )
    except OSError:
        return False


def make_synthetic_dataset(
    root: str | Path,
    n_train: int = DEFAULT_SPLIT_SIZES["train"],
    n_val: int = DEFAULT_SPLIT_SIZES["val"],
    n_test: int = DEFAULT_SPLIT_SIZES["test"],
    seed: int = 0,
    categories: Iterable[str] | str | None = None,
    num_workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Write ``root/{train,val,test}.h5`` of procedurally generated objects.

    Every object is rendered in the 24 dataset views exactly like the NMR release and
    voxelized with :func:`softrec.data.voxelize`. Object ``i`` of a category and split is
    drawn from its own seeded stream, so the files are identical for any ``num_workers``.
    A split whose file is already complete (same seed, categories and size) is skipped;
    each file is written under a temporary name and renamed when done.

    Args:
        root: output directory (created).
        n_train, n_val, n_test: objects per category in each split (0 skips the split).
        seed: dataset seed.
        categories: synset ids or names (default: all 13).
        num_workers: processes (default: CPU count; 0 = in this process).
    Returns:
        ``root`` as a ``Path``.
    """
    root = Path(root)
    synsets = resolve_categories(categories)
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    for split, n in sizes.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n_{split} must be a non-negative int, got {n!r}")
    root.mkdir(parents=True, exist_ok=True)
    workers = (os.cpu_count() or 1) if num_workers is None else num_workers
    pool = None
    try:
        for split_index, split in enumerate(SPLITS):
            n = sizes[split]
            path = split_path(root, split)
            if n == 0 or _is_complete(path, synsets, n, seed):
                continue
            if pool is None and workers > 0:
                pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker)
            jobs = [(seed, s, split_index, i) for s in synsets for i in range(n)]
            results = pool.imap(_make_one, jobs) if pool else map(_make_one, jobs)
            bar = tqdm(total=len(jobs), desc=f"synthetic {split}", disable=not progress)
            with atomic_h5(path, SOURCE) as f:
                f.attrs["synthetic_seed"] = seed
                f.attrs["synthetic_generator"] = GENERATOR_VERSION
                for synset in synsets:
                    g = create_category(f, synset, n)
                    for i in range(n):
                        images, voxels = next(results)
                        g[IMAGES][i] = images
                        g[VOXELS][i] = voxels
                        bar.update()
            bar.close()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return root


def ensure_synthetic_dataset(root: str | Path, **kwargs) -> Path:
    """Like :func:`make_synthetic_dataset` but returns at once when every requested split
    file exists and was written by this generator version (other contents unchecked)."""
    root = Path(root)
    sizes = {
        "train": kwargs.get("n_train", DEFAULT_SPLIT_SIZES["train"]),
        "val": kwargs.get("n_val", DEFAULT_SPLIT_SIZES["val"]),
        "test": kwargs.get("n_test", DEFAULT_SPLIT_SIZES["test"]),
    }
    if all(n == 0 or _generator_version(split_path(root, s)) == GENERATOR_VERSION
           for s, n in sizes.items()):  # fmt: skip
        return root
    return make_synthetic_dataset(root, **kwargs)


def _generator_version(path: Path) -> int | None:
    if not path.is_file():
        return None
    try:
        with h5py.File(path, "r") as f:
            return int(f.attrs.get("synthetic_generator", -1))
    except OSError:
        return None

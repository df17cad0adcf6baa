"""Build a synthetic ShapeNet-like dataset (train/val/test HDF5 files) in parallel."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ...files import remove_stale_temporaries
from ..categories import resolve_categories
from ..conventions import FORMAT_VERSION, SPLITS
from ..h5format import IMAGES, VOXELS, atomic_h5, create_category, split_path
from .objects import generate_object, object_arrays, object_rng
from .ownership import SOURCE, SplitSpec, plan, record

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
    A split whose file is already complete (same seed, categories, size and generator
    version) is skipped; each file is written under a temporary name and renamed when done.

    The generator writes only into a folder that does not exist, is empty, or holds files
    it wrote itself (recorded in ``softrec_synthetic.json`` with their checksums). It
    rewrites its own damaged or outdated files, saying which and why on stderr; any other
    file in the folder raises :class:`ForeignDataError` before anything is written.

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
    specs = {
        split: SplitSpec(FORMAT_VERSION, GENERATOR_VERSION, seed, n, tuple(sorted(synsets)))
        for split, n in sizes.items()
        if n > 0
    }
    todo = plan(root, specs)
    for split, why in todo.items():
        if why != "missing":
            print(f"softrec: regenerating {split_path(root, split)} ({why})", file=sys.stderr,
                  flush=True)  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    workers = (os.cpu_count() or 1) if num_workers is None else num_workers
    pool = None
    try:
        for split_index, split in enumerate(SPLITS):
            n = sizes[split]
            path = split_path(root, split)
            if split not in todo:
                continue
            remove_stale_temporaries(path)
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
            record(root, split, specs[split])
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return root

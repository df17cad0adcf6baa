"""Convert the NMR release's ``.npz`` files into the HDF5 layout, streaming.

The release has ``<synset>_<split>_images.npz`` (uint8 (N, 24, 4, 64, 64)) and
``<synset>_<split>_voxels.npz`` (bool (N, 32, 32, 32)), each an ``np.savez_compressed``
archive with one array ``arr_0``. ``np.load(...)["arr_0"]`` would inflate a whole
category (up to ~2 GB) into memory; here the ``.npy`` member is decompressed from the zip
stream a few objects at a time, so peak memory is a chunk, not a category.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from .categories import resolve_categories
from .conventions import SPLITS
from .h5format import (
    IMAGE_SHAPE,
    IMAGES,
    VOXEL_SHAPE,
    VOXELS,
    atomic_h5,
    create_category,
    split_path,
    validate_file,
)

#: Objects decompressed and written at a time (≈ 400 KB of images each).
OBJECTS_PER_CHUNK = 16
ARRAY_MEMBER = "arr_0.npy"
SOURCE = "NMR ShapeNet rendering release (converted by scripts/prepare_shapenet.py)"


def release_paths(src: str | Path, synset: str, split: str) -> tuple[Path, Path]:
    """``(images.npz, voxels.npz)`` paths of one category and split in the release."""
    src = Path(src)
    return src / f"{synset}_{split}_images.npz", src / f"{synset}_{split}_voxels.npz"


class NpzArray:
    """Header and streamed rows of the single array in an ``np.savez`` archive.

    Raises ``FileNotFoundError`` if the file is missing and ``ValueError`` (naming the
    file) if it is not a readable npz, lacks ``arr_0`` or is truncated.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"release file {self.path} does not exist")
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ValueError(
                f"{self.path}: not a readable .npz archive, truncated? ({exc})"
            ) from exc
        if ARRAY_MEMBER not in self._zip.namelist():
            self._zip.close()
            raise ValueError(
                f"{self.path}: no '{ARRAY_MEMBER}' member (found {self._zip.namelist()})"
            )
        self._stream = self._zip.open(ARRAY_MEMBER)
        try:
            version = np.lib.format.read_magic(self._stream)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(self._stream)
            else:
                header = np.lib.format.read_array_header_2_0(self._stream)
        except Exception as exc:
            self.close()
            raise ValueError(
                f"{self.path}: unreadable .npy header in {ARRAY_MEMBER} ({exc})"
            ) from exc
        self.shape, fortran, self.dtype = header
        if fortran:
            self.close()
            raise ValueError(f"{self.path}: Fortran-ordered arrays are not supported")

    def check(self, dtypes: tuple[type, ...], row_shape: tuple[int, ...]) -> int:
        """Check dtype and trailing shape; return N (raises ``ValueError`` naming the file)."""
        if self.dtype not in [np.dtype(d) for d in dtypes] or tuple(self.shape[1:]) != row_shape:
            self.close()
            raise ValueError(
                f"{self.path}: expected {'/'.join(np.dtype(d).name for d in dtypes)} "
                f"(N, {', '.join(map(str, row_shape))}), got {self.dtype} {tuple(self.shape)}"
            )
        return int(self.shape[0])

    def rows(self, per_chunk: int = OBJECTS_PER_CHUNK) -> Iterator[np.ndarray]:
        """Yield consecutive blocks of at most ``per_chunk`` rows."""
        row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        done = 0
        while done < self.shape[0]:
            n = min(per_chunk, self.shape[0] - done)
            try:
                buf = self._stream.read(n * row_bytes)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise ValueError(f"{self.path}: corrupt or truncated data ({exc})") from exc
            if len(buf) != n * row_bytes:
                raise ValueError(
                    f"{self.path}: truncated: ended after {done + len(buf) // row_bytes} of "
                    f"{self.shape[0]} objects"
                )
            yield np.frombuffer(buf, dtype=self.dtype).reshape(n, *self.shape[1:])
            done += n

    def close(self) -> None:
        if getattr(self, "_stream", None) is not None:
            self._stream.close()
        self._zip.close()

    def __enter__(self) -> NpzArray:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split_done(path: Path, synsets: list[str]) -> bool:
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            validate_file(f, path, synsets)
        return True
    except (OSError, ValueError):
        return False


def convert_release(
    src: str | Path,
    out: str | Path,
    categories: Iterable[str] | str | None = None,
    splits: Iterable[str] = SPLITS,
    progress: bool = True,
    objects_per_chunk: int = OBJECTS_PER_CHUNK,
) -> list[Path]:
    """Convert release npz files in ``src`` into ``out/<split>.h5``.

    Every category's two files are checked (presence, header shape and dtype, matching
    object counts) before anything is written; data are streamed ``objects_per_chunk``
    objects at a time. A split file that already holds the requested categories is
    skipped; others are written under a temporary name and renamed when complete.
    Returns the split files.
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise FileNotFoundError(f"release directory {src} does not exist")
    synsets = resolve_categories(categories)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        path = split_path(out, split)
        written.append(path)
        if _split_done(path, synsets):
            if progress:
                print(f"{path}: complete, skipped")
            continue
        counts = {}
        for synset in synsets:  # validate every header first: fail before writing
            img_path, vox_path = release_paths(src, synset, split)
            with NpzArray(img_path) as a, NpzArray(vox_path) as b:
                n = a.check((np.uint8,), IMAGE_SHAPE)
                m = b.check((np.bool_, np.uint8), VOXEL_SHAPE)
            if n != m:
                raise ValueError(f"{img_path} has {n} objects but {vox_path} has {m}")
            counts[synset] = n
        with atomic_h5(path, SOURCE) as f:
            for synset in synsets:
                n = counts[synset]
                g = create_category(f, synset, n)
                img_path, vox_path = release_paths(src, synset, split)
                bar = tqdm(total=2 * n, desc=f"{split} {synset}", disable=not progress)
                for name, file in ((IMAGES, img_path), (VOXELS, vox_path)):
                    start = 0
                    with NpzArray(file) as arr:
                        for block in arr.rows(objects_per_chunk):
                            g[name][start : start + len(block)] = block.astype(np.uint8)
                            start += len(block)
                            bar.update(len(block))
                bar.close()
    return written

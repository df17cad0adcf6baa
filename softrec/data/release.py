"""Convert the NMR release's ``.npz`` files into the HDF5 layout, streaming.

The release has ``<synset>_<split>_images.npz`` (uint8 (N, 24, 4, 64, 64)) and
``<synset>_<split>_voxels.npz`` (bool (N, 32, 32, 32)), each an ``np.savez_compressed``
archive with one array ``arr_0``. ``np.load(...)["arr_0"]`` would inflate a whole
category (up to ~2 GB) into memory; here the ``.npy`` member is decompressed from the zip
stream a few objects at a time, so peak memory is a chunk, not a category.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from ..errors import DataFileError
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

    Raises ``FileNotFoundError`` if the file is missing and ``DataFileError`` (a
    ``ValueError`` naming the file) if it is not a readable npz, lacks ``arr_0`` or is
    truncated.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"release file {self.path} does not exist")
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataFileError(
                f"{self.path}: not a readable .npz archive, truncated? ({exc})"
            ) from exc
        if ARRAY_MEMBER not in self._zip.namelist():
            self._zip.close()
            raise DataFileError(
                f"{self.path}: no '{ARRAY_MEMBER}' member (found {self._zip.namelist()})"
            )
        self._stream = None
        try:
            self._stream = self._zip.open(ARRAY_MEMBER)
            version = np.lib.format.read_magic(self._stream)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(self._stream)
            else:
                header = np.lib.format.read_array_header_2_0(self._stream)
        except Exception as exc:
            self.close()
            raise DataFileError(
                f"{self.path}: unreadable .npy header in {ARRAY_MEMBER} ({exc})"
            ) from exc
        self.shape, fortran, self.dtype = header
        if fortran:
            self.close()
            raise DataFileError(f"{self.path}: Fortran-ordered arrays are not supported")

    def check(self, dtypes: tuple[type, ...], row_shape: tuple[int, ...]) -> int:
        """Check dtype and trailing shape; return N (raises ``DataFileError`` naming the file)."""
        if self.dtype not in [np.dtype(d) for d in dtypes] or tuple(self.shape[1:]) != row_shape:
            self.close()
            raise DataFileError(
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
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
                raise DataFileError(f"{self.path}: corrupt or truncated data ({exc})") from exc
            if len(buf) != n * row_bytes:
                raise DataFileError(
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


def _split_done(path: Path, synsets: list[str] | None) -> bool:
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            validate_file(f, path, synsets)
        return True
    except (OSError, ValueError):
        return False


@dataclass
class ConversionReport:
    """What :func:`convert_release` found: split files written or already complete, and
    the (split, category) pairs it skipped with the reason."""

    written: list[Path] = field(default_factory=list)
    complete: list[Path] = field(default_factory=list)
    converted: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _present_pairs(
    src: Path, split: str, synsets: list[str], report: ConversionReport
) -> list[str]:
    """The categories of ``synsets`` with both files of ``split`` in ``src`` (the others
    are noted in ``report.skipped``)."""
    present = []
    for synset in synsets:
        img_path, vox_path = release_paths(src, synset, split)
        have = img_path.is_file(), vox_path.is_file()
        if all(have):
            present.append(synset)
        elif any(have):
            missing = vox_path if have[0] else img_path
            report.skipped.append(f"{split} {synset}: {missing.name} missing")
    return present


def convert_release(
    src: str | Path,
    out: str | Path,
    categories: Iterable[str] | str | None = None,
    splits: Iterable[str] = SPLITS,
    progress: bool = True,
    objects_per_chunk: int = OBJECTS_PER_CHUNK,
) -> ConversionReport:
    """Convert the release's npz files in ``src`` into ``out/<split>.h5``.

    Converts what ``src`` holds: for each requested split, the requested categories
    (default: all 13) whose two files are both present; splits with none are skipped, as
    are categories with one of the two files (all noted in the report). Every file to
    convert is checked (header shape and dtype, matching object counts) before anything
    is written; data are streamed ``objects_per_chunk`` objects at a time. A split file
    that already holds the categories found is kept; others are written under a temporary
    name and renamed when complete. Raises ``FileNotFoundError`` when ``src`` holds no
    release file of the selection at all.
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise FileNotFoundError(f"release directory {src} does not exist")
    synsets = resolve_categories(categories)
    report = ConversionReport()
    todo: list[tuple[str, Path, list[str]]] = []
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        path = split_path(out, split)
        present = _present_pairs(src, split, synsets, report)
        if not present:
            # sources may be deleted once converted: a complete output is kept as it is
            if _split_done(path, None if categories is None else synsets):
                report.complete.append(path)
            else:
                report.skipped.append(f"{split}: no release files")
            continue
        todo.append((split, path, present))
    if not todo and not report.complete:
        raise FileNotFoundError(
            f"no release files (<synset>_<split>_images.npz and _voxels.npz) in {src} for "
            f"splits {', '.join(splits)} and {len(synsets)} categories"
        )
    out.mkdir(parents=True, exist_ok=True)
    for split, path, present in todo:
        report.converted[split] = present
        if _split_done(path, present):
            report.complete.append(path)
            if progress:
                print(f"{path}: complete, kept")
            continue
        counts = {}
        for synset in present:  # validate every header first: fail before writing
            img_path, vox_path = release_paths(src, synset, split)
            with NpzArray(img_path) as a, NpzArray(vox_path) as b:
                n = a.check((np.uint8,), IMAGE_SHAPE)
                m = b.check((np.bool_, np.uint8), VOXEL_SHAPE)
            if n != m:
                raise DataFileError(f"{img_path} has {n} objects but {vox_path} has {m}")
            counts[synset] = n
        with atomic_h5(path, SOURCE) as f:
            for synset in present:
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
        report.written.append(path)
    return report

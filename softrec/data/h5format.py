"""The HDF5 layout of a dataset split, its writer and its validator.

One file per split (``train.h5``, ``val.h5``, ``test.h5``)::

    /                       attrs: format_version, num_views, image_size, voxel_resolution,
                                   camera_distance, elevation_deg, azimuth_step_deg,
                                   viewing_angle_deg, view_convention, voxel_layout,
                                   rgb_convention, source
    /<synset id>/           attrs: name (ShapeNet name), paper_name
        images   uint8 (N, 24, 4, 64, 64)   chunks (1, 1, 4, 64, 64), gzip + shuffle
        voxels   uint8 (N, 32, 32, 32)      chunks (1, 32, 32, 32), gzip + shuffle

Chunks never span two objects; an image chunk holds one view of one object so that a
training sample (two views) decompresses 32 KiB rather than the object's 24 views.
Files are written under a temporary name and renamed when complete (:func:`atomic_h5`),
so a file with the final name is always complete.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataFileError
from ..files import atomic_path
from .categories import CATEGORIES, SYNSET_TO_NAME
from .conventions import (
    AZIMUTH_STEP_DEG,
    CAMERA_DISTANCE,
    ELEVATION_DEG,
    FORMAT_VERSION,
    IMAGE_CHANNELS,
    IMAGE_SIZE,
    NUM_VIEWS,
    RGB_CONVENTION,
    VIEW_CONVENTION,
    VIEWING_ANGLE_DEG,
    VOXEL_LAYOUT,
    VOXEL_RESOLUTION,
)

#: What h5py raises on a damaged file (I/O, object header, chunk index errors), plus what
#: decoding damaged bytes raises (a corrupt deflate stream, a chunk of the wrong size).
READ_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, zlib.error)

IMAGES = "images"
VOXELS = "voxels"
#: Shape of one object's images and voxels.
IMAGE_SHAPE = (NUM_VIEWS, IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
VOXEL_SHAPE = (VOXEL_RESOLUTION,) * 3
IMAGE_CHUNK = (1, 1, IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
VOXEL_CHUNK = (1, *VOXEL_SHAPE)
#: gzip level: 4 is close to the best ratio on these images and still fast to write.
GZIP_LEVEL = 4
SPLIT_SUFFIX = ".h5"


def file_attributes(source: str) -> dict[str, object]:
    """The file-level attributes recording the conventions (``source``: who made it)."""
    return {
        "format_version": FORMAT_VERSION,
        "num_views": NUM_VIEWS,
        "image_size": IMAGE_SIZE,
        "voxel_resolution": VOXEL_RESOLUTION,
        "camera_distance": CAMERA_DISTANCE,
        "elevation_deg": ELEVATION_DEG,
        "azimuth_step_deg": AZIMUTH_STEP_DEG,
        "viewing_angle_deg": VIEWING_ANGLE_DEG,
        "view_convention": VIEW_CONVENTION,
        "voxel_layout": VOXEL_LAYOUT,
        "rgb_convention": RGB_CONVENTION,
        "source": source,
    }


@contextlib.contextmanager
def atomic_h5(path: str | Path, source: str) -> Iterator[h5py.File]:
    """Open a temporary file next to ``path`` for writing, with the file attributes set,
    and rename it to ``path`` only if the block finishes without an exception (the
    temporary file is removed otherwise): a file with the final name is always complete."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(file_attributes(source))
        yield f


def create_category(f: h5py.File, synset: str, num_objects: int) -> h5py.Group:
    """Create the group of ``synset`` with empty ``images``/``voxels`` for ``num_objects``."""
    if synset not in SYNSET_TO_NAME:
        raise ValueError(f"unknown synset id {synset!r}")
    paper = {s: p for s, _, p in CATEGORIES}[synset]
    g = f.create_group(synset)
    g.attrs["name"] = SYNSET_TO_NAME[synset]
    g.attrs["paper_name"] = paper
    opts = {"compression": "gzip", "compression_opts": GZIP_LEVEL, "shuffle": True}
    g.create_dataset(
        IMAGES, shape=(num_objects, *IMAGE_SHAPE), dtype=np.uint8, chunks=IMAGE_CHUNK, **opts
    )
    g.create_dataset(
        VOXELS, shape=(num_objects, *VOXEL_SHAPE), dtype=np.uint8, chunks=VOXEL_CHUNK, **opts
    )
    return g


def check_arrays(images: np.ndarray, voxels: np.ndarray, what: str) -> None:
    """Raise ``ValueError`` naming ``what`` unless images are uint8 (N, 24, 4, 64, 64) and
    voxels bool/uint8 (N, 32, 32, 32) with the same N."""
    if images.dtype != np.uint8 or images.ndim != 5 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{what}: images must be uint8 (N, {', '.join(map(str, IMAGE_SHAPE))}), "
            f"got {images.dtype} {images.shape}"
        )
    if (
        voxels.dtype not in (np.bool_, np.uint8)
        or voxels.ndim != 4
        or voxels.shape[1:] != VOXEL_SHAPE
    ):
        raise ValueError(
            f"{what}: voxels must be bool/uint8 (N, {', '.join(map(str, VOXEL_SHAPE))}), "
            f"got {voxels.dtype} {voxels.shape}"
        )
    if images.shape[0] != voxels.shape[0]:
        raise ValueError(
            f"{what}: {images.shape[0]} objects in images but {voxels.shape[0]} in voxels"
        )


def validate_file(f: h5py.File, path: str | Path, categories: list[str] | None = None) -> list[str]:
    """Check an open split file; return its synset ids (those of ``categories`` if given).

    Raises :class:`~softrec.errors.DataFileError` naming ``path`` and the problem: wrong
    format version, missing group, missing/wrong-shaped/wrong-dtype dataset.
    """
    version = f.attrs.get("format_version")
    if version is None or int(version) != FORMAT_VERSION:
        raise DataFileError(
            f"{path}: format version {version!r}, this softrec reads version {FORMAT_VERSION} "
            f"(re-create the file with scripts/prepare_shapenet.py or make_synthetic.py)"
        )
    present = [s for s, _, _ in CATEGORIES if s in f]
    wanted = present if categories is None else categories
    if not wanted:
        raise DataFileError(f"{path}: no category group found (expected synset ids like 02691156)")
    for synset in wanted:
        if synset not in f:
            raise DataFileError(
                f"{path}: missing category group {synset!r} ({SYNSET_TO_NAME.get(synset, '?')}); "
                f"the file has {present}"
            )
        g = f[synset]
        for name, shape, dtypes in (
            (IMAGES, IMAGE_SHAPE, (np.uint8,)),
            (VOXELS, VOXEL_SHAPE, (np.uint8, np.bool_)),
        ):
            if name not in g:
                raise DataFileError(f"{path}: group {synset} has no {name!r} dataset")
            ds = g[name]
            if ds.ndim != len(shape) + 1 or ds.shape[1:] != shape or ds.dtype not in dtypes:
                raise DataFileError(
                    f"{path}: {synset}/{name} must be {dtypes[0].__name__} (N, "
                    f"{', '.join(map(str, shape))}), got {ds.dtype} {ds.shape}"
                )
        if g[IMAGES].shape[0] != g[VOXELS].shape[0]:
            raise DataFileError(
                f"{path}: {synset} has {g[IMAGES].shape[0]} image sets but "
                f"{g[VOXELS].shape[0]} voxel grids"
            )
        if g[IMAGES].shape[0] == 0:
            raise DataFileError(f"{path}: category {synset} has no objects")
    return list(wanted)


def open_split(
    path: str | Path, categories: list[str] | None = None
) -> tuple[h5py.File, list[str]]:
    """Open a split file read-only and validate it: ``(file, synset ids)``.

    Raises ``FileNotFoundError`` for a missing file and ``DataFileError`` (a
    ``ValueError``) for a bad one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file {path} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataFileError(f"{path}: not a readable HDF5 file ({exc})") from exc
    try:
        synsets = validate_file(f, path, categories)
    except DataFileError:
        f.close()
        raise
    except READ_ERRORS as exc:  # damaged metadata (object headers, links, chunk indexes)
        f.close()
        raise DataFileError(f"{path}: damaged HDF5 file ({type(exc).__name__}: {exc})") from exc
    except BaseException:
        f.close()
        raise
    return f, synsets


def split_path(root: str | Path, split: str) -> Path:
    """``root/<split>.h5``."""
    return Path(root) / f"{split}{SPLIT_SUFFIX}"

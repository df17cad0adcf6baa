"""PyTorch datasets over a split's HDF5 file, opened lazily in each worker process.

The file is validated once (in the constructor, in the main process) and then opened
read-only on first access in every process that reads it, so the dataset can be pickled
to DataLoader workers and DDP ranks; nothing but the index of (category, object) pairs
is held in memory, whatever the file size.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import TypeVar

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from ..errors import DataFileError
from .categories import SYNSET_IDS, resolve_categories
from .conventions import NUM_VIEWS, UINT8_MAX, view_eyes
from .h5format import (
    IMAGE_CHUNK,
    IMAGE_SHAPE,
    IMAGES,
    READ_ERRORS,
    VOXEL_SHAPE,
    VOXELS,
    open_split,
)

BatchOrTensor = TypeVar("BatchOrTensor", torch.Tensor, MutableMapping[str, torch.Tensor])


class _H5Split(Dataset):
    """Shared machinery: validation, the object index and per-process lazy opening."""

    def __init__(self, path: str | Path, categories: Iterable[str] | str | None = None) -> None:
        self.path = Path(path)
        wanted = None if categories is None else resolve_categories(categories)
        f, synsets = open_split(self.path, wanted)
        try:
            self.synsets = synsets
            self.counts = [int(f[s][IMAGES].shape[0]) for s in synsets]  # read by validation
        finally:
            f.close()
        #: Class id of each synset: its row in the paper's table (0..12), stable across
        #: category subsets so per-category metrics line up.
        self.class_ids = [SYNSET_IDS.index(s) for s in synsets]
        self._class_of_cat = np.asarray(self.class_ids, dtype=np.int64)
        self._file: h5py.File | None = None
        self._pid: int | None = None
        self._groups: list[tuple[h5py.Dataset, h5py.Dataset]] = []
        self._direct: bool | None = None

    def _datasets(self, cat: int) -> tuple[h5py.Dataset, h5py.Dataset]:
        if self._file is None or self._pid != os.getpid():
            # Opened in the process that reads (never inherited across fork/pickle).
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
            self._groups = [(self._file[s][IMAGES], self._file[s][VOXELS]) for s in self.synsets]
        return self._groups[cat]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_file=None, _pid=None, _groups=[], _direct=None)
        return state

    def close(self) -> None:
        """Close this process's file handle (reopened on the next access)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file, self._pid, self._groups = None, None, []

    def _direct_ok(self, images: h5py.Dataset) -> bool:
        """Whether ``images`` is in the standard layout (one gzip chunk per view), which
        is read chunk-direct, skipping h5py's selection machinery (about twice as fast)."""
        if self._direct is None:
            plist = images.id.get_create_plist()
            filters = {plist.get_filter(i)[0] for i in range(plist.get_nfilters())}
            self._direct = (
                images.chunks == IMAGE_CHUNK
                and images.compression == "gzip"
                # shuffle is a no-op on single bytes
                and filters <= {h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_SHUFFLE}
            )
        return self._direct

    def _damaged(self, cat: int, obj: int, exc: Exception) -> DataFileError:
        """The error for data that could not be read (a damaged or truncated file)."""
        return DataFileError(
            f"{self.path}: cannot read object {obj} of category {self.synsets[cat]} "
            f"({type(exc).__name__}: {exc}); the file is damaged, convert or copy it again"
        )

    def _read_views(self, cats: np.ndarray, objs: np.ndarray, views: np.ndarray) -> np.ndarray:
        """uint8 (n, 4, 64, 64) images of views ``views[i]`` of objects ``(cats[i], objs[i])``."""
        out = np.empty((len(cats), *IMAGE_SHAPE[1:]), dtype=np.uint8)
        keys = zip(cats.tolist(), objs.tolist(), views.tolist(), strict=True)
        for i, (cat, obj, view) in enumerate(keys):
            try:
                images, _ = self._datasets(cat)
                if self._direct_ok(images):
                    _, raw = images.id.read_direct_chunk((obj, view, 0, 0, 0))
                    pixels = np.frombuffer(zlib.decompress(raw), np.uint8)
                    out[i] = pixels.reshape(IMAGE_SHAPE[1:])
                else:
                    out[i] = images[obj, view]
            except READ_ERRORS as exc:
                raise self._damaged(cat, obj, exc) from exc
        return out

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([index]).items()}

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """A whole batch at once: the DataLoader calls this instead of ``__getitem__`` per
        item, which saves most of the per-item Python and tensor overhead."""
        raise NotImplementedError

    def _set_objects(self, counts: list[int]) -> None:
        """Index the first ``counts[c]`` objects of each category, in paper order."""
        self.counts = counts
        self._cat = np.repeat(np.arange(len(self.synsets)), counts)
        self._obj = np.concatenate([np.arange(n) for n in counts])


def _check_indices(indices: Sequence[int], size: int) -> np.ndarray:
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise IndexError(f"index out of range for a dataset of {size} items")
    return idx % max(size, 1)


def collate_batch(
    samples: Mapping[str, torch.Tensor] | list[Mapping[str, torch.Tensor]],
) -> dict[str, torch.Tensor]:
    """Collate for the datasets here: batches from ``__getitems__`` pass through, lists of
    items are stacked. Images stay uint8 as stored (a quarter of the bytes between worker
    processes and to the GPU); :func:`images_to_float` converts them where they are used.
    """
    if isinstance(samples, Mapping):
        return dict(samples)
    return default_collate(samples)


def images_to_float(batch: BatchOrTensor) -> BatchOrTensor:
    """uint8 images → float32 in [0, 1]; other dtypes are returned as they are.

    ``batch`` is a tensor, or a mutable mapping whose ``images*`` entries are converted in
    place (and which is returned). Done once per batch, on the batch's device.
    """
    if isinstance(batch, torch.Tensor):
        return batch.float().div_(UINT8_MAX) if batch.dtype == torch.uint8 else batch
    for key, value in batch.items():
        if key.startswith("images"):
            batch[key] = images_to_float(value)
    return batch


class TwoViewDataset(_H5Split):
    """Training samples: one object seen in two different views.

    Item ``i`` is object ``i`` (categories concatenated in paper order). Training loaders
    ask for ``(object, view_a, view_b)`` triples chosen by
    :class:`~softrec.data.sampling.TwoViewBatchSampler`; plain indices get two views
    drawn uniformly (a ≠ b) from the torch RNG.

    Items are dicts: ``images_a``, ``images_b`` uint8 (4, 64, 64) as stored (inverted RGB,
    alpha in channel 3; :func:`images_to_float` makes float32 in [0, 1]), ``view_a``,
    ``view_b``, ``class_id`` int64 scalars, ``eye_a``, ``eye_b`` float32 (3,) camera
    positions of the two views; ``__getitems__`` returns the same keys
    stacked along a first batch dimension.
    """

    def __init__(self, path: str | Path, categories: Iterable[str] | str | None = None) -> None:
        super().__init__(path, categories)
        self._set_objects(self.counts)

    def __len__(self) -> int:
        return len(self._cat)

    def __getitems__(
        self, indices: Sequence[int] | Sequence[tuple[int, int, int]]
    ) -> dict[str, torch.Tensor]:
        """Items ``indices``: object indices (views drawn here), or ``(object, view_a,
        view_b)`` triples as :class:`~softrec.data.sampling.TwoViewBatchSampler` yields."""
        keys = np.asarray(indices, dtype=np.int64)
        if keys.ndim == 2:
            if keys.shape[1] != 3:
                raise ValueError(f"expected (object, view_a, view_b) triples, got {keys.shape}")
            idx = _check_indices(keys[:, 0], len(self))
            view_a, view_b = torch.from_numpy(keys[:, 1]), torch.from_numpy(keys[:, 2])
            if (view_a == view_b).any() or keys[:, 1:].min(initial=0) < 0 or keys[:, 1:].max(
                initial=0
            ) >= NUM_VIEWS:
                raise ValueError(f"views must be two different ids in [0, {NUM_VIEWS})")
        else:
            idx = _check_indices(keys, len(self))
            # view_b = view_a + 1..23 (mod 24): uniform over the other views
            view_a = torch.randint(NUM_VIEWS, (len(idx),))
            view_b = (view_a + 1 + torch.randint(NUM_VIEWS - 1, (len(idx),))) % NUM_VIEWS
        cats, objs = self._cat[idx], self._obj[idx]
        return {
            "images_a": torch.from_numpy(self._read_views(cats, objs, view_a.numpy())),
            "images_b": torch.from_numpy(self._read_views(cats, objs, view_b.numpy())),
            "view_a": view_a,
            "view_b": view_b,
            "eye_a": view_eyes(view_a),
            "eye_b": view_eyes(view_b),
            "class_id": torch.as_tensor(self._class_of_cat[cats]),
        }


class ViewVoxelDataset(_H5Split):
    """Evaluation samples: every (object, view) pair with the object's voxels.

    Args:
        objects_per_category: keep only the first ``k`` objects of each category (a fixed
            subset for fast validation); ``None`` keeps all.

    Items are dicts: ``images`` uint8 (4, 64, 64) as stored (:func:`images_to_float`
    makes float32 in [0, 1]), ``voxels`` bool (32, 32, 32) in the dataset layout,
    ``view``, ``class_id`` and ``object_id`` (index within its category) int64 scalars,
    ``eye`` float32 (3,) the view's camera position;
    ``__getitems__`` stacks them. Item order: category, object, view. With ``all_views``
    (for the color metric) items also hold every view of their object: ``images_all``
    uint8 (24, 4, 64, 64) and ``eyes_all`` float32 (24, 3).
    """

    #: also deliver every view of each item's object (``images_all``, ``eyes_all``)
    all_views: bool = False

    def __init__(
        self,
        path: str | Path,
        categories: Iterable[str] | str | None = None,
        objects_per_category: int | None = None,
    ) -> None:
        super().__init__(path, categories)
        if objects_per_category is not None:
            if isinstance(objects_per_category, bool) or not isinstance(objects_per_category, int):
                raise TypeError("objects_per_category must be an int or None")
            if objects_per_category <= 0:
                raise ValueError(f"objects_per_category must be > 0, got {objects_per_category}")
            self.counts = [min(n, objects_per_category) for n in self.counts]
        self._set_objects(self.counts)

    def __len__(self) -> int:
        return len(self._cat) * NUM_VIEWS

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        item, views = np.divmod(_check_indices(indices, len(self)), NUM_VIEWS)
        cats, objs = self._cat[item], self._obj[item]
        voxels = np.empty((len(item), *VOXEL_SHAPE), dtype=bool)
        last = None
        for i, (cat, obj) in enumerate(zip(cats.tolist(), objs.tolist(), strict=True)):
            if (cat, obj) != last:  # items come in (object, view) order: read each once
                try:
                    grid, last = self._datasets(cat)[1][obj].astype(bool), (cat, obj)
                except READ_ERRORS as exc:
                    raise self._damaged(cat, obj, exc) from exc
            voxels[i] = grid
        batch = {
            "images": torch.from_numpy(self._read_views(cats, objs, views)),
            "voxels": torch.from_numpy(voxels),
            "view": torch.from_numpy(views),
            "eye": view_eyes(torch.from_numpy(views)),
            "class_id": torch.as_tensor(self._class_of_cat[cats]),
            "object_id": torch.from_numpy(objs.astype(np.int64)),
        }
        if self.all_views:
            batch.update(self._object_views(cats, objs))
        return batch

    def _object_views(self, cats: np.ndarray, objs: np.ndarray) -> dict[str, torch.Tensor]:
        """Every view of each item's object: each object read once per batch."""
        keys, inverse = np.unique(np.stack([cats, objs], 1), axis=0, return_inverse=True)
        all_views = np.arange(NUM_VIEWS)
        per_object = np.stack([
            self._read_views(np.full(NUM_VIEWS, c), np.full(NUM_VIEWS, o), all_views)
            for c, o in keys.tolist()
        ])  # fmt: skip
        eyes = view_eyes(torch.from_numpy(all_views))
        return {
            "images_all": torch.from_numpy(per_object[inverse.reshape(-1)]),
            "eyes_all": eyes[None].expand(len(cats), -1, -1).contiguous(),
        }

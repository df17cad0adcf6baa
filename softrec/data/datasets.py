"""PyTorch datasets over a split's HDF5 file, opened lazily in each worker process.

The file is validated once (in the constructor, in the main process) and then opened
read-only on first access in every process that reads it, so the dataset can be pickled
to DataLoader workers and DDP ranks; nothing but the index of (category, object) pairs
is held in memory, whatever the file size.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from .categories import SYNSET_IDS, resolve_categories
from .conventions import NUM_VIEWS, UINT8_MAX
from .h5format import IMAGE_CHUNK, IMAGE_SHAPE, IMAGES, VOXELS, open_split


class _H5Split(Dataset):
    """Shared machinery: validation, the object index and per-process lazy opening."""

    def __init__(self, path: str | Path, categories: Iterable[str] | str | None = None) -> None:
        self.path = Path(path)
        wanted = None if categories is None else resolve_categories(categories)
        f, synsets = open_split(self.path, wanted)
        try:
            self.synsets = synsets
            self.counts = [int(f[s][IMAGES].shape[0]) for s in synsets]
        finally:
            f.close()
        #: Class id of each synset: its row in the paper's table (0..12), stable across
        #: category subsets so per-category metrics line up.
        self.class_ids = [SYNSET_IDS.index(s) for s in synsets]
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

    def _view(self, cat: int, obj: int, view: int) -> np.ndarray:
        """uint8 (4, 64, 64) image of one view. Files in the standard layout (one gzip
        chunk per view) are read chunk-direct, skipping h5py's selection machinery (about
        twice as fast); anything else goes through ordinary slicing."""
        images, _ = self._datasets(cat)
        if self._direct is None:
            self._direct = (
                images.chunks == IMAGE_CHUNK
                and images.compression == "gzip"
                and set(
                    images.id.get_create_plist().get_filter(i)[0]
                    for i in range(images.id.get_create_plist().get_nfilters())
                )
                <= {h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_SHUFFLE}  # shuffle: no-op on bytes
            )
        if self._direct:
            _, raw = images.id.read_direct_chunk((obj, view, 0, 0, 0))
            data = bytearray(zlib.decompress(raw))  # writable, so torch can wrap it
            return np.frombuffer(data, dtype=np.uint8).reshape(IMAGE_SHAPE[1:])
        return images[obj, view]


def collate_batch(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack samples and turn their uint8 images into float32 in [0, 1].

    Converting once per batch instead of once per view is ~8x cheaper on the CPU (a small
    tensor's ``.float()`` costs about as much as decompressing the view).
    """
    batch = default_collate(samples)
    for key, value in batch.items():
        if key.startswith("images") and value.dtype == torch.uint8:
            batch[key] = value.float().div_(UINT8_MAX)
    return batch


class TwoViewDataset(_H5Split):
    """Training samples: one object seen in two random views (REFERENCE.md §4).

    Item ``i`` is object ``i`` (categories concatenated in paper order); views a and b are
    drawn uniformly (a ≠ b) from the worker's torch RNG, which the DataLoader seeds per
    worker and epoch.

    Returns dicts: ``images_a``, ``images_b`` uint8 (4, 64, 64) as stored (inverted RGB,
    alpha in channel 3; :func:`collate_batch` makes batches of float32 in [0, 1]),
    ``view_a``, ``view_b``, ``class_id`` int64 scalars.
    """

    def __init__(self, path: str | Path, categories: Iterable[str] | str | None = None) -> None:
        super().__init__(path, categories)
        self._cat = np.repeat(np.arange(len(self.synsets)), self.counts)
        self._obj = np.concatenate([np.arange(n) for n in self.counts])

    def __len__(self) -> int:
        return len(self._cat)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        cat, obj = int(self._cat[index]), int(self._obj[index])
        view_a = int(torch.randint(NUM_VIEWS, ()))
        view_b = (view_a + 1 + int(torch.randint(NUM_VIEWS - 1, ()))) % NUM_VIEWS
        return {
            "images_a": torch.from_numpy(self._view(cat, obj, view_a)),
            "images_b": torch.from_numpy(self._view(cat, obj, view_b)),
            "view_a": torch.tensor(view_a, dtype=torch.int64),
            "view_b": torch.tensor(view_b, dtype=torch.int64),
            "class_id": torch.tensor(self.class_ids[cat], dtype=torch.int64),
        }


class ViewVoxelDataset(_H5Split):
    """Evaluation samples: every (object, view) pair with the object's voxels.

    Args:
        objects_per_category: keep only the first ``k`` objects of each category (a fixed
            subset for fast validation); ``None`` keeps all.

    Returns dicts: ``images`` uint8 (4, 64, 64) as stored (float32 in [0, 1] once batched
    by :func:`collate_batch`), ``voxels`` bool (32, 32, 32) in the
    dataset layout, ``view``, ``class_id`` and ``object_id`` (index within its category)
    int64 scalars. Item order: category, object, view.
    """

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
        self._cat = np.repeat(np.arange(len(self.synsets)), self.counts)
        self._obj = np.concatenate([np.arange(n) for n in self.counts])

    def __len__(self) -> int:
        return len(self._cat) * NUM_VIEWS

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item, view = divmod(int(index), NUM_VIEWS)
        cat, obj = int(self._cat[item]), int(self._obj[item])
        _, voxels = self._datasets(cat)
        return {
            "images": torch.from_numpy(self._view(cat, obj, view)),
            "voxels": torch.from_numpy(voxels[obj].astype(bool)),
            "view": torch.tensor(view, dtype=torch.int64),
            "class_id": torch.tensor(self.class_ids[cat], dtype=torch.int64),
            "object_id": torch.tensor(obj, dtype=torch.int64),
        }

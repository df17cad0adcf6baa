"""``ShapeNetDataModule``: train/val/test loaders over a directory of split files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, DistributedSampler

from .categories import SYNSET_IDS, SYNSET_TO_NAME, resolve_categories
from .conventions import NUM_VIEWS, SPLITS, VIEWING_ANGLE_DEG
from .datasets import TwoViewDataset, ViewVoxelDataset, collate_batch, images_to_float
from .h5format import split_path
from .sampling import ResumableDataLoader, TwoViewBatchSampler

#: Default batch of objects per training step (the public code's 64).
DEFAULT_BATCH_SIZE = 64
#: Upper bound of ``num_workers="auto"``: more processes than this only contend for I/O.
MAX_AUTO_WORKERS = 8
#: Evaluation batches hold (object, view) pairs; larger is cheaper per sample.
DEFAULT_EVAL_BATCH_SIZE = 256


class ShapeNetDataModule(pl.LightningDataModule):
    """Loaders for ``root/{train,val,test}.h5`` (NMR release converted, or synthetic).

    Args:
        root: directory of the split files.
        categories: synset ids or names (default all 13 present).
        batch_size: objects per training batch.
        num_workers: DataLoader worker processes (each opens the file itself); ``"auto"``:
            one per CPU core but one, at most 8.
        prefetch_factor: batches each worker loads ahead (with workers).
        eval_batch_size: (object, view) pairs per evaluation batch.
        val_objects_per_category: validate on the first k objects of each category only
            (fixed subset, every view); ``None`` = all.
        seed: seeds the training draws (objects and view pairs,
            :class:`~softrec.data.sampling.TwoViewBatchSampler`).
        class_balanced: draw a category uniformly, then an object of it (the public
            recipe); otherwise every object once per epoch.
        pin_memory: ``None`` = pin when CUDA is available.

    The training loader's position (batches consumed) is part of Lightning checkpoints,
    so a resumed run continues the exact batch sequence of an uninterrupted one.

    Training batches: ``images_a``, ``images_b`` (B, 4, 64, 64) (inverted RGB + alpha),
    ``view_a``, ``view_b``, ``class_id`` int64 (B,), ``eye_a``, ``eye_b`` float32 (B, 3)
    (the views' cameras: the model needs no knowledge of the dataset's views). Evaluation
    batches: ``images`` (B, 4, 64, 64), ``voxels`` bool (B, 32, 32, 32), ``view``,
    ``class_id``, ``object_id`` int64 (B,), ``eye`` float32 (B, 3). The loaders deliver
    images as stored, uint8 (a quarter of the bytes across worker processes and to the
    GPU); in a Lightning run
    :meth:`on_after_batch_transfer` turns them into float32 in [0, 1] on the device, and
    code iterating the loaders itself calls :func:`softrec.data.images_to_float`.
    ``class_names`` maps class ids to names.
    """

    def __init__(
        self,
        root: str | Path,
        categories: Iterable[str] | str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        num_workers: int | str = 2,
        eval_batch_size: int = DEFAULT_EVAL_BATCH_SIZE,
        val_objects_per_category: int | None = None,
        seed: int = 0,
        class_balanced: bool = False,
        pin_memory: bool | None = None,
        prefetch_factor: int = 2,
    ) -> None:
        super().__init__()
        for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if num_workers == "auto":
            num_workers = min(MAX_AUTO_WORKERS, max(0, (os.cpu_count() or 1) - 1))
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0 or 'auto', got {num_workers!r}")
        if isinstance(prefetch_factor, bool) or not isinstance(prefetch_factor, int) or (
            prefetch_factor < 1
        ):
            raise ValueError(f"prefetch_factor must be an int >= 1, got {prefetch_factor!r}")
        self.prefetch_factor = prefetch_factor
        self.root = Path(root)
        self.categories = None if categories is None else resolve_categories(categories)
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.num_workers = num_workers
        self.val_objects_per_category = val_objects_per_category
        self.seed = seed
        self.class_balanced = bool(class_balanced)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self._datasets: dict[str, TwoViewDataset | ViewVoxelDataset] = {}
        self._train_sampler: TwoViewBatchSampler | None = None

    #: evaluation batches also hold every view of each item's object (``images_all``
    #: (B, 24, 4, 64, 64), ``eyes_all`` (B, 24, 3)): set for models with colors
    eval_all_views: bool = False

    #: Half field of view (degrees) of the cameras that rendered the images: a renderer
    #: used with this data must match it.
    viewing_angle = VIEWING_ANGLE_DEG

    @property
    def class_names(self) -> dict[int, str]:
        """Class id → ShapeNet name for the 13 categories (ids are paper row indices)."""
        return {i: SYNSET_TO_NAME[s] for i, s in enumerate(SYNSET_IDS)}

    def train_dataset(self) -> TwoViewDataset:
        if "train" not in self._datasets:
            self._datasets["train"] = TwoViewDataset(
                split_path(self.root, "train"), self.categories
            )
        return self._datasets["train"]  # type: ignore[return-value]

    def eval_dataset(self, split: str) -> ViewVoxelDataset:
        """The (object, view) dataset of ``split`` (``val`` uses the fixed subset)."""
        if split not in SPLITS:
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        key = f"eval_{split}"
        if key not in self._datasets:
            subset = self.val_objects_per_category if split == "val" else None
            self._datasets[key] = ViewVoxelDataset(
                split_path(self.root, split), self.categories, subset
            )
        return self._datasets[key]  # type: ignore[return-value]

    def setup(self, stage: str | None = None) -> None:
        """Validate the files needed by ``stage`` (errors name the file and the problem)."""
        if stage in (None, "fit"):
            self.train_dataset()
            self.eval_dataset("val")
        if stage in (None, "validate"):
            self.eval_dataset("val")
        if stage in (None, "test"):
            self.eval_dataset("test")

    def _loader_options(self) -> dict:
        workers = self.num_workers > 0
        return {
            "num_workers": self.num_workers,
            "pin_memory": self.pin_memory,
            "persistent_workers": workers,
            "prefetch_factor": self.prefetch_factor if workers else None,
            "collate_fn": collate_batch,
        }

    def _ranks(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        """uint8 images → float32 in [0, 1], once per batch, on the training device; counts
        the training batches consumed (the loader's resumable position)."""
        trainer = getattr(self, "trainer", None)
        if trainer is not None and trainer.training and self._train_sampler is not None:
            self._train_sampler.consumed += 1
        return images_to_float(batch)

    def train_dataloader(self) -> DataLoader:
        dataset = self.train_dataset()
        rank, world = self._ranks()
        self._train_sampler = TwoViewBatchSampler(
            dataset.counts, NUM_VIEWS, self.batch_size, self.seed, self.class_balanced,
            rank, world,
        )  # fmt: skip
        return ResumableDataLoader(dataset, batch_sampler=self._train_sampler,
                                   **self._loader_options())  # fmt: skip

    def eval_dataloader(self, split: str) -> DataLoader:
        """Every object × view of ``split`` in order (category, object, view); each process
        of a data-parallel run gets its share."""
        dataset = self.eval_dataset(split)
        dataset.all_views = self.eval_all_views
        rank, world = self._ranks()
        sampler = None
        if world > 1:
            sampler = DistributedSampler(dataset, world, rank, shuffle=False, drop_last=False)
        return DataLoader(dataset, batch_size=self.eval_batch_size, sampler=sampler,
                          **self._loader_options())  # fmt: skip

    def val_dataloader(self) -> DataLoader:
        return self.eval_dataloader("val")

    def test_dataloader(self) -> DataLoader:
        return self.eval_dataloader("test")

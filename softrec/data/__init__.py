"""Data: the ShapeNet rendering dataset (NMR release) in HDF5, a synthetic stand-in, the
voxelizer and the loaders.

* Conventions (views, cameras, voxel layout, RGB): :mod:`softrec.data.conventions`.
* :data:`CATEGORIES`: the 13 ``(synset, name, paper_name)`` in the paper's row order.
* :func:`voxelize`, :func:`voxel_iou`: meshes → solid 32³ grids in the dataset layout.
* :func:`make_synthetic_dataset`: procedural data (never overwrites foreign files).
* :class:`TwoViewDataset`, :class:`ViewVoxelDataset`, :class:`ShapeNetDataModule`,
  :func:`images_to_float` (loaders deliver uint8 images).
* Format of the files: ``data/README.md`` and :mod:`softrec.data.h5format`.
"""

from .categories import CATEGORIES, SYNSET_IDS, SYNSET_TO_NAME, resolve_categories
from .conventions import FORMAT_VERSION, NUM_VIEWS, view_eyes, view_to_camera
from .datamodule import ShapeNetDataModule
from .datasets import TwoViewDataset, ViewVoxelDataset, images_to_float
from .h5format import open_split
from .synthetic import ForeignDataError, make_synthetic_dataset
from .voxelize import from_dataset_layout, to_dataset_layout, voxel_iou, voxelize

__all__ = [
    "CATEGORIES",
    "ForeignDataError",
    "FORMAT_VERSION",
    "NUM_VIEWS",
    "SYNSET_IDS",
    "SYNSET_TO_NAME",
    "ShapeNetDataModule",
    "TwoViewDataset",
    "ViewVoxelDataset",
    "from_dataset_layout",
    "images_to_float",
    "make_synthetic_dataset",
    "open_split",
    "resolve_categories",
    "to_dataset_layout",
    "view_eyes",
    "view_to_camera",
    "voxel_iou",
    "voxelize",
]

"""Synthetic ShapeNet-like data: procedural objects of the 13 categories, rendered and
voxelized exactly like the NMR release (see :func:`make_synthetic_dataset`)."""

from .build import DEFAULT_SPLIT_SIZES, GENERATOR_VERSION, make_synthetic_dataset
from .generators import GENERATORS
from .objects import SyntheticObject, generate_object, object_arrays, object_rng
from .ownership import MANIFEST_NAME, ForeignDataError
from .parts import Part, merge, normalize
from .render import dataset_renderer, render_views, to_release_uint8

__all__ = [
    "DEFAULT_SPLIT_SIZES",
    "GENERATOR_VERSION",
    "MANIFEST_NAME",
    "ForeignDataError",
    "GENERATORS",
    "Part",
    "SyntheticObject",
    "dataset_renderer",
    "generate_object",
    "make_synthetic_dataset",
    "merge",
    "normalize",
    "object_arrays",
    "object_rng",
    "render_views",
    "to_release_uint8",
]

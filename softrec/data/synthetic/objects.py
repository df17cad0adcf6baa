"""One synthetic object: generated parts → normalized mesh → 24 renders + voxels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..categories import SYNSET_TO_NAME
from ..voxelize import voxelize
from .generators import GENERATORS
from .parts import face_names, merge, normalize
from .render import render_views

#: Mixed into every object's seed so that synthetic data never shares a stream with
#: other uses of the user's seed.
SEED_DOMAIN = 0x50F7

#: The generators build objects facing +z; in the release (y up) every object's front faces
#: −z, so view 0 (camera on the −z side) sees the front. A half turn about y takes one to
#: the other: it keeps y up and x as the lateral axis, and being a rotation (not a mirror)
#: it keeps the faces' winding.
BUILD_TO_RELEASE = np.diag([-1.0, 1.0, -1.0])


@dataclass
class SyntheticObject:
    """A normalized object: vertices float32 (V, 3) in [−0.5, 0.5]³ (+y up, front towards
    −z, lateral axis x), faces int64 (F, 3), face colors float32 (F, 3) in [0, 1] and, for
    generated objects, the name of the part each face belongs to (str (F,), empty for
    unnamed parts)."""

    vertices: np.ndarray
    faces: np.ndarray
    face_colors: np.ndarray
    face_parts: np.ndarray | None = None

    def part_vertices(self, name: str) -> np.ndarray:
        """Vertices (K, 3) of the faces of parts called ``name`` (K = 0 when none)."""
        if self.face_parts is None:
            raise ValueError("this object carries no part names")
        used = np.unique(self.faces[self.face_parts == name])
        return self.vertices[used]


def object_rng(seed: int, synset: str, split_index: int, index: int) -> np.random.Generator:
    """Independent, reproducible stream per (seed, category, split, object)."""
    return np.random.default_rng([SEED_DOMAIN, seed, int(synset), split_index, index])


def generate_object(synset: str, rng: np.random.Generator) -> SyntheticObject:
    """Generate one object of category ``synset`` from ``rng``."""
    if synset not in GENERATORS:
        raise ValueError(f"no generator for synset {synset!r} ({SYNSET_TO_NAME.get(synset)})")
    parts = GENERATORS[synset](rng)
    vertices, faces, colors = merge(parts)
    vertices = normalize(vertices @ BUILD_TO_RELEASE.T).astype(np.float32)
    return SyntheticObject(vertices, faces, colors.astype(np.float32), face_names(parts))


def object_arrays(obj: SyntheticObject) -> tuple[np.ndarray, np.ndarray]:
    """Release-format arrays of an object: images uint8 (24, 4, 64, 64), voxels uint8
    (32, 32, 32) in the dataset layout."""
    images = render_views(obj.vertices, obj.faces, obj.face_colors)
    vox = voxelize(torch.from_numpy(obj.vertices), torch.from_numpy(obj.faces))
    return images, vox.numpy().astype(np.uint8)

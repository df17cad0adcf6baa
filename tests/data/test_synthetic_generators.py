"""The procedural object generators: valid normalized meshes, and variety within a category."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from softrec.data import CATEGORIES
from softrec.data.synthetic.generators import GENERATORS, telephone
from softrec.data.synthetic.objects import generate_object, object_rng

N_OBJECTS = 24


def _objects(synset: str, n: int = N_OBJECTS):
    return [generate_object(synset, object_rng(0, synset, 0, i)) for i in range(n)]


@pytest.mark.parametrize("synset,name", [(s, n) for s, n, _ in CATEGORIES])
def test_objects_are_closed_normalized_and_varied(synset, name):
    objs = _objects(synset)
    extents = []
    for o in objs:
        v, f = o.vertices, o.faces
        assert v.dtype == np.float32 and f.min() >= 0 and f.max() < len(v)
        assert o.face_colors.shape == (len(f), 3) and 0 <= o.face_colors.min() <= 1
        lo, hi = v.min(0), v.max(0)
        assert np.all(lo >= -0.5) and np.all(hi <= 0.5)
        assert np.linalg.norm(hi - lo) == pytest.approx(1.0, abs=1e-5)  # diagonal 1
        np.testing.assert_allclose((lo + hi) / 2, 0, atol=1e-6)  # bounding box centred
        # union of closed parts: every edge is shared by exactly two faces
        mesh = trimesh.Trimesh(v, f, process=False)
        assert mesh.is_watertight, name
        extents.append(hi - lo)
    extents = np.array(extents)
    # proportions vary across objects (not one shape in many colors)
    assert extents.std(0).max() > 0.02, (name, extents.std(0))


def test_telephone_kinds_differ_in_shape():
    # desk phones lie wide and low, handsets stand tall: both appear among a few objects
    rng = np.random.default_rng(1)
    aspects = []
    for _ in range(60):
        v = np.concatenate([p.vertices for p in telephone(rng)])
        ext = v.max(0) - v.min(0)
        aspects.append(ext[1] / ext[0])  # height / width
    aspects = np.array(aspects)
    assert (aspects < 0.6).any() and (aspects > 1.5).any()


def test_every_category_has_a_generator():
    assert set(GENERATORS) == {s for s, _, _ in CATEGORIES}

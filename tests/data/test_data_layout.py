"""The key layout test: voxels projected through the dataset camera match the masks.

Independent of the renderer's code path: voxel centres are projected with numpy from
the camera formulas (softrec.data.layout_check), compared with the alpha masks rendered
by softrec's renderer and stored in the HDF5 file.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from softrec.data import make_synthetic_dataset, open_split, view_to_camera
from softrec.data.h5format import IMAGES, VOXELS, atomic_h5, create_category
from softrec.data.layout_check import hull_mask_ious, probe_parts
from softrec.data.synthetic import SyntheticObject, merge, normalize, object_arrays

THRESHOLD = 0.9


@pytest.fixture(scope="module")
def probe_file(tmp_path_factory):
    """The asymmetric probe object written through the HDF5 writer and read back."""
    v, f, c = merge(probe_parts())
    obj = SyntheticObject(normalize(v).astype(np.float32), f, c.astype(np.float32))
    images, voxels = object_arrays(obj)
    path = tmp_path_factory.mktemp("probe") / "test.h5"
    with atomic_h5(path, "layout test") as h5:
        g = create_category(h5, "02933112", 1)
        g[IMAGES][0] = images
        g[VOXELS][0] = voxels
    h5, _ = open_split(path)
    with h5:
        return h5["02933112"][IMAGES][0], h5["02933112"][VOXELS][0].astype(bool)


def test_voxel_hull_matches_every_view(probe_file):
    images, vox = probe_file
    ious = hull_mask_ious(images, vox)
    assert ious.shape == (24,)
    assert ious.min() >= THRESHOLD, ious.round(3)


@pytest.mark.parametrize(
    "wrong",
    ["transpose_xy", "transpose_xz", "flip_y", "flip_x", "flip_z", "mirrored_azimuth"],
)
def test_wrong_layouts_fail(probe_file, wrong):
    images, vox = probe_file
    mirrored = wrong == "mirrored_azimuth"
    bad = {
        "transpose_xy": lambda g: np.swapaxes(g, 0, 1),
        "transpose_xz": lambda g: np.swapaxes(g, 1, 2),
        "flip_y": lambda g: g[::-1],
        "flip_x": lambda g: g[:, ::-1],
        "flip_z": lambda g: g[:, :, ::-1],
        "mirrored_azimuth": lambda g: g,
    }[wrong](vox)
    assert hull_mask_ious(images, bad, mirror_azimuth=mirrored).min() < THRESHOLD


def test_generated_categories_match_their_masks(tmp_path):
    # Real generated objects of a few categories, through make_synthetic_dataset. Thin
    # parts (legs, poles) are a voxel wide, so the mean over views is the robust check;
    # the correct layout must also beat a mirrored one on every object.
    root = make_synthetic_dataset(
        tmp_path,
        n_train=0,
        n_val=0,
        n_test=2,
        categories=["cabinet", "chair", "airplane"],
        num_workers=0,
        progress=False,
    )
    h5, synsets = open_split(root / "test.h5")
    with h5:
        for s in synsets:
            for i in range(h5[s][IMAGES].shape[0]):
                images, vox = h5[s][IMAGES][i], h5[s][VOXELS][i].astype(bool)
                good = hull_mask_ious(images, vox)
                assert good.mean() >= 0.75, (s, i, good.round(3))
                assert good.mean() > hull_mask_ious(images, vox[:, :, ::-1]).mean()


def test_view_to_camera():
    d, el, az = view_to_camera(torch.tensor([0, 1, 23]))
    assert torch.allclose(d, torch.full((3,), 2.732))
    assert torch.allclose(el, torch.full((3,), 30.0))
    assert torch.allclose(az, torch.tensor([0.0, -15.0, -345.0]))
    with pytest.raises(ValueError):
        view_to_camera(torch.tensor([24]))
    with pytest.raises(TypeError):
        view_to_camera(torch.tensor([1.0]))

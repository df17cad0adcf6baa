"""Voxelizer: analytic volumes, agreement with trimesh, open meshes, layout, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import trimesh

from softrec import icosphere
from softrec.data import from_dataset_layout, to_dataset_layout, voxel_iou, voxelize
from softrec.data.conventions import voxel_index_scale
from tests.conftest import SHARED_MESHES

SHARED = SHARED_MESHES
R = 32
SCALE, OFFSET = voxel_index_scale(R)


def _mesh(m: trimesh.Trimesh) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(m.vertices, dtype=torch.float32), torch.tensor(m.faces, dtype=torch.int64)


def _normalized(m: trimesh.Trimesh, extent: float = 0.9) -> trimesh.Trimesh:
    m = m.copy()
    m.apply_translation(-m.bounds.mean(0))
    m.apply_scale(extent / m.extents.max())
    return m


def _trimesh_solid(m: trimesh.Trimesh) -> torch.Tensor:
    """trimesh's filled voxelization on our grid, in the dataset layout."""
    pitch = 1.0 / SCALE
    shifted = m.copy()
    shifted.apply_translation(np.full(3, 0.5 * pitch))  # its centres k·pitch = ours
    vg = shifted.voxelized(pitch).fill()
    idx = np.round(vg.points / pitch).astype(int) + int(OFFSET) - 1
    idx = idx[np.all((idx >= 0) & (idx < R), axis=1)]
    grid = torch.zeros(R, R, R, dtype=torch.bool)
    grid[idx[:, 0], idx[:, 1], idx[:, 2]] = True
    return to_dataset_layout(grid)


def test_sphere_count_matches_analytic_volume():
    v, f = icosphere(4, 1.0)
    for radius in (0.2, 0.35, 0.45):
        vox = voxelize(v * radius, f)
        r_vox = radius * SCALE
        volume, area = 4 / 3 * math.pi * r_vox**3, 4 * math.pi * r_vox**2
        # Conservative: every voxel touching the surface counts, so the count lies between
        # the volume and the volume plus a shell of about one voxel.
        assert volume * 0.97 < vox.sum() < volume + area, (radius, int(vox.sum()), volume)


def test_cube_count_is_exact_for_aligned_faces():
    # A cube whose faces sit strictly inside voxels: exactly n³ voxels.
    lo, hi = (3 - OFFSET + 0.5) / SCALE, (20 - OFFSET + 0.5) / SCALE  # voxels 3..20
    m = trimesh.creation.box(bounds=[[lo] * 3, [hi] * 3])
    vox = voxelize(*_mesh(m))
    assert int(vox.sum()) == 18**3
    # Analytic volume of an arbitrary cube, within a one-voxel shell.
    side = 0.6 * SCALE
    vox = voxelize(*_mesh(trimesh.creation.box(extents=[0.6] * 3)))
    assert side**3 <= vox.sum() <= (side + 2) ** 3


@pytest.mark.parametrize("name", ["sphere", "box", "capsule", "torus", "spot"])
def test_agrees_with_trimesh_on_closed_meshes(name):
    if name == "sphere":
        m = trimesh.creation.icosphere(3, 0.4)
    elif name == "box":
        m = trimesh.creation.box(extents=[0.8, 0.3, 0.5])
    elif name == "capsule":
        m = _normalized(trimesh.creation.capsule(height=1.0, radius=0.3))
    elif name == "torus":
        m = _normalized(trimesh.creation.torus(0.3, 0.12))
    else:
        path = SHARED / "spot.obj"
        if not path.is_file():
            pytest.skip("../shared/meshes/spot.obj not available")
        m = trimesh.load(path, force="mesh")
        m.merge_vertices(merge_tex=True, merge_norm=True)  # UV seams split the OBJ's vertices
        m = _normalized(m)
    assert m.is_watertight
    ours = voxelize(*_mesh(m))
    iou = voxel_iou(ours[None], _trimesh_solid(m)[None])
    assert iou.item() >= 0.95, iou


def test_torus_hole_stays_empty():
    m = _normalized(trimesh.creation.torus(0.3, 0.1), 0.95)
    grid = from_dataset_layout(voxelize(*_mesh(m)))
    c = int(OFFSET)  # the centre voxel: inside the hole of the torus
    assert not grid[c, c, c]
    assert grid.sum() > 0


def test_open_mesh_still_gives_a_solid():
    sphere = trimesh.creation.icosphere(3, 0.4)
    closed = voxelize(*_mesh(sphere))
    # Remove a few faces: holes let a plain exterior flood fill leak into the interior.
    rng = np.random.default_rng(0)
    keep = np.ones(len(sphere.faces), bool)
    keep[rng.choice(len(keep), 12, replace=False)] = False
    holed = trimesh.Trimesh(sphere.vertices, sphere.faces[keep], process=False)
    assert not holed.is_watertight
    iou = voxel_iou(voxelize(*_mesh(holed))[None], closed[None])
    assert iou.item() >= 0.9, iou


def test_real_open_meshes_give_solids():
    paths = [SHARED / n for n in ("shapenet_chair_21bfb150.obj", "desk.obj")]
    if not all(p.is_file() for p in paths):
        pytest.skip("../shared/meshes not available")
    for path in paths:
        m = _normalized(trimesh.load(path, force="mesh"), 0.95)
        vox = voxelize(*_mesh(m))
        ref = _trimesh_solid(m)  # surface-ish for open meshes: ours must contain it mostly
        inter = (vox & ref).sum().item()
        assert inter / ref.sum().item() > 0.9, path.name
        assert 0 < vox.float().mean() < 0.5


def test_batched_equals_unbatched_and_layout_axes():
    v, f = icosphere(2, 0.3)
    shifted = v + torch.tensor([0.15, -0.1, 0.05])
    batch = voxelize(torch.stack((v, shifted)), f)
    assert batch.shape == (2, R, R, R) and batch.dtype == torch.bool
    assert torch.equal(batch[1], voxelize(shifted, f))

    # Dataset layout: [iy][ix][R−1−iz] → a shift along +x moves dim 1 up, +y moves dim 0
    # up, +z moves dim 2 down.
    def centroid(g):
        return torch.nonzero(g).float().mean(0)

    d = centroid(batch[1]) - centroid(batch[0])
    expected = torch.tensor([-0.1, 0.15, -0.05]) * SCALE
    assert torch.allclose(d, expected, atol=0.6), d


def test_other_resolutions_and_per_batch_faces():
    v, f = icosphere(2, 0.4)
    vox = voxelize(v[None].repeat(2, 1, 1), f[None].repeat(2, 1, 1), resolution=16)
    assert vox.shape == (2, 16, 16, 16)
    r_vox = 0.4 * 15
    assert 4 / 3 * math.pi * r_vox**3 * 0.9 < vox[0].sum() < 4 / 3 * math.pi * (r_vox + 1.5) ** 3


def test_bad_inputs_raise():
    v, f = icosphere(1, 0.3)
    with pytest.raises(TypeError):
        voxelize(v.numpy(), f)
    with pytest.raises(ValueError):
        voxelize(v[:, :2], f)
    with pytest.raises(ValueError):
        voxelize(v, f + 1000)
    with pytest.raises(TypeError):
        voxelize(v, f.float())
    with pytest.raises(ValueError):
        voxelize(v, f, resolution=1)
    with pytest.raises(ValueError):
        voxel_iou(
            torch.zeros(1, 4, 4, 4, dtype=torch.bool), torch.zeros(1, 4, 4, 3, dtype=torch.bool)
        )


def test_voxel_iou_values():
    a = torch.zeros(3, 4, 4, 4, dtype=torch.bool)
    b = a.clone()
    a[0, :2] = True
    b[0, 1:3] = True  # overlap 1 slab of 3
    a[1, 0] = True
    b[1, 0] = True
    iou = voxel_iou(a, b)
    assert iou.dtype == torch.float64
    assert torch.allclose(iou, torch.tensor([1 / 3, 1.0, 1.0], dtype=torch.float64))

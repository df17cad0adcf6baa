"""The color metric (docs/conventions.md §7) on hand-made images, its mean-color baseline,
and the colored mesh export."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from softrec.image_encoding import premultiplied_to_stored, straight_to_stored
from softrec.mesh import colors_to_uint8, icosphere, save_mesh
from softrec.metrics import MeshColorError, color_errors, mean_foreground_color
from softrec.render import SoftRenderer

S = 8


def square_target(rgb: tuple[float, float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 4, S, S) dataset image of a flat-colored square (rows/cols 2..5) and its mask."""
    alpha = torch.zeros(1, 1, S, S)
    alpha[..., 2:6, 2:6] = 1.0
    straight = torch.tensor(rgb).view(1, 3, 1, 1).expand(1, 3, S, S)
    return straight_to_stored(straight, alpha), alpha


def premultiplied(rgb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    return torch.cat([rgb * alpha, alpha], 1)


def test_perfect_prediction_and_known_offset():
    target, alpha = square_target((0.2, 0.4, 0.6))
    true_rgb = torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1).expand(1, 3, S, S)
    # the stored RGB is inverted: comparing it as is would not give 0
    assert not torch.allclose(target[:, :3] * alpha, true_rgb * alpha)
    l1, psnr, valid = color_errors(premultiplied(true_rgb, alpha), target, psnr_cap_db=100.0)
    assert valid.item() and l1.item() == pytest.approx(0.0, abs=1e-7)
    assert psnr.item() == pytest.approx(100.0)
    # +0.1 on every channel inside the mask; anything outside the target mask is ignored
    render = premultiplied(true_rgb + 0.1, alpha)
    render[..., 0, 0] = torch.tensor([0.9, 0.1, 0.5, 1.0])
    l1, psnr, _ = color_errors(render, target)
    assert l1.item() == pytest.approx(0.1, abs=1e-6)
    assert psnr.item() == pytest.approx(20.0, abs=1e-4)  # MSE 0.01


def test_missed_pixels_show_white_and_empty_masks_are_invalid():
    target, alpha = square_target((0.2, 0.4, 0.6))
    render = torch.zeros(1, 4, S, S)  # nothing rendered: white over the whole target mask
    l1, psnr, _ = color_errors(render, target)
    expected = (0.8 + 0.6 + 0.4) / 3
    assert l1.item() == pytest.approx(expected, abs=1e-6)
    mse = (0.8**2 + 0.6**2 + 0.4**2) / 3
    assert psnr.item() == pytest.approx(-10 * math.log10(mse), abs=1e-4)
    empty = torch.zeros(1, 4, S, S)
    _, _, valid = color_errors(render, empty)
    assert not valid.item()
    with pytest.raises(ValueError, match="must both be"):
        color_errors(render[:, :3], target[:, :3])


def test_mean_foreground_color_weights_by_alpha():
    alpha = torch.zeros(1, 1, S, S)
    rgb = torch.zeros(1, 3, S, S)
    alpha[..., 0, 0], rgb[..., 0, 0] = 1.0, torch.tensor([1.0, 0.0, 0.0])
    alpha[..., 0, 1], rgb[..., 0, 1] = 0.5, torch.tensor([0.0, 1.0, 0.0])
    c = mean_foreground_color(straight_to_stored(rgb, alpha))
    assert torch.allclose(c, torch.tensor([[1 / 1.5, 0.5 / 1.5, 0.0]]), atol=1e-6)
    assert torch.allclose(mean_foreground_color(torch.zeros(1, 4, S, S)), torch.full((1, 3), 0.5))


@pytest.fixture(scope="module")
def scene():
    """A two-colored sphere seen from 4 cameras, rendered unlit as the dataset images."""
    v, f = icosphere(2, 0.4)
    colors = torch.where((v[f].mean(1)[:, :1] > 0), torch.tensor([0.9, 0.2, 0.1]),
                         torch.tensor([0.1, 0.3, 0.8]))  # fmt: skip
    renderer = SoftRenderer(image_size=32, sigma=1e-5, viewing_angle=15, lighting=False,
                            aggr_rgb="hard", backend="reference")  # fmt: skip
    az = torch.tensor([0.0, 90.0, 180.0, 270.0]).deg2rad()
    eyes = torch.stack([2.7 * az.sin(), torch.zeros(4) + 0.5, -2.7 * az.cos()], 1)
    with torch.no_grad():
        rgba = renderer(v[None].expand(4, -1, -1), f, colors[None, :, None].expand(4, -1, -1, -1),
                        eyes=eyes)  # fmt: skip
    return v, f, colors, renderer, eyes, premultiplied_to_stored(rgba)


def test_mesh_color_error_perfect_colors_and_the_baseline(scene):
    v, f, colors, renderer, eyes, images = scene
    metric = MeshColorError(num_classes=2, distributed=False)
    view = torch.tensor([1])
    metric.update(renderer, v[None], f, colors[None], images[None], eyes[None], view,
                  torch.tensor([1]))  # fmt: skip
    out = metric.compute()
    assert float(out["ours/l1_input"][1]) < 1e-3 and float(out["ours/l1_other"][1]) < 1e-3
    assert math.isnan(float(out["ours/l1_input"][0]))  # class 0 not seen
    assert float(out["ours/psnr_input"][1]) > 50 and float(out["ours/psnr_other"][1]) > 50
    assert int(metric.counts[0, 1]) == 1 and int(metric.counts[1, 1]) == 3
    # the baseline, recomputed as defined: the input's mean foreground color, flat, on the
    # same (here: the true) silhouettes, averaged over the images of each group
    inp = images[1].numpy()
    a = inp[3]
    mean_rgb = ((a[None] - inp[:3]).clip(0).reshape(3, -1).sum(1)) / a.sum()
    flat = torch.from_numpy(mean_rgb).float().view(1, 3, 1, 1) * images[:, 3:4]
    base_l1, base_psnr, _ = color_errors(torch.cat([flat, images[:, 3:4]], 1), images)
    assert float(out["mean_color/l1_input"][1]) == pytest.approx(float(base_l1[1]), abs=1e-6)
    others = [0, 2, 3]
    assert float(out["mean_color/l1_other"][1]) == pytest.approx(
        float(base_l1[others].mean()), abs=1e-6
    )
    assert float(out["mean_color/psnr_other"][1]) == pytest.approx(
        float(base_psnr[others].mean()), abs=1e-4
    )
    assert float(out["mean_color/l1_other"][1]) > 0.05  # two colors: flat is visibly off


@pytest.mark.parametrize("suffix", [".ply", ".glb", ".obj"])
def test_save_mesh_round_trip(tmp_path, suffix):
    import trimesh

    v, f = icosphere(1, 0.5)
    c = torch.rand(len(v), 3, generator=torch.Generator().manual_seed(0))
    path = save_mesh(tmp_path / f"m{suffix}", v, f, vertex_colors=c)
    mesh = trimesh.load(path, force="mesh", process=False)
    np.testing.assert_allclose(mesh.vertices, v.numpy(), atol=1e-5)
    np.testing.assert_array_equal(mesh.faces, f.numpy())
    assert mesh.visual.kind == "vertex"
    got = np.asarray(mesh.visual.vertex_colors)[:, :3].astype(int)
    assert np.abs(got - colors_to_uint8(c).astype(int)).max() <= 1
    assert not list(tmp_path.glob("*.tmp"))


def test_save_mesh_rejects_unknown_formats(tmp_path):
    v, f = icosphere(0, 0.5)
    with pytest.raises(ValueError, match=r"mesh format '\.stl'.*use one of \.obj, \.ply, \.glb"):
        save_mesh(tmp_path / "m.stl", v, f)
    with pytest.raises(ValueError, match="vertex_colors must be"):
        save_mesh(tmp_path / "m.ply", v, f, vertex_colors=torch.zeros(3, 3))

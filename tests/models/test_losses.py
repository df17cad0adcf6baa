"""Losses against hand-computed values."""

import math

import pytest
import torch

import softrec
from softrec.image_encoding import stored_to_premultiplied
from softrec.losses import (
    FlattenLoss,
    LaplacianLoss,
    color_l1_loss,
    multiview_iou_loss,
    soft_iou_loss,
)


def grid_mesh(n: int = 5, z=None):
    """(n×n) vertex grid in the xy plane, two triangles per cell: (1, n², 3), (F, 3)."""
    ys, xs = torch.meshgrid(torch.arange(n).float(), torch.arange(n).float(), indexing="ij")
    v = torch.stack([xs, ys, torch.zeros_like(xs) if z is None else z], -1).reshape(1, -1, 3)
    faces = []
    for r in range(n - 1):
        for c in range(n - 1):
            a, b, d, e = r * n + c, r * n + c + 1, (r + 1) * n + c, (r + 1) * n + c + 1
            faces += [(a, b, e), (a, e, d)]
    return v, torch.tensor(faces)


def test_soft_iou_hand_values():
    p = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    t = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    assert soft_iou_loss(p, t).item() == pytest.approx(0.5, abs=1e-5)
    p2 = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    # inter = 0.5, union = Σ(p + t − p·t) = (0.5 + 1 − 0.5) + 0.5 = 1.5
    assert soft_iou_loss(p2, t).item() == pytest.approx(1 - 0.5 / 1.5, abs=1e-5)
    assert soft_iou_loss(t, t).item() == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ValueError):
        soft_iou_loss(p, torch.zeros(1, 5))


def test_multiview_iou_is_mean_of_four():
    torch.manual_seed(0)
    sil = torch.rand(8, 6, 6)
    ma, mb = (torch.rand(2, 6, 6) > 0.5).float(), (torch.rand(2, 6, 6) > 0.5).float()
    expect = (
        soft_iou_loss(sil[0:2], ma) + soft_iou_loss(sil[2:4], ma)
        + soft_iou_loss(sil[4:6], mb) + soft_iou_loss(sil[6:8], mb)
    ) / 4
    assert multiview_iou_loss(sil, ma, mb).item() == pytest.approx(expect.item(), abs=1e-5)
    with pytest.raises(ValueError):
        multiview_iou_loss(sil[:6], ma, mb)


def test_color_l1_undoes_inverted_rgb():
    rgb = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    alpha = torch.tensor([[1.0, 0.0], [1.0, 0.5]]).view(1, 1, 2, 2)
    stored = torch.cat([alpha * (1 - rgb), alpha], 1)  # dataset convention
    premult = stored_to_premultiplied(stored)
    assert torch.allclose(premult, alpha * rgb, atol=1e-6)
    rendered = torch.cat([alpha * rgb, alpha], 1)
    assert color_l1_loss(rendered, stored).item() == pytest.approx(0.0, abs=1e-6)
    assert color_l1_loss(rendered + torch.tensor([0.1, 0, 0, 0]).view(1, 4, 1, 1), stored).item() \
        == pytest.approx(0.1 / 3, abs=1e-6)


def test_flatten_zero_on_flat_sheet_and_positive_when_folded():
    v, f = grid_mesh(5)
    loss = FlattenLoss(f)
    # interior edges of a 4×4-cell grid = all edges − the 16 boundary edges
    total_edges = 4 * 5 * 2 + 16  # horizontal + vertical + diagonals
    assert loss.num_edges == total_edges - 16  # 16 boundary edges
    assert loss(v).item() == pytest.approx(0.0, abs=1e-5)
    # fold the sheet by 90° along x = 2: every edge on the crease gets (cos 90° + 1)² = 1
    z = torch.clamp(torch.arange(5).float() - 2, min=0).repeat(5, 1)
    x = torch.clamp(torch.arange(5).float(), max=2).repeat(5, 1)
    y = torch.arange(5).float()[:, None].expand(5, 5)
    folded = torch.stack([x, y, z], -1).reshape(1, -1, 3)
    assert loss(folded).item() == pytest.approx(4.0, abs=1e-4)  # 4 crease edges


def test_laplacian_of_regular_grid():
    v, f = grid_mesh(5)
    lap = LaplacianLoss(25, f)
    coords = lap.laplacian(v)[0]
    # interior vertex (row 2, col 2) with the (a, b, e)/(a, e, d) triangulation has 6
    # neighbours symmetric about it → zero Laplacian
    assert torch.allclose(coords[2 * 5 + 2], torch.zeros(3), atol=1e-6)
    # corner (0, 0): neighbours (1,0), (0,1), (1,1) → mean (2/3, 2/3) → L = (−2/3, −2/3, 0)
    assert torch.allclose(coords[0], torch.tensor([-2 / 3, -2 / 3, 0.0]), atol=1e-6)
    # a bump of height h at the centre: L_z(centre) = h, each of its 6 neighbours −h/6
    # (interior neighbours have degree 6) → loss = h² + 6·(h/6)² = 7h²/6
    h = 0.3
    bumped = v.clone()
    bumped[0, 12, 2] = h
    assert lap(bumped).item() - lap(v).item() == pytest.approx(7 * h * h / 6, abs=1e-5)


def test_regularizers_on_icosphere_vectorized_and_differentiable():
    v, f = softrec.icosphere(2, 0.5)
    lap, flat = LaplacianLoss(v.shape[0], f), FlattenLoss(f)
    assert flat.num_edges == f.shape[0] * 3 // 2  # closed mesh: every edge shared
    x = v[None].repeat(2, 1, 1).requires_grad_(True)
    total = lap(x) + flat(x)
    total.backward()
    assert math.isfinite(total.item()) and torch.isfinite(x.grad).all()

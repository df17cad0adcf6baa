"""Encoder / decoder / color branch / schedules of softrec.models (tiny sizes, CPU)."""

import pytest
import torch

from softrec.models import (
    ColorBranch,
    MeshDecoder,
    ReconstructionNet,
    ResNetEncoder,
    StepSchedule,
    step_factor,
)


def square_two_view_batch() -> dict[str, torch.Tensor]:
    """Two objects (a grey square in a 32-px image), each seen in two dataset-like views."""
    import softrec

    img = torch.zeros(2, 4, 32, 32)
    img[:, :, 8:24, 8:24] = 0.5
    img[:, 3, 8:24, 8:24] = 1.0
    eyes = softrec.eye_from_angles(torch.full((4,), 2.732), torch.full((4,), 30.0),
                                   torch.tensor([0.0, -45.0, -75.0, -105.0]))  # fmt: skip
    return {"images_a": img, "images_b": img.clone(), "eye_a": eyes[:2], "eye_b": eyes[2:]}


def tiny_net(color: bool = False, subdivisions: int = 1) -> ReconstructionNet:
    enc = ResNetEncoder(width=8, blocks=(1, 1), out_dim=16)
    dec = MeshDecoder(in_dim=16, hidden=(32,), template_subdivisions=subdivisions)
    col = ColorBranch(in_dim=16, num_faces=dec.faces.shape[0], num_colors=4, sample_size=8,
                      hidden=16) if color else None  # fmt: skip
    return ReconstructionNet(enc, dec, col)


def test_encoder_shapes_and_resnet18_layout():
    enc = ResNetEncoder(width=8, blocks=(2, 2, 2, 2), out_dim=24)
    assert enc(torch.rand(3, 4, 64, 64)).shape == (3, 24)
    assert sum(1 for m in enc.modules() if type(m).__name__ == "BasicBlock") == 8
    with pytest.raises(ValueError, match="encoder expects"):
        enc(torch.rand(3, 3, 64, 64))
    with pytest.raises(ValueError):
        ResNetEncoder(width=0)


@pytest.mark.parametrize("subdivisions,nv,nf", [(1, 42, 80), (3, 642, 1280)])
def test_decoder_template_sizes(subdivisions, nv, nf):
    dec = MeshDecoder(in_dim=8, hidden=(16,), template_subdivisions=subdivisions)
    assert dec.template_vertices.shape == (nv, 3) and dec.faces.shape == (nf, 3)
    # undeformed template: the icosphere of radius template_radius · output_scale
    r = dec.rest_shape().norm(dim=1)
    assert torch.allclose(r, torch.full_like(r, 0.25), atol=1e-3)


def test_decoder_output_bounds_even_for_extreme_features():
    torch.manual_seed(0)
    dec = MeshDecoder(in_dim=8, hidden=(16,), template_subdivisions=1)
    for scale in (1.0, 1e2, 1e4):
        v = dec(torch.randn(5, 8) * scale)
        assert v.shape == (5, 42, 3)
        assert torch.isfinite(v).all() and v.abs().max() <= 0.5
    # extreme raw heads directly: stays inside the cube
    bias = torch.randn(2, 42, 3) * 50
    cen = torch.randn(2, 3) * 50
    v = dec.deform(bias, cen)
    assert v.abs().max() <= 0.5 and torch.isfinite(v).all()


def test_decoder_zero_coordinates_can_move():
    dec = MeshDecoder(in_dim=4, hidden=(8,), template_subdivisions=0)
    zero = dec.template_vertices.abs() < 1e-9
    assert zero.any()
    bias = torch.zeros(1, dec.num_vertices, 3, requires_grad=True)
    dec.deform(bias, torch.zeros(1, 3)).sum().backward()
    assert (bias.grad[0][zero] != 0).all()


def test_color_branch_gradient_reaches_palette_and_heads():
    torch.manual_seed(0)
    net = tiny_net(color=True)
    images = torch.rand(2, 4, 32, 32)
    feats = net.encoder(images)
    palette = net.color.palette(feats, images)
    palette.retain_grad()
    colors = net.color(feats, images)
    assert colors.shape == (2, 80, 3) and palette.shape == (2, 4, 3)
    assert colors.min() >= 0 and colors.max() <= 1
    # recompute through the palette tensor we hold, so its .grad is populated
    sel = torch.softmax(net.color.selector(feats).view(2, 80, 4), -1)
    (torch.einsum("bfk,bkc->bfc", sel, palette) ** 2).sum().backward()
    assert palette.grad is not None and palette.grad.abs().sum() > 0
    for head in (net.color.sampler, net.color.selector):
        assert head[-1].weight.grad is not None and head[-1].weight.grad.abs().sum() > 0


def test_palette_is_average_of_foreground_pixels():
    branch = ColorBranch(in_dim=4, num_faces=2, num_colors=3, sample_size=4, hidden=8)
    img = torch.zeros(1, 4, 4, 4)
    img[0, 3, :2] = 1.0  # top half foreground
    img[0, :3, :2] = 1.0 - torch.tensor([0.2, 0.4, 0.6]).view(3, 1, 1)  # inverted storage
    pal = branch.palette(torch.randn(1, 4), img)
    assert torch.allclose(pal, torch.tensor([0.2, 0.4, 0.6]).expand(1, 3, 3), atol=1e-4)


def test_net_factories_and_mismatch_error():
    enc = ResNetEncoder(width=8, blocks=(1,), out_dim=16)

    def dec(**kw):
        return MeshDecoder(hidden=(8,), template_subdivisions=1, **kw)

    def col(**kw):
        return ColorBranch(num_colors=2, sample_size=4, hidden=8, **kw)

    net = ReconstructionNet(enc, dec, col)
    assert net.color.num_faces == 80
    v, c = net(torch.rand(1, 4, 16, 16))
    assert v.shape == (1, 42, 3) and c.shape == (1, 80, 3)
    with pytest.raises(ValueError, match="faces"):
        ReconstructionNet(enc, MeshDecoder(16, (8,), 1), ColorBranch(16, num_faces=7))


def test_step_schedule():
    assert step_factor(0, [150000], 0.3) == 1.0
    assert step_factor(149999, [150000], 0.3) == 1.0
    assert step_factor(150000, [150000], 0.3) == pytest.approx(0.3)
    assert step_factor(10, [5, 8], 0.5) == pytest.approx(0.25)
    s = StepSchedule([3], 0.1)
    assert s(2) == 1.0 and s(3) == pytest.approx(0.1)


def test_full_model_training_step_reaches_palette_through_renderer():
    """The color loss, rendered with softmax color aggregation, trains the color branch."""
    import softrec
    from softrec.models import SoftRasModule

    torch.manual_seed(0)
    net = tiny_net(color=True)
    renderer = softrec.SoftRenderer(image_size=16, sigma=1e-4, dist_eps=1e-10, viewing_angle=15)
    module = SoftRasModule(net, renderer, lambda params: torch.optim.Adam(params, 1e-3),
                           loss_weights={"iou": 1, "laplacian": 5e-3, "flatten": 5e-4,
                                         "color": 1.0},
                           schedule={"milestones": [2], "lr_gamma": 0.3, "sigma_gamma": 0.3})
    batch = square_two_view_batch()
    terms, renders, vertices, colors = module.compute_losses(batch)
    assert renders.shape == (8, 4, 16, 16) and colors.shape == (4, 80, 3)
    assert set(terms) == {"iou", "laplacian", "flatten", "color", "loss"}
    terms["color"].backward()
    assert net.color.sampler[-1].weight.grad.abs().sum() > 0
    assert net.color.selector[-1].weight.grad.abs().sum() > 0
    assert module.sigma_at(1) == pytest.approx(1e-4) and module.sigma_at(2) == pytest.approx(3e-5)
    with pytest.raises(ValueError, match="unknown loss"):
        SoftRasModule(net, renderer, None, loss_weights={"chamfer": 1.0})


def test_bf16_network_feeds_the_renderer_float32():
    import softrec
    from softrec.models import SoftRasModule

    torch.manual_seed(0)
    renderer = softrec.SoftRenderer(image_size=16, sigma=1e-4, viewing_angle=15)
    module = SoftRasModule(tiny_net(), renderer, None, net_precision="bf16")
    vertices, colors = module.run_net(torch.rand(2, 4, 32, 32))
    assert vertices.dtype == torch.float32 and colors is None
    full = SoftRasModule(tiny_net(), renderer, None)
    full.net.load_state_dict(module.net.state_dict())
    ref, _ = full.run_net(torch.rand(2, 4, 32, 32))
    assert ref.dtype == torch.float32
    with pytest.raises(ValueError, match="net_precision"):
        SoftRasModule(tiny_net(), renderer, None, net_precision="fp8")

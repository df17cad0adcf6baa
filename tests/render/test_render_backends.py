"""The compiled backends against the dense reference: values, gradients, gradcheck."""

from __future__ import annotations

import pytest
import torch

from softrec.render import soft_rasterize
from softrec.render.options import RasterOptions
from softrec.render.reference import soft_rasterize_reference
from tests.render.helpers import (
    option_grid,
    option_id,
    random_faces,
    render_and_grads,
    sphere_screen_faces,
)

GRID = list(option_grid())
S = 12


def _compare(case, dtype, backend, rtol):
    opts = dict(case)
    textured = opts.pop("textured")
    texels = 3 if opts.get("texture_type") == "vertex" else 4
    fv, tex = random_faces(texels=texels, dtype=dtype, seed=len(option_id(case)))
    tex = tex if textured else None
    kw = dict(sigma=3e-3, gamma=3e-2, background_color=(0.2, 0.3, 0.4), **opts)
    upstream = torch.randn(2, 4, S, S, dtype=dtype, generator=torch.Generator().manual_seed(1))
    if backend == "cuda":
        fv_d, tex_d, up_d = fv.cuda(), None if tex is None else tex.cuda(), upstream.cuda()
        out, grads = render_and_grads(fv_d, tex_d, "cuda", up_d, **kw)
        out, grads = out.cpu(), [None if g is None else g.cpu() for g in grads]
    else:
        out, grads = render_and_grads(fv, tex, backend, upstream, **kw)
    ref_out, ref_grads = render_and_grads(fv, tex, "reference", upstream, **kw)
    torch.testing.assert_close(out, ref_out, rtol=rtol, atol=rtol)
    for got, want in zip(grads, ref_grads, strict=True):
        if want is None:
            continue
        scale = max(float(want.abs().max()), 1.0)
        torch.testing.assert_close(got, want, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("case", GRID, ids=option_id)
def test_cpu_matches_reference_float64(case):
    _compare(case, torch.float64, "cpu", rtol=1e-9)


@pytest.mark.parametrize("case", GRID[::3], ids=option_id)
def test_cpu_matches_reference_float32(case):
    _compare(case, torch.float32, "cpu", rtol=1e-4)


def test_cpu_backend_is_really_compiled():
    from softrec.render import resolve_backend

    assert resolve_backend(torch.device("cpu"), "cpu") == "cpu"
    assert resolve_backend(torch.device("cpu")) in ("cpu", "reference")


@pytest.mark.parametrize("dist_func", ["euclidean", "barycentric"])
@pytest.mark.parametrize("aggr", ["prod", "softmax"])
def test_gradcheck_cpu(dist_func, aggr):
    fv, tex = random_faces(batch=1, faces=3, texels=3, seed=3, size=0.9, spread=0.3)
    fv.requires_grad_()
    kw = dict(image_size=6, sigma=2e-2, gamma=0.5, dist_func=dist_func, dist_eps=1e-12,
              backend="cpu")  # fmt: skip
    if aggr == "prod":

        def fn(v):
            return soft_rasterize(v, None, **kw)[:, 3]

        assert torch.autograd.gradcheck(fn, (fv,), eps=1e-6, atol=1e-6)
    else:
        tex.requires_grad_()

        def fn(v, t):
            return soft_rasterize(v, t, texture_type="vertex", double_side=True, **kw)[:, :3]

        assert torch.autograd.gradcheck(fn, (fv, tex), eps=1e-6, atol=1e-6)


def test_culling_is_exact_up_to_dist_eps():
    fv, _ = random_faces(batch=2, faces=10, seed=7)
    for dist_eps in (1e-4, 1e-8):
        opts = RasterOptions(image_size=S, sigma=3e-3, dist_eps=dist_eps)
        culled = soft_rasterize(
            fv, None, image_size=S, sigma=3e-3, dist_eps=dist_eps, backend="cpu"
        )
        dense = soft_rasterize_reference(fv, None, opts, cull=False)
        diff = (culled[:, 3] - dense[:, 3]).abs().max().item()
        # each skipped pair has D < dist_eps, so alpha moves by at most F * dist_eps
        assert diff <= fv.shape[1] * dist_eps
    # and the cut really is active: a coarse dist_eps changes the image measurably
    coarse = soft_rasterize(fv, None, image_size=S, sigma=3e-3, dist_eps=0.2, backend="cpu")
    assert (coarse[:, 3] - dense[:, 3]).abs().max().item() > 1e-3


def test_training_workload_matches_reference_float32():
    fv = sphere_screen_faces(batch=2, subdivisions=2)
    kw = dict(image_size=32, sigma=1e-4, dist_eps=1e-10)
    fa = fv.clone().requires_grad_()
    fb = fv.clone().requires_grad_()
    a = soft_rasterize(fa, None, backend="cpu", **kw)
    b = soft_rasterize(fb, None, backend="reference", **kw)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    target = torch.rand(2, 32, 32, generator=torch.Generator().manual_seed(0))
    ((a[:, 3] - target) ** 2).sum().backward()
    ((b[:, 3] - target) ** 2).sum().backward()
    torch.testing.assert_close(fa.grad, fb.grad, rtol=1e-3, atol=1e-3 * fb.grad.abs().max().item())


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("case", GRID, ids=option_id)
def test_cuda_matches_reference_float64(case):
    _compare(case, torch.float64, "cuda", rtol=1e-9)


@cuda
@pytest.mark.parametrize("case", GRID[::3], ids=option_id)
def test_cuda_matches_reference_float32(case):
    _compare(case, torch.float32, "cuda", rtol=1e-4)


@cuda
def test_cuda_matches_cpu_on_training_workload():
    fv = sphere_screen_faces(batch=8, subdivisions=3)
    kw = dict(image_size=64, sigma=1e-4, dist_eps=1e-10)
    fa = fv.clone().requires_grad_()
    fb = fv.cuda().requires_grad_()
    a = soft_rasterize(fa, None, backend="cpu", **kw)
    b = soft_rasterize(fb, None, backend="cuda", **kw)
    torch.testing.assert_close(a, b.cpu(), rtol=1e-4, atol=1e-5)
    a[:, 3].sum().backward()
    b[:, 3].sum().backward()
    torch.testing.assert_close(
        fa.grad, fb.grad.cpu(), rtol=1e-3, atol=1e-3 * fa.grad.abs().max().item()
    )

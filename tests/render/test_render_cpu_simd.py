"""The CPU backend's float32 vector path (SSE2 / AVX2) against the reference and against the
shared scalar code it mirrors, at every instruction set this CPU has."""

from __future__ import annotations

import math

import pytest
import torch

from softrec.render import _ext, soft_rasterize
from tests.render.helpers import option_grid, option_id, random_faces, sphere_screen_faces
from tests.render.test_render_backends import _compare

GRID = list(option_grid())
NAMES = {0: "scalar", 1: "sse2", 2: "avx2"}


def _module():
    module = _ext.load("cpu")
    if module is None:
        pytest.skip("the CPU extension could not be built")
    return module


def _levels() -> list[int]:
    module = _ext.load("cpu")
    if module is None:
        return []
    module.set_max_simd_level(2)
    return list(range(1, module.simd_level() + 1))


LEVELS = _levels()


@pytest.fixture
def simd_level(request):
    module = _module()
    module.set_max_simd_level(request.param)
    assert module.simd_level() == request.param
    yield request.param
    module.set_max_simd_level(2)


def _run(fv, tex, level, upstream, **kw):
    """Image and gradients of the CPU backend with its float32 path capped at `level`."""
    module = _module()
    module.set_max_simd_level(level)
    try:
        fv = fv.clone().requires_grad_()
        inputs = [fv]
        if tex is not None:
            tex = tex.clone().requires_grad_()
            inputs.append(tex)
        out = soft_rasterize(fv, tex, backend="cpu", **kw)
        grads = torch.autograd.grad((out * upstream).sum(), inputs, allow_unused=True)
        grads = [
            torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs, strict=True)
        ]
        return out.detach(), grads
    finally:
        module.set_max_simd_level(2)


@pytest.mark.parametrize("level", LEVELS, ids=lambda v: NAMES[v])
def test_vector_exp_error_bound(level):
    module = _module()
    lo, hi = -87.33654022216797, 88.72283935546875
    x = torch.linspace(lo, hi, 2_000_003, dtype=torch.float32)
    x = torch.cat([x, torch.tensor([0.0, -0.0, 1e-8, -1e-8, 0.5 * math.log(2), -23.0])])
    got = module.vector_exp(x, level).double()
    want = torch.exp(x.double())
    normal = (want >= torch.finfo(torch.float32).tiny) & (want <= torch.finfo(torch.float32).max)
    rel = ((got - want).abs() / want)[normal]
    assert rel.max().item() < 2.0**-23  # measured: 8.3e-8
    assert module.vector_exp(torch.zeros(1), level).item() == 1.0
    # beyond the float range: inf above ln(FLT_MAX), exactly 0 below ln(FLT_MIN)
    big = torch.tensor([88.7229, 89.0, 100.0, 1e30, math.inf])
    assert torch.isinf(module.vector_exp(big, level)).all()
    small = torch.tensor([-87.34, -90.0, -104.0, -1e30, -math.inf])
    assert (module.vector_exp(small, level) == 0).all()


@pytest.mark.parametrize("simd_level", LEVELS, ids=lambda v: NAMES[v], indirect=True)
@pytest.mark.parametrize("case", GRID, ids=option_id)
def test_vector_path_matches_reference_float32(case, simd_level):
    _compare(case, torch.float32, "cpu", rtol=1e-4)


@pytest.mark.parametrize("level", LEVELS, ids=lambda v: NAMES[v])
@pytest.mark.parametrize("case", GRID, ids=option_id)
def test_vector_path_matches_scalar_path(case, level):
    """Same float32 inputs through the vector path and the shared scalar code: equal up to
    the exp's rounding (and the lane-wise gradient summation order)."""
    opts = dict(case)
    textured = opts.pop("textured")
    texels = 3 if opts.get("texture_type") == "vertex" else 4
    fv, tex = random_faces(batch=1, faces=12, texels=texels, dtype=torch.float32, seed=5)
    tex = tex if textured else None
    kw = dict(image_size=13, sigma=3e-3, gamma=3e-2, background_color=(0.2, 0.3, 0.4), **opts)
    up = torch.randn(1, 4, 13, 13, generator=torch.Generator().manual_seed(4))
    out, grads = _run(fv, tex, level, up, **kw)
    ref_out, ref_grads = _run(fv, tex, 0, up, **kw)
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, ref_grads, strict=True):
        scale = max(float(want.abs().max()), 1.0)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("level", LEVELS, ids=lambda v: NAMES[v])
def test_vector_path_culls_exactly_like_scalar_path(level):
    """With `sum` aggregation alpha > 0 exactly where some pair survives culling: the
    surviving pixel-face pairs of both paths are the same."""
    fv = sphere_screen_faces(batch=3, subdivisions=2)
    for dist_func in ("euclidean", "barycentric"):
        kw = dict(image_size=37, sigma=1e-4, dist_eps=1e-3, aggr_alpha="sum", dist_func=dist_func)
        up = torch.ones(3, 4, 37, 37)
        a, _ = _run(fv, None, level, up, **kw)
        b, _ = _run(fv, None, 0, up, **kw)
        assert torch.equal(a[:, 3] > 0, b[:, 3] > 0)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("level", LEVELS, ids=lambda v: NAMES[v])
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_vector_path_training_workload(level, batch):
    """Bands of any height (B = 1 splits an image into bands) and odd image sizes."""
    fv = sphere_screen_faces(batch=batch, subdivisions=3)
    kw = dict(image_size=41, sigma=1e-4, dist_eps=1e-10)
    up = torch.rand(batch, 4, 41, 41, generator=torch.Generator().manual_seed(batch))
    out, (g,) = _run(fv, None, level, up, **kw)
    ref_out, (ref_g,) = _run(fv, None, 0, up, **kw)
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g, ref_g, rtol=1e-3, atol=1e-4 * float(ref_g.abs().max()))


@pytest.mark.parametrize("level", LEVELS, ids=lambda v: NAMES[v])
def test_backward_after_the_settings_changed(level):
    """The forward keeps D for the backward; a backward run with another instruction set or
    thread count must not replay it blindly."""
    module = _module()
    fv = sphere_screen_faces(batch=2, subdivisions=2)
    kw = dict(image_size=24, sigma=1e-4, dist_eps=1e-10, backend="cpu")
    up = torch.rand(2, 4, 24, 24, generator=torch.Generator().manual_seed(9))
    _, (want,) = _run(fv, None, 0, up, **{k: v for k, v in kw.items() if k != "backend"})
    threads = torch.get_num_threads()
    for other_level, other_threads in ((level, 1), (3 - level if 2 in LEVELS else 0, threads)):
        x = fv.clone().requires_grad_()
        module.set_max_simd_level(level)
        try:
            out = soft_rasterize(x, None, **kw)
            module.set_max_simd_level(other_level)
            torch.set_num_threads(other_threads)
            (g,) = torch.autograd.grad((out * up).sum(), [x])
        finally:
            module.set_max_simd_level(2)
            torch.set_num_threads(threads)
        torch.testing.assert_close(g, want, rtol=1e-3, atol=1e-4 * float(want.abs().max()))
    with torch.no_grad():  # no state kept: the same image
        torch.testing.assert_close(soft_rasterize(fv.requires_grad_(), None, **kw), out.detach())


def test_cpu_backend_is_deterministic():
    """Threads take work items dynamically; every item writes only its own outputs."""
    fv = sphere_screen_faces(batch=9, subdivisions=2)
    up = torch.rand(9, 4, 32, 32, generator=torch.Generator().manual_seed(5))
    kw = dict(image_size=32, sigma=1e-4, dist_eps=1e-10)
    first = _run(fv, None, 2, up, **kw)
    for _ in range(3):
        again = _run(fv, None, 2, up, **kw)
        assert torch.equal(again[0], first[0]) and torch.equal(again[1][0], first[1][0])

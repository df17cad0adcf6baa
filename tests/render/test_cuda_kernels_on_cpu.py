"""The CUDA kernels, compiled as plain C++ with a serial launch shim, against the CPU backend.

softrec/csrc/cuda/soft_raster_kernels.cuh is the exact kernel code the GPU runs (binning by
count → cumsum → atomic fill, then one thread per pixel). Here blockIdx/threadIdx loop
serially and atomicAdd is a plain add, so the kernels' indexing, binning and gradient
accumulation are checked on machines without a GPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from softrec.render import _ext
from softrec.render import rasterize as rz
from softrec.render.options import RasterOptions
from softrec.render.reference import soft_rasterize_reference
from tests.render.helpers import option_grid, option_id, random_faces, sphere_screen_faces

SHIM = Path(__file__).resolve().parent / "cuda_shim"


@pytest.fixture(scope="module")
def shim_module():
    try:
        return _ext.build_extension(
            "softrec_raster_cuda_shim",
            [_ext.CSRC / "cuda/soft_raster_cuda.cpp", SHIM / "shim_launch.cpp"],
            [_ext.CSRC / "common", _ext.CSRC / "cuda", SHIM],
            "the CUDA kernels as serial C++",
            extra_cflags=["-O1", "-DSOFTREC_CUDA_SHIM"],
        )
    except Exception as exc:  # a compile error here is a test failure, not a skip
        pytest.fail(f"the CUDA kernels do not compile as C++ under the shim: {exc}")


def _run(module, fv, tex, opts: RasterOptions, upstream):
    settings = rz._settings(module, rz._setting_values(opts))
    fv = fv.contiguous()
    t = tex.contiguous() if tex is not None else fv.new_empty(0)
    image, aux, winner, *state = module.forward(fv, t, settings)
    g_fv, g_tex = module.backward(upstream, fv, t, image, aux, winner, list(state), settings)
    return image, g_fv, g_tex


@pytest.mark.parametrize("case", list(option_grid())[::2], ids=option_id)
def test_shimmed_cuda_kernels_match_cpu_backend(shim_module, case):
    opts = dict(case)
    textured = opts.pop("textured")
    texels = 3 if opts.get("texture_type") == "vertex" else 4
    fv, tex = random_faces(texels=texels, dtype=torch.float64, seed=11)
    tex = tex if textured else None
    ro = RasterOptions(image_size=12, sigma=3e-3, gamma=3e-2, background_color=(0.2, 0.3, 0.4),
                       **opts)  # fmt: skip
    upstream = torch.randn(
        2, 4, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(2)
    )
    cpu = rz._ext.load("cpu")
    want = _run(cpu, fv, tex, ro, upstream)
    got = _run(shim_module, fv, tex, ro, upstream)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(
            g, w, rtol=1e-9, atol=1e-9 * max(1.0, float(w.abs().max()) if w.numel() else 1.0)
        )


def test_shimmed_cuda_kernels_on_sphere_with_many_tiles(shim_module):
    fv = sphere_screen_faces(batch=2, subdivisions=3)
    ro = RasterOptions(image_size=40, sigma=1e-4, dist_eps=1e-10)  # 40 is not a tile multiple
    upstream = torch.rand(2, 4, 40, 40, generator=torch.Generator().manual_seed(3))
    cpu = rz._ext.load("cpu")
    want = _run(cpu, fv, None, ro, upstream)
    got = _run(shim_module, fv, None, ro, upstream)
    torch.testing.assert_close(got[0], want[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got[1], want[1], rtol=1e-3, atol=1e-4 * float(want[1].abs().max()))


def _reference(fv, tex, opts: RasterOptions, upstream):
    leaves = [fv.clone().requires_grad_()] + ([tex.clone().requires_grad_()] if tex is not None
                                               else [])  # fmt: skip
    image = soft_rasterize_reference(leaves[0], leaves[1] if tex is not None else None, opts)
    grads = torch.autograd.grad((image * upstream).sum(), leaves)
    return image.detach(), grads[0], grads[1] if tex is not None else fv.new_empty(0)


@pytest.fixture
def capped_shim(shim_module):
    yield shim_module
    shim_module.set_max_bin_capacity(-1)


@pytest.mark.parametrize("cap", [0, 7, 40])
@pytest.mark.parametrize("textured", [False, True], ids=["silhouette", "textured"])
def test_shimmed_bins_that_do_not_fit_take_all_faces(capped_shim, cap, textured):
    """Tiles whose bin lists end past the capacity of bin_faces render from all faces of
    their image: the same image and gradients as with full bins, and as the reference."""
    fv, tex = random_faces(batch=2, faces=12, texels=4, dtype=torch.float64, seed=5)
    tex = tex if textured else None
    ro = RasterOptions(image_size=20, sigma=3e-3, gamma=3e-2, background_color=(0.2, 0.3, 0.4))
    upstream = torch.randn(2, 4, 20, 20, dtype=torch.float64,
                           generator=torch.Generator().manual_seed(4))  # fmt: skip
    full = _run(capped_shim, fv, tex, ro, upstream)
    capped_shim.set_max_bin_capacity(cap)
    settings = rz._settings(capped_shim, rz._setting_values(ro))
    t = tex if tex is not None else fv.new_empty(0)
    offsets, bin_faces = capped_shim.forward(fv, t, settings)[3:]
    assert bin_faces.numel() == cap < int(offsets[-1])  # some tiles do overflow
    got = _run(capped_shim, fv, tex, ro, upstream)
    want = _reference(fv, tex, ro, upstream)
    for g, f, w in zip(got, full, want, strict=True):
        torch.testing.assert_close(g, f, rtol=1e-12, atol=1e-12)
        scale = float(w.abs().max()) if w.numel() else 1.0
        torch.testing.assert_close(g, w, rtol=1e-7, atol=1e-9 * max(1.0, scale))


def test_shimmed_bin_capacity_grows_after_an_overflow(shim_module):
    """The capacity comes from earlier calls of the same shape: the first call sizes it,
    a call with more bin entries overflows (and still renders right), and the one after
    it has room for them."""
    ro = RasterOptions(image_size=28, sigma=3e-3)  # a shape no other test uses
    small, _ = random_faces(batch=3, faces=21, dtype=torch.float64, seed=6, size=0.05)
    large, _ = random_faces(batch=3, faces=21, dtype=torch.float64, seed=6, size=1.6)
    upstream = torch.rand(3, 4, 28, 28, dtype=torch.float64,
                          generator=torch.Generator().manual_seed(6))  # fmt: skip
    settings = rz._settings(shim_module, rz._setting_values(ro))
    empty = small.new_empty(0)
    _, _, _, offsets, first = shim_module.forward(small, empty, settings)
    assert first.numel() >= int(offsets[-1])
    image, aux, winner, offsets, second = shim_module.forward(large, empty, settings)
    assert second.numel() == first.numel() < int(offsets[-1])  # this call overflows
    grads = shim_module.backward(upstream, large, empty, image, aux, winner, [offsets, second],
                                 settings)  # fmt: skip
    want = _run(rz._ext.load("cpu"), large, None, ro, upstream)
    torch.testing.assert_close(image, want[0], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(grads[0], want[1], rtol=1e-9, atol=1e-9 * float(want[1].abs().max()))
    _, _, _, offsets, third = shim_module.forward(large, empty, settings)
    assert third.numel() >= int(offsets[-1])  # grown from the count of the second call

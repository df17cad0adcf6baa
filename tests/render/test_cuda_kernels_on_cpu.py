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

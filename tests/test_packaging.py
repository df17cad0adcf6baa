"""A wheel built from the project carries the kernel sources, and an install outside the
checkout renders with the compiled CPU backend."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.conftest import ROOT, entry_env


def test_wheel_install_uses_compiled_kernels(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("softrec-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for source in ("softrec/csrc/common/soft_raster.h", "softrec/csrc/cpu/soft_raster_cpu.cpp",
                   "softrec/csrc/cuda/soft_raster_cuda.cu",
                   "softrec/csrc/cuda/soft_raster_kernels.cuh"):  # fmt: skip
        assert source in names
    site = tmp_path / "site"
    inst = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert inst.returncode == 0, inst.stderr[-3000:]
    probe = (
        "import warnings; warnings.simplefilter('error');"
        "import softrec, torch; from softrec.render import rasterize as rz;"
        "v, f = softrec.icosphere(1, 0.5); r = softrec.SoftRenderer(image_size=16);"
        "img = r(v[None], f);"
        "print(rz._ext.CSRC); print(rz.resolve_backend(torch.device('cpu')));"
        "print(float(img[0, 3].sum()))"
    )
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300,
                         env=entry_env(tmp_path, PYTHONPATH=str(site)))  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    csrc, backend, coverage = run.stdout.split()
    assert csrc == str(site / "softrec" / "csrc") and backend == "cpu" and float(coverage) > 10

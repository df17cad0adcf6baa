"""Just-in-time compilation and caching of the C++ / CUDA rasterizer extensions.

Sources live in ``csrc/`` at the repository root. ``torch.utils.cpp_extension.load``
compiles them on first use into ``TORCH_EXTENSIONS_DIR`` (default
``~/.cache/torch_extensions``) and reuses the build afterwards. A failed build is
reported once as a warning and the caller falls back to the reference backend.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import ModuleType

CSRC = Path(__file__).resolve().parents[2] / "csrc"
_modules: dict[str, ModuleType | None] = {}


def _build(name: str) -> ModuleType:
    from torch.utils import cpp_extension

    common = CSRC / "common"
    if name == "cpu":
        sources = [CSRC / "cpu" / "soft_raster_cpu.cpp"]
        return cpp_extension.load(
            name="softrec_raster_cpu",
            sources=[str(s) for s in sources],
            extra_include_paths=[str(common)],
            extra_cflags=["-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"],
            extra_ldflags=["-fopenmp"],
            verbose=bool(os.environ.get("SOFTREC_VERBOSE_BUILD")),
        )
    sources = [CSRC / "cuda" / "soft_raster_cuda.cpp", CSRC / "cuda" / "soft_raster_cuda.cu"]
    return cpp_extension.load(
        name="softrec_raster_cuda",
        sources=[str(s) for s in sources],
        extra_include_paths=[str(common)],
        extra_cflags=["-O3"],
        extra_cuda_cflags=["-O3"],
        verbose=bool(os.environ.get("SOFTREC_VERBOSE_BUILD")),
    )


def load(name: str) -> ModuleType | None:
    """The compiled module for ``cpu`` or ``cuda``, or ``None`` (with one warning) if it
    cannot be built here."""
    if name not in _modules:
        try:
            _modules[name] = _build(name)
        except Exception as exc:  # noqa: BLE001 - any build failure means "fall back"
            first = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
            warnings.warn(
                f"softrec: could not build the '{name}' rasterizer extension "
                f"({type(exc).__name__}: {first[0]}); falling back to the slow 'reference' "
                f"backend. Set SOFTREC_VERBOSE_BUILD=1 to see the compiler output.",
                RuntimeWarning,
                stacklevel=3,
            )
            _modules[name] = None
    return _modules[name]

"""Just-in-time compilation and caching of the C++ / CUDA rasterizer extensions.

The kernel sources ship inside the package (``softrec/csrc/``: ``common/`` holds the
per-pixel math shared by both backends, ``cpu/`` and ``cuda/`` the bindings and kernels),
so an installed wheel compiles exactly like a checkout. ``torch.utils.cpp_extension``
builds them on first use into ``TORCH_EXTENSIONS_DIR`` (default
``~/.cache/torch_extensions``). The cached build's name carries a hash of the sources,
the flags and the torch version, and it compiles a copy of the sources kept in its build
folder: two versions of softrec keep separate builds instead of rebuilding each other's
on every switch, and copies of one version (a checkout, an installed wheel) share one.
A failed build is reported once as a warning and the caller falls back to the reference
backend.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

#: Root of the kernel sources inside the installed package.
CSRC = Path(__file__).resolve().parents[1] / "csrc"
_modules: dict[str, ModuleType | None] = {}

# -ffp-contract=off: no fused multiply-adds behind the code's back, so the vector path's
# pair math rounds exactly like the shared scalar code it mirrors (same culling decisions).
_CPU_CFLAGS = ["-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]
_WHAT = {"cpu": "the CPU rasterizer", "cuda": "the CUDA rasterizer"}
_SOURCE_SUFFIXES = (".h", ".cuh", ".hpp", ".cpp", ".cu", ".inc")


def source_hash(
    sources: Sequence[str | os.PathLike], include_dirs: Sequence[str | os.PathLike], *flags: str
) -> str:
    """Short hash of the sources, every header under ``include_dirs``, the flags and the
    torch version: the identity of one build."""
    import torch

    h = hashlib.sha256(torch.__version__.encode())
    files = [Path(s) for s in sources]
    for d in include_dirs:
        files += sorted(p for p in Path(d).rglob("*") if p.suffix in _SOURCE_SUFFIXES)
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    h.update("\0".join(flags).encode())
    return h.hexdigest()[:12]


def _copy_if_changed(source: Path, target: Path) -> None:
    # unchanged copies keep their timestamps, so the build tool sees nothing to redo
    if not target.is_file() or target.read_bytes() != source.read_bytes():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def build_extension(
    name: str,
    sources: Sequence[str | os.PathLike],
    include_dirs: Sequence[str | os.PathLike],
    what: str,
    extra_cflags: Sequence[str] = (),
    extra_cuda_cflags: Sequence[str] = (),
    extra_ldflags: Sequence[str] = (),
) -> ModuleType:
    """Compile (or load the cached build of) a torch extension named ``name`` + the hash
    of its inputs, saying so on stderr when it actually compiles."""
    from torch.utils import cpp_extension

    flags = [*extra_cflags, "|", *extra_cuda_cflags, "|", *extra_ldflags]
    full = f"{name}_{source_hash(sources, include_dirs, *flags)}"
    verbose = bool(os.environ.get("SOFTREC_VERBOSE_BUILD"))
    build_dir = Path(cpp_extension._get_build_directory(full, verbose=False))
    if not any(build_dir.glob(f"{full}*.so")):
        print(f"softrec: compiling {what} (first use, ~40 s)...", file=sys.stderr, flush=True)
    # torch's own build cache keys on source paths too: compile a copy that every
    # location of these sources shares
    src = build_dir / "src"
    local_includes = [src / f"include{k}" for k in range(len(include_dirs))]
    for d, local in zip(include_dirs, local_includes, strict=True):
        for f in Path(d).rglob("*"):
            if f.suffix in _SOURCE_SUFFIXES:
                _copy_if_changed(f, local / f.relative_to(d))
    local_sources = [src / Path(s).name for s in sources]
    for s, local in zip(sources, local_sources, strict=True):
        _copy_if_changed(Path(s), local)
    return cpp_extension.load(
        name=full,
        sources=[str(s) for s in local_sources],
        extra_include_paths=[str(d) for d in local_includes],
        extra_cflags=list(extra_cflags),
        extra_cuda_cflags=list(extra_cuda_cflags) or None,
        extra_ldflags=list(extra_ldflags) or None,
        verbose=verbose,
    )


def _build(name: str) -> ModuleType:
    common = CSRC / "common"
    if name == "cpu":
        return build_extension(
            "softrec_raster_cpu",
            [CSRC / "cpu" / "soft_raster_cpu.cpp"],
            [common, CSRC / "cpu"],
            _WHAT[name],
            extra_cflags=_CPU_CFLAGS,
            extra_ldflags=["-fopenmp"],
        )
    return build_extension(
        "softrec_raster_cuda",
        [CSRC / "cuda" / "soft_raster_cuda.cpp", CSRC / "cuda" / "soft_raster_cuda.cu"],
        [common, CSRC / "cuda"],
        _WHAT[name],
        extra_cflags=["-O3"],
        extra_cuda_cflags=["-O3"],
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

"""``soft_rasterize``: the differentiable soft rasterizer behind one autograd function.

Semantics (identical in every backend; ``reference.py`` is the executable definition).
For an S×S image, pixel (row r, column c) has NDC centre
``x = (2c + 1 − S)/S``, ``y = (2(S − 1 − r) + 1 − S)/S`` (row 0 at the top, +y up).
For each pixel i and face j (screen-space corners ``(x, y, z)``, z = depth > 0):

* ``D_j = sigmoid(δ·d²/σ)``: d is the distance to the face's boundary, δ = +1 inside and
  −1 outside (``euclidean``); or d is the smallest barycentric coordinate
  (``barycentric``); or D is 1 inside and 0 outside (``hard``).
* Pairs are culled (D taken as 0) when the pixel lies outside the face's bounding box
  grown by ``√thr`` or, outside the face, when the distance term is ≥ ``thr`` with
  ``thr = σ·ln(1/dist_eps − 1)``: exactly the pairs with ``D < dist_eps``.
* Faces with a corner at depth ≤ 0 or a (doubled) screen area ≤ 1e-10 are ignored.
* Alpha: ``prod`` 1 − Π(1 − D_j); ``sum`` ΣD_j / F; ``hard`` 1 if any D_j > ½.
* Color (when textures are given): ``z_j`` is the perspective-correct depth with
  barycentrics clipped to the triangle; faces with ``z_j`` outside [near, far] or
  back-facing (unless ``double_side``) are skipped. ``softmax``:
  ``I = (Σ D_j e_j C_j + e_b C_b) / (Σ D_j e_j + e_b)``, ``e_j = exp(z̄_j/γ)``,
  ``z̄ = (far − z)/(far − near)``, ``e_b = exp(ε/γ)``; ``hard``: the nearest face whose
  closed interior covers the pixel. Without textures the RGB channels hold the
  background color and only alpha is computed (the fast silhouette path).

Backends: ``reference`` (dense PyTorch, autograd), ``cpu`` (C++ with tile binning),
``cuda`` (CUDA with tile binning). The default follows the tensors' device; the
``SOFTREC_BACKEND`` environment variable or the ``backend`` argument force one.
"""

from __future__ import annotations

import os

import torch

from . import _ext
from .options import AGGR_ALPHA, AGGR_RGB, DIST_FUNCS, TEXTURE_TYPES, RasterOptions
from .reference import soft_rasterize_reference

BACKENDS = ("reference", "cpu", "cuda")
# Tile side (pixels) of the screen-space binning used by the compiled backends.
TILE_SIZE = 8


def _validate(face_vertices: torch.Tensor, face_textures: torch.Tensor | None, opts: RasterOptions):
    if not isinstance(face_vertices, torch.Tensor):
        raise TypeError(f"face_vertices must be a torch.Tensor, got {type(face_vertices).__name__}")
    if face_vertices.dim() != 4 or face_vertices.shape[2:] != (3, 3):
        raise ValueError(
            f"face_vertices must have shape (B, F, 3, 3), got {tuple(face_vertices.shape)}"
        )
    if face_vertices.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"face_vertices must be float32 or float64, got {face_vertices.dtype}")
    if face_vertices.shape[0] == 0:
        raise ValueError("face_vertices has an empty batch (B = 0)")
    if face_vertices.shape[1] == 0:
        raise ValueError("face_vertices has no faces (F = 0): cannot render an empty mesh")
    if opts.check_finite and not bool(torch.isfinite(face_vertices).all()):
        raise ValueError("face_vertices contains NaN or infinite values")
    if face_textures is None:
        return
    if not isinstance(face_textures, torch.Tensor):
        raise TypeError(f"face_textures must be a torch.Tensor, got {type(face_textures).__name__}")
    if face_textures.dim() != 4 or face_textures.shape[-1] != 3:
        raise ValueError(
            f"face_textures must have shape (B, F, T, 3), got {tuple(face_textures.shape)}"
        )
    if face_textures.shape[:2] != face_vertices.shape[:2]:
        raise ValueError(
            f"face_textures (B, F) = {tuple(face_textures.shape[:2])} does not match "
            f"face_vertices (B, F) = {tuple(face_vertices.shape[:2])}"
        )
    if face_textures.dtype != face_vertices.dtype:
        raise TypeError(
            f"face_textures dtype {face_textures.dtype} != face_vertices dtype "
            f"{face_vertices.dtype}"
        )
    if face_textures.device != face_vertices.device:
        raise ValueError(
            f"face_textures is on {face_textures.device}, face_vertices on {face_vertices.device}"
        )
    t = face_textures.shape[2]
    if opts.texture_type == "vertex" and t != 3:
        raise ValueError(f"texture_type='vertex' needs T = 3 colors per face, got T = {t}")
    if opts.texture_type == "surface" and (t < 1 or int(round(t**0.5)) ** 2 != t):
        raise ValueError(f"texture_type='surface' needs T = R*R texels per face, got T = {t}")
    if opts.check_finite and not bool(torch.isfinite(face_textures).all()):
        raise ValueError("face_textures contains NaN or infinite values")


def resolve_backend(device: torch.device, backend: str | None = None) -> str:
    """The backend that will run for tensors on ``device`` (argument > env var > device).

    An automatic choice falls back to ``reference`` (with one warning) when the compiled
    extension cannot be built; an explicitly requested backend raises instead.
    """
    name = backend or os.environ.get("SOFTREC_BACKEND") or None
    explicit = name is not None
    if name is None:
        name = "cuda" if device.type == "cuda" else "cpu"
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if name == "cuda" and device.type != "cuda":
        raise ValueError(f"backend 'cuda' needs CUDA tensors, got tensors on {device}")
    if name == "cpu" and device.type != "cpu":
        raise ValueError(f"backend 'cpu' needs CPU tensors, got tensors on {device}")
    if name != "reference" and _ext.load(name) is None:
        if explicit:
            raise RuntimeError(
                f"the '{name}' backend was requested but its extension could not be built "
                "(see the warning above; SOFTREC_VERBOSE_BUILD=1 shows the compiler output)"
            )
        return "reference"
    return name


#: RasterOptions fields the kernels take as they are, and those they take as an index
#: into the tuple of choices (the numbering of csrc/common/soft_raster.h).
_PLAIN_SETTINGS = ("image_size", "double_side", "near", "far", "eps", "sigma", "gamma",
                   "threshold")  # fmt: skip
_CHOICE_SETTINGS = {"dist_func": DIST_FUNCS, "aggr_alpha": AGGR_ALPHA, "aggr_rgb": AGGR_RGB,
                    "texture_type": TEXTURE_TYPES}  # fmt: skip


def _settings(module, opts: RasterOptions, for_backward: bool = True):
    """The kernel module's ``RasterSettings`` for ``opts``, field by field."""
    settings = module.RasterSettings()
    for name in _PLAIN_SETTINGS:
        setattr(settings, name, getattr(opts, name))
    for name, choices in _CHOICE_SETTINGS.items():
        setattr(settings, name, choices.index(getattr(opts, name)))
    settings.background = list(opts.background_color)
    settings.tile = TILE_SIZE
    settings.for_backward = bool(for_backward)
    return settings


class _SoftRasterizeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, face_vertices, face_textures, opts: RasterOptions, backend: str,
                for_backward: bool):  # fmt: skip
        module = _ext.load(backend)
        settings = _settings(module, opts, for_backward)
        fv = face_vertices.contiguous()
        tex = face_textures.contiguous() if face_textures is not None else fv.new_empty(0)
        # Backends return the image, per-pixel aggregation state and a winner map, then any
        # private state (e.g. CUDA's tile bins) that their backward pass reuses.
        image, aux, winner, *state = module.forward(fv, tex, settings)
        ctx.save_for_backward(fv, tex, image, aux, winner, *state)
        ctx.module, ctx.settings = module, settings
        ctx.has_textures = face_textures is not None
        return image

    @staticmethod
    def backward(ctx, grad_image):
        fv, tex, image, aux, winner, *state = ctx.saved_tensors
        grad_fv, grad_tex = ctx.module.backward(
            grad_image.contiguous(),
            fv,
            tex,
            image,
            aux,
            winner,
            list(state),
            ctx.settings,
        )
        return grad_fv, (grad_tex if ctx.has_textures else None), None, None, None


def soft_rasterize(
    face_vertices: torch.Tensor,
    face_textures: torch.Tensor | None = None,
    image_size: int = 256,
    background_color: tuple[float, float, float] = (0.0, 0.0, 0.0),
    near: float = 1.0,
    far: float = 100.0,
    eps: float = 1e-3,
    sigma: float = 1e-5,
    gamma: float = 1e-4,
    dist_func: str = "euclidean",
    aggr_alpha: str = "prod",
    aggr_rgb: str = "softmax",
    dist_eps: float = 1e-4,
    texture_type: str = "surface",
    double_side: bool = False,
    anti_aliasing: bool = False,
    backend: str | None = None,
) -> torch.Tensor:
    """Soft-rasterize screen-space faces into RGBA images.

    Args:
        face_vertices: (B, F, 3, 3) float32/float64 face corners in screen space
            (x, y in NDC, z = depth > 0), e.g. from a camera in ``softrec.render.cameras``.
        face_textures: (B, F, T, 3) per-face colors (``surface``: T = R² atlas texels,
            ``vertex``: T = 3 corner colors), or ``None`` for silhouettes only.
        anti_aliasing: render at 2S and average-pool 2×2 back to S.
        backend: ``reference`` | ``cpu`` | ``cuda`` | ``None`` (auto; see module doc).
        Other options: see :class:`~softrec.render.options.RasterOptions`.

    Returns:
        (B, 4, S, S) images, channels RGB + alpha, row 0 at the top.
    """
    opts = RasterOptions(
        image_size=image_size * (2 if anti_aliasing else 1),
        background_color=tuple(background_color),
        near=near, far=far, eps=eps, sigma=sigma, gamma=gamma, dist_func=dist_func,
        aggr_alpha=aggr_alpha, aggr_rgb=aggr_rgb, dist_eps=dist_eps,
        texture_type=texture_type, double_side=double_side,
    )  # fmt: skip
    return rasterize_with_options(face_vertices, face_textures, opts, anti_aliasing, backend)


def rasterize_with_options(
    face_vertices: torch.Tensor,
    face_textures: torch.Tensor | None,
    opts: RasterOptions,
    anti_aliasing: bool = False,
    backend: str | None = None,
) -> torch.Tensor:
    """:func:`soft_rasterize` with a prepared :class:`RasterOptions` (size already ×2 for AA)."""
    _validate(face_vertices, face_textures, opts)
    name = resolve_backend(face_vertices.device, backend)
    if name == "reference":
        images = soft_rasterize_reference(face_vertices, face_textures, opts)
    else:
        inputs = (face_vertices, face_textures)
        for_backward = torch.is_grad_enabled() and any(
            x is not None and x.requires_grad for x in inputs
        )
        images = _SoftRasterizeFunction.apply(*inputs, opts, name, for_backward)
    if anti_aliasing:
        images = torch.nn.functional.avg_pool2d(images, kernel_size=2, stride=2)
    return images

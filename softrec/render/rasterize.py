"""``soft_rasterize``: the differentiable soft rasterizer, one ``torch.library`` op per pass.

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
``SOFTREC_BACKEND`` environment variable or the ``backend`` argument force one. The
compiled backends are the ops ``softrec::rasterize`` and ``softrec::rasterize_backward``
(``torch.library``), which ``torch.compile`` keeps as single graph nodes.
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
    """Shapes, dtypes and devices (the finiteness check is separate: it reads the data)."""
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


def _check_finite(face_vertices: torch.Tensor, face_textures: torch.Tensor | None) -> None:
    # reads a flag back from the device: RasterOptions.check_finite makes it opt-out
    if not bool(torch.isfinite(face_vertices).all()):
        raise ValueError("face_vertices contains NaN or infinite values")
    if face_textures is not None and not bool(torch.isfinite(face_textures).all()):
        raise ValueError("face_textures contains NaN or infinite values")


@torch.compiler.assume_constant_result
def _extension_available(name: str) -> bool:
    # builds or loads the extension: a constant to torch.compile, which cannot trace that
    return _ext.load(name) is not None


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
    if name != "reference" and not _extension_available(name):
        if explicit:
            raise RuntimeError(
                f"the '{name}' backend was requested but its extension could not be built "
                "(see the warning above; SOFTREC_VERBOSE_BUILD=1 shows the compiler output)"
            )
        return "reference"
    return name


#: RasterOptions fields the kernels take as they are (with their type in RasterSettings),
#: and those they take as an index into the tuple of choices (the numbering of
#: csrc/common/soft_raster.h).
_PLAIN_SETTINGS = {"image_size": int, "double_side": bool, "near": float, "far": float,
                   "eps": float, "sigma": float, "gamma": float, "threshold": float}  # fmt: skip
_CHOICE_SETTINGS = {"dist_func": DIST_FUNCS, "aggr_alpha": AGGR_ALPHA, "aggr_rgb": AGGR_RGB,
                    "texture_type": TEXTURE_TYPES}  # fmt: skip
# Per-pixel forward state kept for the backward (kAuxSize in soft_raster.h).
_AUX_SIZE = 4
# dtype of the second state tensor each backend returns (packed D values, tile bins).
_STATE_DTYPE = {"cpu": torch.float32, "cuda": torch.int32}


def _setting_values(opts: RasterOptions) -> list[float]:
    """``opts`` as the op's list of numbers: plain settings, choice indices, background."""
    plain = [float(getattr(opts, name)) for name in _PLAIN_SETTINGS]
    choices = [float(c.index(getattr(opts, name))) for name, c in _CHOICE_SETTINGS.items()]
    return plain + choices + [float(c) for c in opts.background_color]


def _settings(module, values: list[float], for_backward: bool = True):
    """The kernel module's ``RasterSettings`` for a :func:`_setting_values` list."""
    settings = module.RasterSettings()
    kinds = [*_PLAIN_SETTINGS.items(), *((name, int) for name in _CHOICE_SETTINGS)]
    for (name, kind), value in zip(kinds, values, strict=False):
        setattr(settings, name, kind(value))
    settings.background = list(values[len(kinds) :])
    settings.tile = TILE_SIZE
    settings.for_backward = bool(for_backward)
    return settings


# The compiled backends run as two torch.library ops so that torch.compile sees one node
# per pass. Their backward state has a data-dependent length (CPU: the forward's packed D
# values; CUDA: the tile bins, sized by a capacity that the forward learns without waiting
# for the device), so the fake gives both state tensors an unbacked size: saving them costs
# nothing, while a fixed size would need a host read-back and recomputing bins in the
# backward would bin twice.
@torch.library.custom_op("softrec::rasterize", mutates_args=(), device_types=("cpu", "cuda"))
def _rasterize_op(
    face_vertices: torch.Tensor,
    face_textures: torch.Tensor | None,
    settings: list[float],
    for_backward: bool,
    check_finite: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(image, aux, winner, state index, state data); the state is empty when not kept."""
    if check_finite:
        _check_finite(face_vertices, face_textures)
    device = face_vertices.device.type
    module = _ext.load(device)
    fv = face_vertices.contiguous()
    tex = face_textures.contiguous() if face_textures is not None else fv.new_empty(0)
    image, aux, winner, *state = module.forward(fv, tex, _settings(module, settings, for_backward))
    if not state:
        state = [fv.new_empty(0, dtype=torch.long), fv.new_empty(0, dtype=_STATE_DTYPE[device])]
    index, data = state
    return image, aux, winner, index, data


@_rasterize_op.register_fake
def _(face_vertices, face_textures, settings, for_backward, check_finite):
    b, s = face_vertices.shape[0], int(settings[list(_PLAIN_SETTINGS).index("image_size")])
    ctx = torch.library.get_ctx()
    state_dtype = _STATE_DTYPE[face_vertices.device.type]
    return (
        face_vertices.new_empty(b, 4, s, s),
        face_vertices.new_empty(b, s, s, _AUX_SIZE),
        face_vertices.new_empty(b, s, s, dtype=torch.int32),
        face_vertices.new_empty(ctx.new_dynamic_size(), dtype=torch.long),
        face_vertices.new_empty(ctx.new_dynamic_size(), dtype=state_dtype),
    )


@torch.library.custom_op(
    "softrec::rasterize_backward", mutates_args=(), device_types=("cpu", "cuda")
)
def _rasterize_backward_op(
    grad_image: torch.Tensor,
    face_vertices: torch.Tensor,
    face_textures: torch.Tensor | None,
    image: torch.Tensor,
    aux: torch.Tensor,
    winner: torch.Tensor,
    index: torch.Tensor,
    data: torch.Tensor,
    settings: list[float],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of face_vertices and face_textures (empty without textures)."""
    module = _ext.load(face_vertices.device.type)
    fv = face_vertices.contiguous()
    tex = face_textures.contiguous() if face_textures is not None else fv.new_empty(0)
    state = [index, data] if index.numel() else []
    grad_fv, grad_tex = module.backward(grad_image.contiguous(), fv, tex, image, aux, winner,
                                        state, _settings(module, settings))  # fmt: skip
    return grad_fv, grad_tex


@_rasterize_backward_op.register_fake
def _(grad_image, face_vertices, face_textures, image, aux, winner, index, data, settings):
    tex = face_textures if face_textures is not None else face_vertices.new_empty(0)
    return torch.empty_like(face_vertices), torch.empty_like(tex)


def _setup_context(ctx, inputs, output) -> None:
    face_vertices, face_textures, settings, _, _ = inputs
    image, aux, winner, index, data = output
    ctx.mark_non_differentiable(aux, winner, index, data)
    # the other outputs get no gradient: do not fill zeros for them (data is large)
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(face_vertices, face_textures, image, aux, winner, index, data)
    ctx.settings = settings


def _backward(ctx, grad_image, *_):
    fv, tex, image, aux, winner, index, data = ctx.saved_tensors
    if grad_image is None:
        return None, None, None, None, None
    grad_fv, grad_tex = _rasterize_backward_op(grad_image, fv, tex, image, aux, winner, index,
                                               data, ctx.settings)  # fmt: skip
    return grad_fv, (grad_tex if tex is not None else None), None, None, None


_rasterize_op.register_autograd(_backward, setup_context=_setup_context)


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
        if opts.check_finite:
            _check_finite(face_vertices, face_textures)
        images = soft_rasterize_reference(face_vertices, face_textures, opts)
    else:
        inputs = (face_vertices, face_textures)
        # no backward state is kept when no gradient can flow
        for_backward = torch.is_grad_enabled() and any(
            x is not None and x.requires_grad for x in inputs
        )
        images = _rasterize_op(*inputs, _setting_values(opts), for_backward, opts.check_finite)[0]
    if anti_aliasing:
        images = torch.nn.functional.avg_pool2d(images, kernel_size=2, stride=2)
    return images

"""Cameras: world → screen transforms of the official SoftRas / NMR conventions.

Every function maps vertices ``(B, N, 3)`` to screen space ``(B, N, 3)`` where
``x, y`` are normalized device coordinates in ``[-1, 1]`` (``+x`` right, ``+y`` up on
the image) and ``z`` is the depth along the camera axis (world units, larger = farther).
Camera parameters may be given once (broadcast over the batch) or per batch element.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

TensorLike = torch.Tensor | float | Sequence[float]


def _as_batched(value: TensorLike, like: torch.Tensor, name: str, last: int | None) -> torch.Tensor:
    """Turn a float, sequence or tensor into a tensor on ``like``'s device/dtype.

    ``last`` is the expected trailing size (``None`` for scalars per batch element).
    The result has shape ``(B, last)`` / ``(B,)`` or ``(1, last)`` / ``(1,)``.
    """
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if last is None:
        if t.dim() == 0:
            t = t.reshape(1)
        if t.dim() != 1:
            raise ValueError(
                f"{name} must be a scalar or a (B,) tensor, got shape {tuple(t.shape)}"
            )
    else:
        if t.dim() == 1:
            t = t.unsqueeze(0)
        if t.dim() != 2 or t.shape[-1] != last:
            raise ValueError(
                f"{name} must have shape ({last},) or (B, {last}), got {tuple(t.shape)}"
            )
    if t.shape[0] not in (1, like.shape[0]):
        raise ValueError(f"{name} has batch size {t.shape[0]}, vertices have {like.shape[0]}")
    return t


def _check_vertices(vertices: torch.Tensor, name: str = "vertices") -> None:
    if not isinstance(vertices, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(vertices).__name__}")
    if vertices.dim() != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (B, N, 3), got {tuple(vertices.shape)}")
    if not vertices.is_floating_point():
        raise TypeError(f"{name} must be a floating point tensor, got {vertices.dtype}")


def eye_from_angles(
    distance: TensorLike, elevation: TensorLike, azimuth: TensorLike, degrees: bool = True
) -> torch.Tensor:
    """Camera positions on a sphere around the origin (official ``get_points_from_angles``).

    ``eye = (d·cos(el)·sin(az), d·sin(el), −d·cos(el)·cos(az))``. Azimuth 0 looks along +z
    from the −z side; elevation lifts the camera towards +y. Arguments broadcast; the
    result is ``(..., 3)`` (``(B, 3)`` for ``(B,)`` inputs), float32 unless a tensor
    argument sets the dtype.
    """
    tensors = [a for a in (distance, elevation, azimuth) if isinstance(a, torch.Tensor)]
    dtype = tensors[0].dtype if tensors else torch.float32
    device = tensors[0].device if tensors else None
    d = torch.as_tensor(distance, dtype=dtype, device=device)
    el = torch.as_tensor(elevation, dtype=dtype, device=device)
    az = torch.as_tensor(azimuth, dtype=dtype, device=device)
    if degrees:
        el = torch.deg2rad(el)
        az = torch.deg2rad(az)
    d, el, az = torch.broadcast_tensors(d, el, az)
    return torch.stack(
        (d * torch.cos(el) * torch.sin(az), d * torch.sin(el), -d * torch.cos(el) * torch.cos(az)),
        dim=-1,
    )


def _rotate_into_camera(
    vertices: torch.Tensor, eye: torch.Tensor, z_axis: torch.Tensor, up: torch.Tensor
) -> torch.Tensor:
    # Rows of R are the camera axes x, y, z expressed in world coordinates.
    z_axis = torch.nn.functional.normalize(z_axis, dim=-1, eps=1e-5)
    x_axis = torch.nn.functional.normalize(torch.cross(up, z_axis, dim=-1), dim=-1, eps=1e-5)
    y_axis = torch.nn.functional.normalize(torch.cross(z_axis, x_axis, dim=-1), dim=-1, eps=1e-5)
    rotation = torch.stack((x_axis, y_axis, z_axis), dim=1)  # (B, 3, 3)
    return torch.matmul(vertices - eye[:, None, :], rotation.transpose(1, 2))


def look_at(
    vertices: torch.Tensor,
    eye: TensorLike,
    at: TensorLike = (0.0, 0.0, 0.0),
    up: TensorLike = (0.0, 1.0, 0.0),
) -> torch.Tensor:
    """World → camera coordinates for a camera at ``eye`` looking at ``at``.

    Camera axes: ``z = normalize(at − eye)``, ``x = normalize(up × z)``, ``y = z × x``;
    returns ``R (v − eye)`` with rows x, y, z. ``vertices``: (B, N, 3); ``eye``, ``at``,
    ``up``: (3,) or (B, 3).
    """
    _check_vertices(vertices)
    eye_t = _as_batched(eye, vertices, "eye", 3)
    at_t = _as_batched(at, vertices, "at", 3)
    up_t = _as_batched(up, vertices, "up", 3)
    eye_t, at_t, up_t = torch.broadcast_tensors(eye_t, at_t, up_t)
    return _rotate_into_camera(vertices, eye_t, at_t - eye_t, up_t)


def look(
    vertices: torch.Tensor,
    eye: TensorLike,
    direction: TensorLike = (0.0, 0.0, 1.0),
    up: TensorLike = (0.0, 1.0, 0.0),
) -> torch.Tensor:
    """World → camera coordinates for a camera at ``eye`` looking along ``direction``."""
    _check_vertices(vertices)
    eye_t = _as_batched(eye, vertices, "eye", 3)
    dir_t = _as_batched(direction, vertices, "direction", 3)
    up_t = _as_batched(up, vertices, "up", 3)
    eye_t, dir_t, up_t = torch.broadcast_tensors(eye_t, dir_t, up_t)
    return _rotate_into_camera(vertices, eye_t, dir_t, up_t)


def _safe_depth(z: torch.Tensor) -> torch.Tensor:
    # Dividing by a depth of exactly 0 would give inf and NaN gradients; such faces are
    # dropped by the rasterizer (depth <= 0), so any finite stand-in is fine here.
    tiny = torch.finfo(z.dtype).tiny ** 0.5
    return torch.where(z.abs() < tiny, torch.full_like(z, tiny), z)


def perspective(vertices: torch.Tensor, viewing_angle: TensorLike = 30.0) -> torch.Tensor:
    """Camera → screen: ``x' = x / (z·tan α)``, ``y' = y / (z·tan α)``, ``z`` kept.

    ``viewing_angle`` α is half the field of view, in degrees (scalar or (B,)).
    """
    _check_vertices(vertices)
    angle = _as_batched(viewing_angle, vertices, "viewing_angle", None)
    width = torch.tan(torch.deg2rad(angle))[:, None]
    z = vertices[..., 2]
    zs = _safe_depth(z) * width
    return torch.stack((vertices[..., 0] / zs, vertices[..., 1] / zs, z), dim=-1)


def orthographic(vertices: torch.Tensor, scale: TensorLike = 1.0) -> torch.Tensor:
    """Camera → screen without foreshortening: ``x' = x·scale``, ``y' = y·scale``, ``z`` kept."""
    _check_vertices(vertices)
    s = _as_batched(scale, vertices, "scale", None)[:, None]
    return torch.stack((vertices[..., 0] * s, vertices[..., 1] * s, vertices[..., 2]), dim=-1)


def projection(
    vertices: torch.Tensor,
    P: torch.Tensor,
    dist_coeffs: torch.Tensor | None = None,
    orig_size: float = 512.0,
) -> torch.Tensor:
    """World → screen with a pinhole matrix ``P = K [R | t]`` (3×4, pixel units).

    ``P``: (3, 4) or (B, 3, 4). ``dist_coeffs``: optional (5,) or (B, 5) OpenCV-style
    ``(k1, k2, p1, p2, k3)`` lens distortion. Pixel coordinates ``u`` in
    ``[0, orig_size]`` become ``2u/orig_size − 1``; ``z`` is the depth ``(P v)_z``.
    """
    _check_vertices(vertices)
    P = torch.as_tensor(P, dtype=vertices.dtype, device=vertices.device)
    if P.dim() == 2:
        P = P.unsqueeze(0)
    if P.dim() != 3 or P.shape[1:] != (3, 4) or P.shape[0] not in (1, vertices.shape[0]):
        raise ValueError(f"P must have shape (3, 4) or (B, 3, 4), got {tuple(P.shape)}")
    homo = torch.cat((vertices, torch.ones_like(vertices[..., :1])), dim=-1)
    cam = torch.matmul(homo, P.transpose(1, 2))
    z = cam[..., 2]
    zs = _safe_depth(z)
    x, y = cam[..., 0] / zs, cam[..., 1] / zs
    if dist_coeffs is not None:
        k = _as_batched(dist_coeffs, vertices, "dist_coeffs", 5)
        k1, k2, p1, p2, k3 = (k[:, i : i + 1] for i in range(5))
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
        x, y = (
            x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
            y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y,
        )
    x = 2 * x / orig_size - 1
    y = 2 * y / orig_size - 1
    return torch.stack((x, y, z), dim=-1)


def default_eye_distance(viewing_angle: float) -> float:
    """Official default camera distance for a view angle: ``1/tan(α) + 1``."""
    return 1.0 / math.tan(math.radians(viewing_angle)) + 1.0

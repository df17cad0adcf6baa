"""Small fitting problems shared by the fitting tests."""

from __future__ import annotations

import torch

import softrec
from softrec.fit import ViewCameras
from softrec.render import RasterOptions

#: Semi-axes of the target ellipsoid: unlike the template sphere of radius 0.5 in each view.
SEMI_AXES = (0.45, 0.2, 0.3)


def ellipsoid(subdivisions: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    v, f = softrec.icosphere(subdivisions, 1.0)
    return v * torch.tensor(SEMI_AXES), f


def ring_cameras(n: int, elevation: float = 20.0, distance: float = 2.732) -> ViewCameras:
    """``n`` look-at cameras around the origin, elevations alternating ±``elevation``."""
    az = torch.arange(n, dtype=torch.float32) * 360.0 / n
    el = torch.full_like(az, elevation) * (1 - 2 * (torch.arange(n) % 2))
    return ViewCameras.from_angles(torch.full_like(az, distance), el, az)


def render_rgba(
    vertices: torch.Tensor, faces: torch.Tensor, cams: ViewCameras, size: int,
    color: tuple[float, float, float] = (0.9, 0.3, 0.1),
) -> torch.Tensor:  # fmt: skip
    """(N, 4, S, S) straight-RGB targets of one uniformly colored mesh."""
    renderer = cams.renderer(RasterOptions(image_size=size, sigma=1e-5), anti_aliasing=True)
    with torch.no_grad():
        alpha = cams.render(renderer, vertices[None].expand(len(cams), -1, -1), faces)[:, 3:4]
    rgb = torch.tensor(color)[None, :, None, None].expand(len(cams), -1, size, size)
    return torch.cat([rgb, alpha], 1)

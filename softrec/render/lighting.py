"""Lambertian lighting on face normals (official SoftRas/NMR model).

Face textures are multiplied by ``ambient_intensity·ambient_color +
directional_intensity·directional_color·relu(−n·direction)`` where ``n`` is the
outward unit normal of the face (counter-clockwise winding) and ``direction`` is the
direction in which the light *travels*. The official default ``direction = (0, 1, 0)``
therefore lights faces whose outward normal points down.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..mesh import normals_of_face_vertices


def lighting(
    face_vertices: torch.Tensor,
    face_textures: torch.Tensor,
    ambient_intensity: float = 0.5,
    directional_intensity: float = 0.5,
    ambient_color: Sequence[float] = (1.0, 1.0, 1.0),
    directional_color: Sequence[float] = (1.0, 1.0, 1.0),
    direction: Sequence[float] | torch.Tensor = (0.0, 1.0, 0.0),
) -> torch.Tensor:
    """Light face textures.

    Args:
        face_vertices: (B, F, 3, 3) world-space face corners.
        face_textures: (B, F, T, 3) per-face texels (T = R² atlas or 3 vertex colors).
        direction: (3,) or (B, 3) direction of light travel (normalized here).
    Returns:
        (B, F, T, 3) lit textures.
    """
    dtype, device = face_textures.dtype, face_textures.device
    light = ambient_intensity * torch.as_tensor(ambient_color, dtype=dtype, device=device)
    light = light.expand(face_textures.shape[0], face_textures.shape[1], 3)
    if directional_intensity != 0:
        d = torch.as_tensor(direction, dtype=dtype, device=device)
        if d.dim() == 1:
            d = d.unsqueeze(0)
        d = torch.nn.functional.normalize(d, dim=-1)
        # eps 1e-5: a degenerate face gets a near-zero normal, not an exploding gradient
        n = normals_of_face_vertices(face_vertices, eps=1e-5)
        cos = torch.relu(-(n * d[:, None, :]).sum(-1, keepdim=True))
        col = torch.as_tensor(directional_color, dtype=dtype, device=device)
        light = light + directional_intensity * col * cos
    return face_textures * light[:, :, None, :]

"""Turntables: a mesh rendered from cameras circling it (demos, reconstructions)."""

from __future__ import annotations

import torch
from torch import nn

from .cameras import eye_from_angles


def turntable_eyes(frames: int, distance: float, elevation: float) -> torch.Tensor:
    """(frames, 3) eye positions at one ``distance`` and ``elevation`` (degrees), azimuth
    stepping by ``360 / frames`` degrees from 0."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    azimuth = torch.arange(frames, dtype=torch.float32) * (360.0 / frames)
    return eye_from_angles(torch.full_like(azimuth, distance),
                           torch.full_like(azimuth, elevation), azimuth)  # fmt: skip


@torch.no_grad()
def render_turntable(
    renderer: nn.Module,
    vertices: torch.Tensor,
    faces: torch.Tensor,
    textures: torch.Tensor | None,
    eyes: torch.Tensor,
) -> torch.Tensor:
    """Render one mesh ((V, 3), (F, 3), textures as the renderer takes them without the
    batch dimension, or ``None``) from each of ``eyes`` (N, 3): (N, 4, S, S) RGBA, one
    frame at a time (memory stays that of one image)."""
    tex = None if textures is None else textures[None]
    return torch.cat(
        [renderer(vertices[None], faces, tex, eyes=eyes[i : i + 1]) for i in range(len(eyes))]
    )

"""Render a mesh exactly like the NMR release: 24 views, inverted RGB, alpha = mask."""

from __future__ import annotations

import numpy as np
import torch

from ...image_encoding import premultiplied_to_stored
from ...render import SoftRenderer
from ..conventions import IMAGE_SIZE, NUM_VIEWS, UINT8_MAX, VIEWING_ANGLE_DEG, view_eyes


def dataset_renderer(image_size: int = IMAGE_SIZE) -> SoftRenderer:
    """The release's camera (look-at, viewing angle 15°) with a hard rasterizer, z-buffered
    colors, 2× anti-aliasing and the default lighting (ambient 0.5 + directional 0.5)."""
    return SoftRenderer(
        image_size=image_size,
        viewing_angle=VIEWING_ANGLE_DEG,
        anti_aliasing=True,
        dist_func="hard",
        aggr_alpha="hard",
        aggr_rgb="hard",
        texture_type="surface",
        lighting=True,
    )


def to_release_uint8(rgba: torch.Tensor) -> np.ndarray:
    """(B, 4, S, S) float RGBA rendered over black → the release's uint8 encoding. The
    anti-aliased render is premultiplied (``a·rgb`` per pixel), as the encoding needs."""
    return (premultiplied_to_stored(rgba) * UINT8_MAX).round().to(torch.uint8).numpy()


@torch.no_grad()
def render_views(
    vertices: np.ndarray,
    faces: np.ndarray,
    face_colors: np.ndarray,
    renderer: SoftRenderer | None = None,
    views: torch.Tensor | None = None,
) -> np.ndarray:
    """Render one mesh in the dataset views.

    Args:
        vertices: (V, 3) float, object in ``[−0.5, 0.5]³``.
        faces: (F, 3) int, counter-clockwise from outside.
        face_colors: (F, 3) float in ``[0, 1]``.
        views: view ids (default all 24).
    Returns:
        uint8 (len(views), 4, 64, 64): inverted RGB + alpha, like the release.
    """
    r = renderer if renderer is not None else dataset_renderer()
    eyes = view_eyes(torch.arange(NUM_VIEWS) if views is None else views)
    n = eyes.shape[0]
    v = torch.as_tensor(vertices, dtype=torch.float32)[None].expand(n, -1, -1).contiguous()
    f = torch.as_tensor(faces, dtype=torch.int64)
    tex = torch.as_tensor(face_colors, dtype=torch.float32)[None, :, None, :]
    tex = tex.expand(n, -1, -1, -1).contiguous()
    images = r(v, f, tex, eyes=eyes)
    return to_release_uint8(images)

"""Independent check of the voxel layout against rendered masks.

The centres of the occupied voxels of a dataset grid are turned back into world points
with the layout of docs/conventions.md §4 and projected with the look-at camera of §2, written
here from the formulas in numpy (not through ``softrec.render``), then splatted into an
image. Their silhouette must match a view's alpha mask; a transposed or flipped layout,
or a mirrored azimuth, does not.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .conventions import (
    ALPHA_CHANNEL,
    AZIMUTH_STEP_DEG,
    CAMERA_DISTANCE,
    ELEVATION_DEG,
    IMAGE_SIZE,
    UINT8_MAX,
    VIEWING_ANGLE_DEG,
    voxel_index_scale,
)

#: The hull is drawn at this multiple of the image resolution and then averaged back, so
#: that, like the mask, it samples coverage at pixel centres rather than "any point in the
#: pixel" (which would grow the outline by half a pixel).
SUPERSAMPLE = 4
#: Voxel centres project about 1.4 pixels (5.6 super-sampled pixels) apart; a closing with
#: this square (super-sampled pixels) fills the gaps between them without growing the outline.
CLOSING_SIZE = 7
#: Alpha from which a pixel counts as object (half of the anti-aliasing sub-pixels).
MASK_THRESHOLD = 0.5


def occupied_voxel_centres(vox: np.ndarray) -> np.ndarray:
    """World positions (N, 3) ``(x, y, z)`` of the occupied voxel centres of a grid in the
    dataset layout ``[iy][ix][R − 1 − iz]`` (centre of voxel i: ``(i + 0.5 − R/2)/(R − 1)``)."""
    r = vox.shape[0]
    scale, offset = voxel_index_scale(r)
    iy, ix, iz_rev = np.nonzero(vox)
    cells = np.stack((ix, iy, r - 1 - iz_rev), 1).astype(np.float64)
    return (cells + 0.5 - offset) / scale


def project_points(
    points: np.ndarray,
    azimuth_deg: float,
    elevation_deg: float = ELEVATION_DEG,
    distance: float = CAMERA_DISTANCE,
    viewing_angle_deg: float = VIEWING_ANGLE_DEG,
) -> np.ndarray:
    """World (N, 3) → NDC (N, 2) with the official look-at + perspective camera."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    eye = distance * np.array([np.cos(el) * np.sin(az), np.sin(el), -np.cos(el) * np.cos(az)])
    z = -eye / np.linalg.norm(eye)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    cam = (points - eye) @ np.stack((x, y, z)).T
    w = np.tan(np.radians(viewing_angle_deg))
    return cam[:, :2] / (cam[:, 2:3] * w)


def splat(ndc: np.ndarray, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """NDC points (N, 2) → bool (S, S) image, row 0 at the top (official pixel grid)."""
    col = np.floor((ndc[:, 0] + 1) * image_size / 2).astype(np.int64)
    row = np.floor((1 - ndc[:, 1]) * image_size / 2).astype(np.int64)
    ok = (col >= 0) & (col < image_size) & (row >= 0) & (row < image_size)
    img = np.zeros((image_size, image_size), dtype=bool)
    img[row[ok], col[ok]] = True
    return img


def voxel_hull_image(vox: np.ndarray, view: int, mirror_azimuth: bool = False) -> np.ndarray:
    """bool (64, 64): silhouette of the occupied voxels of ``vox`` seen from dataset ``view``
    (``mirror_azimuth`` uses +15·v instead of −15·v, for negative checks)."""
    az = (-1 if mirror_azimuth else 1) * AZIMUTH_STEP_DEG * view
    img = splat(project_points(occupied_voxel_centres(vox), az), IMAGE_SIZE * SUPERSAMPLE)
    square = np.ones((CLOSING_SIZE, CLOSING_SIZE), dtype=bool)
    img = ndimage.binary_closing(img, structure=square)
    blocks = img.reshape(IMAGE_SIZE, SUPERSAMPLE, IMAGE_SIZE, SUPERSAMPLE).mean(axis=(1, 3))
    return blocks >= MASK_THRESHOLD


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two bool images (1 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def hull_mask_ious(images: np.ndarray, vox: np.ndarray, mirror_azimuth: bool = False) -> np.ndarray:
    """Per-view IoU (24,) between an object's alpha masks and its voxel hull.

    Args:
        images: uint8 (24, 4, S, S) release-format images of one object.
        vox: (R, R, R) its voxels in the dataset layout.
    """
    masks = images[:, ALPHA_CHANNEL].astype(np.float64) / UINT8_MAX >= MASK_THRESHOLD
    return np.array(
        [mask_iou(voxel_hull_image(vox, v, mirror_azimuth), masks[v]) for v in range(len(images))]
    )


def probe_parts() -> list:
    """Parts of a chunky object asymmetric along every axis (an L of blocks with a tower
    at one corner and a block sticking out of one side): a mirrored or transposed voxel
    layout, or a mirrored azimuth, changes its silhouettes in most views."""
    from .synthetic.parts import box

    grey, red, blue = (0.6, 0.6, 0.6), (0.8, 0.2, 0.2), (0.2, 0.3, 0.8)
    return [
        box((0.0, 0.0, 0.0), (0.9, 0.25, 0.5), grey),  # base slab
        box((0.3, 0.35, -0.1), (0.3, 0.5, 0.3), red),  # tower at +x, −z
        box((-0.25, 0.2, 0.35), (0.25, 0.2, 0.3), blue),  # block out at +z, −x
    ]

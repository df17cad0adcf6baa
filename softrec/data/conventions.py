"""Every constant of the ShapeNet rendering dataset (NMR release) in one place.

Conventions (docs/conventions.md §2–§4):

* Views ``v ∈ [0, 24)``: look-at camera at distance 2.732, elevation 30°, azimuth
  ``−15·v`` degrees, viewing angle (half field of view) 15°, images 64×64.
* Images: uint8 ``(24, 4, 64, 64)`` per object, channel-first RGBA. RGB is stored
  *inverted*: ``stored = alpha · (1 − rgb)`` (composited over white, then inverted), so the
  background is black; channel 3 is the object mask (alpha).
* Voxels: ``(32, 32, 32)`` solid occupancy. A coordinate ``u ∈ [−0.5, 0.5]`` falls in voxel
  ``floor(u·(R − 1) + R/2)`` (``floor(u·31 + 16)`` at R = 32) and the array is indexed
  ``vox[iy][ix][R − 1 − iz]``.
"""

from __future__ import annotations

import torch

from ..render.cameras import eye_from_angles

#: Number of rendered views per object.
NUM_VIEWS = 24
#: Camera distance from the origin (world units).
CAMERA_DISTANCE = 2.732
#: Camera elevation in degrees (same for every view).
ELEVATION_DEG = 30.0
#: Azimuth of view ``v`` is ``AZIMUTH_STEP_DEG · v`` degrees.
AZIMUTH_STEP_DEG = -15.0
#: Half field of view of the perspective camera, degrees.
VIEWING_ANGLE_DEG = 15.0
#: Side of the square images in pixels.
IMAGE_SIZE = 64
#: Channels per image: R, G, B (inverted) and alpha.
IMAGE_CHANNELS = 4
#: Index of the alpha (mask) channel.
ALPHA_CHANNEL = 3
#: Side of the voxel grids.
VOXEL_RESOLUTION = 32
#: Objects are normalized into the cube ``[−OBJECT_HALF_EXTENT, OBJECT_HALF_EXTENT]³``.
OBJECT_HALF_EXTENT = 0.5
#: Largest value of a uint8 image channel.
UINT8_MAX = 255

#: Version of the HDF5 layout written by :mod:`softrec.data.h5format`.
FORMAT_VERSION = 1
#: Dataset splits, in the order they are usually listed.
SPLITS = ("train", "val", "test")

#: Human-readable conventions stored as HDF5 file attributes.
RGB_CONVENTION = "inverted: stored = alpha * (1 - rgb composited over white); background black"
VOXEL_LAYOUT = "vox[iy][ix][R-1-iz], index = floor(u*(R-1) + R/2) for u in [-0.5, 0.5]"
VIEW_CONVENTION = "view v: elevation 30 deg, azimuth -15*v deg, distance 2.732, look-at, up +y"


def voxel_index_scale(resolution: int) -> tuple[float, float]:
    """``(scale, offset)`` such that a coordinate ``u`` falls in voxel ``floor(u·scale + offset)``.

    For R = 32 this is ``(31, 16)``, the official evaluation's ``(u·31/32 + 0.5)·32``.
    """
    return float(resolution - 1), resolution / 2.0


def view_to_camera(view: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Camera of dataset view ids.

    Args:
        view: integer tensor of any shape with values in ``[0, NUM_VIEWS)``.
    Returns:
        ``(distance, elevation, azimuth)`` float32 tensors of ``view``'s shape, angles in
        degrees: 2.732, 30 and ``−15·view``. Feed them to ``eye_from_angles``.
    """
    view = torch.as_tensor(view)
    if view.is_floating_point() or view.is_complex():
        raise TypeError(f"view must be an integer tensor, got {view.dtype}")
    if view.numel() and (int(view.min()) < 0 or int(view.max()) >= NUM_VIEWS):
        raise ValueError(f"view ids must lie in [0, {NUM_VIEWS}), got {view.min()}..{view.max()}")
    azimuth = view.to(torch.float32) * AZIMUTH_STEP_DEG
    distance = torch.full_like(azimuth, CAMERA_DISTANCE)
    elevation = torch.full_like(azimuth, ELEVATION_DEG)
    return distance, elevation, azimuth


def view_eyes(view: torch.Tensor) -> torch.Tensor:
    """Eye positions (``view``'s shape + (3,), float32) of dataset view ids: the one
    place where view ids become cameras; loaders hand them to the model with the batch."""
    return eye_from_angles(*view_to_camera(view)).float()

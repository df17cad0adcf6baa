"""The differentiable soft rasterizer and its cameras, lighting and renderer module."""

from .cameras import (
    default_eye_distance,
    eye_from_angles,
    look,
    look_at,
    orthographic,
    perspective,
    projection,
)
from .lighting import lighting
from .options import CameraOptions, LightingOptions, RasterOptions
from .rasterize import BACKENDS, rasterize_with_options, resolve_backend, soft_rasterize
from .reference import pixel_centers, soft_rasterize_reference
from .renderer import SoftRenderer
from .turntable import render_turntable, turntable_eyes

__all__ = [
    "BACKENDS",
    "CameraOptions",
    "LightingOptions",
    "RasterOptions",
    "SoftRenderer",
    "default_eye_distance",
    "eye_from_angles",
    "lighting",
    "look",
    "look_at",
    "orthographic",
    "perspective",
    "pixel_centers",
    "projection",
    "rasterize_with_options",
    "resolve_backend",
    "soft_rasterize",
    "soft_rasterize_reference",
    "render_turntable",
    "turntable_eyes",
]

"""``SoftRenderer``: lighting → camera → soft rasterizer, as one ``nn.Module``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

import torch
from torch import nn

from ..mesh import check_mesh
from ..mesh import face_vertices as gather_face_vertices
from . import cameras
from .lighting import lighting
from .options import SETTING_ALIASES, CameraOptions, LightingOptions, RasterOptions
from .rasterize import rasterize_with_options


class SoftRenderer(nn.Module):
    """Differentiable mesh renderer: lighting → camera → soft rasterizer.

    Settings live in three option objects, as in PyTorch3D's renderer:
    :class:`RasterOptions` (``raster``), :class:`CameraOptions` (``camera``) and
    :class:`LightingOptions` (``lights``). Any of their fields may also be given as a
    keyword, as may the official SoftRas renderer's names (``lighting``,
    ``light_intensity_ambient``, ...)::

        SoftRenderer(image_size=64, sigma=1e-4, viewing_angle=15, fill_back=True)
        SoftRenderer(RasterOptions(image_size=64), CameraOptions(viewing_angle=15))

    Args:
        raster, camera, lights: option objects (defaults: the official SoftRas ones, with
            the renderer's default σ = 1e-5 and viewing angle 30°).
        anti_aliasing: render at 2× and average-pool (``raster.image_size`` is the output).
        fill_back: also draw every face with reversed winding, as the official renderer's
            ``fill_back`` does: back faces receive color, and every face counts twice in
            the silhouette (with ``prod``: ``1 − Π(1 − D)²``). ``double_side`` gives the
            color part alone, at the cost of one face.
        eye: default camera position ((3,) or (B, 3)); per call with ``eyes=`` or
            :meth:`set_eyes_from_angles`.
        P, dist_coeffs: the 3×4 matrix (and distortion) of ``camera_mode='projection'``.
        backend: force ``reference`` / ``cpu`` / ``cuda`` (default: by device).
        **settings: fields of the three option objects by name.

    ``sigma``, ``gamma`` and ``texture_type`` may be assigned between calls (training
    schedules anneal σ); ``raster``, ``camera`` and ``lights`` may be replaced whole.
    """

    def __init__(
        self,
        raster: RasterOptions | None = None,
        camera: CameraOptions | None = None,
        lights: LightingOptions | None = None,
        *,
        anti_aliasing: bool = False,
        fill_back: bool = False,
        eye: Sequence[float] | torch.Tensor | None = None,
        P: torch.Tensor | None = None,
        dist_coeffs: torch.Tensor | None = None,
        backend: str | None = None,
        **settings: Any,
    ) -> None:
        super().__init__()
        groups = {"raster": raster or RasterOptions(), "camera": camera or CameraOptions(),
                  "lights": lights or LightingOptions()}  # fmt: skip
        chosen: dict[str, dict[str, Any]] = {k: {} for k in groups}
        for key, value in settings.items():
            name = SETTING_ALIASES.get(key, key)
            owner = next((g for g, opts in groups.items() if name in _fields(opts)), None)
            if owner is None:
                known = sorted(set().union(*(_fields(o) for o in groups.values()), SETTING_ALIASES))
                raise TypeError(f"SoftRenderer got an unknown setting {key!r}; known: {known}")
            chosen[owner][name] = tuple(value) if isinstance(value, list) else value
        self.raster: RasterOptions = replace(groups["raster"], **chosen["raster"])
        self.camera: CameraOptions = replace(groups["camera"], **chosen["camera"])
        self.lights: LightingOptions = replace(groups["lights"], **chosen["lights"])
        if self.camera.camera_mode == "projection" and P is None:
            raise ValueError("camera_mode='projection' needs a 3x4 projection matrix P")
        self.anti_aliasing, self.fill_back = anti_aliasing, fill_back
        if eye is None:
            eye = (0.0, 0.0, -cameras.default_eye_distance(self.camera.viewing_angle))
        self.eye = eye
        self.P, self.dist_coeffs = P, dist_coeffs
        self.backend = backend

    # σ, γ and the texture type change during training or between calls: one-liners
    @property
    def sigma(self) -> float:
        return self.raster.sigma

    @sigma.setter
    def sigma(self, value: float) -> None:
        self.raster = replace(self.raster, sigma=value)

    @property
    def gamma(self) -> float:
        return self.raster.gamma

    @gamma.setter
    def gamma(self, value: float) -> None:
        self.raster = replace(self.raster, gamma=value)

    @property
    def texture_type(self) -> str:
        return self.raster.texture_type

    @texture_type.setter
    def texture_type(self, value: str) -> None:
        self.raster = replace(self.raster, texture_type=value)

    @property
    def image_size(self) -> int:
        """Side of the output images."""
        return self.raster.image_size

    @property
    def viewing_angle(self) -> float:
        return self.camera.viewing_angle

    def options(self) -> RasterOptions:
        """The rasterizer options of one call (twice the size when anti-aliasing)."""
        if self.anti_aliasing:
            return replace(self.raster, image_size=2 * self.raster.image_size)
        return self.raster

    def set_eyes_from_angles(self, distances, elevations, azimuths) -> None:
        """Place the camera(s) by distance, elevation and azimuth (degrees, scalars or (B,))."""
        self.eye = cameras.eye_from_angles(distances, elevations, azimuths)

    def transform(self, vertices: torch.Tensor, eyes=None) -> torch.Tensor:
        """World vertices (B, V, 3) → screen-space vertices (B, V, 3)."""
        eye, cam_opts = self.eye if eyes is None else eyes, self.camera
        if cam_opts.camera_mode == "projection":
            return cameras.projection(vertices, self.P, self.dist_coeffs, cam_opts.orig_size)
        if cam_opts.camera_mode == "look_at":
            cam = cameras.look_at(vertices, eye)
        else:
            cam = cameras.look(vertices, eye, cam_opts.camera_direction)
        if cam_opts.perspective:
            return cameras.perspective(cam, cam_opts.viewing_angle)
        return cameras.orthographic(cam, cam_opts.viewing_scale)

    def forward(
        self,
        vertices: torch.Tensor,
        faces: torch.Tensor,
        textures: torch.Tensor | None = None,
        eyes=None,
    ) -> torch.Tensor:
        """Render meshes.

        Args:
            vertices: (B, V, 3) world-space vertices.
            faces: (F, 3) or (B, F, 3) int64 vertex indices.
            textures: ``None`` (silhouette), (B, F, T, 3) face textures, or, with
                ``texture_type='vertex'``, (B, V, 3) per-vertex colors.
            eyes: camera position(s) for this call, (3,) or (B, 3).
        Returns:
            (B, 4, S, S) RGBA images.
        """
        if faces.numel() == 0:
            raise ValueError("faces is empty: cannot render a mesh without faces")
        faces = check_mesh(vertices, faces)
        if self.fill_back:
            if textures is not None and self.texture_type == "surface" and textures.shape[2] > 1:
                raise ValueError("fill_back supports vertex colors and one color per face "
                                 "(T = 1); use double_side=True for R×R texture atlases")
            if textures is not None and textures.dim() == 4:
                textures = torch.cat([textures, textures], dim=1)
            faces = torch.cat([faces, faces.flip(-1)], dim=-2)
        face_textures = None
        if textures is not None:
            if self.texture_type == "vertex" and textures.dim() == 3:
                face_textures = gather_face_vertices(textures, faces)
            else:
                face_textures = textures
            light = self.lights
            if light.enabled:
                world = gather_face_vertices(vertices, faces)
                face_textures = lighting(
                    world, face_textures, light.ambient_intensity, light.directional_intensity,
                    light.ambient_color, light.directional_color, light.direction,
                )  # fmt: skip
        screen = gather_face_vertices(self.transform(vertices, eyes), faces)
        return rasterize_with_options(
            screen, face_textures, self.options(), self.anti_aliasing, self.backend
        )


def _fields(options: Any) -> set[str]:
    return {f.name for f in fields(options)}

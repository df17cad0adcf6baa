"""``SoftRenderer``: lighting → camera → soft rasterizer, as one ``nn.Module``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..mesh import check_mesh
from ..mesh import face_vertices as gather_face_vertices
from . import cameras
from .lighting import lighting
from .options import RasterOptions
from .rasterize import rasterize_with_options

CAMERA_MODES = ("look_at", "look", "projection")


class SoftRenderer(nn.Module):
    """Differentiable mesh renderer with the official SoftRas defaults.

    Args:
        image_size, background_color, near, far, eps, sigma, gamma, dist_func, dist_eps,
            aggr_rgb, aggr_alpha, texture_type: rasterizer options (see ``RasterOptions``).
        anti_aliasing: render at 2× and average-pool.
        fill_back: back-facing faces also receive color (double-sided rendering).
        camera_mode: ``look_at`` (eye looks at the origin), ``look`` (eye looks along
            ``camera_direction``) or ``projection`` (3×4 matrix ``P``).
        perspective, viewing_angle, viewing_scale: projection of look/look_at cameras.
        eye: default camera position ((3,) or (B, 3)); set per call with ``eyes=`` or
            :meth:`set_eyes_from_angles`.
        light_intensity_ambient, light_intensity_directionals, light_color_ambient,
            light_color_directionals, light_directions: Lambertian lighting; ``lighting=False``
            disables it.
        backend: force ``reference`` / ``cpu`` / ``cuda`` (default: by device).

    ``sigma`` and ``gamma`` are plain attributes and may be changed between calls
    (training schedules anneal σ).
    """

    def __init__(
        self,
        image_size: int = 256,
        background_color: Sequence[float] = (0.0, 0.0, 0.0),
        near: float = 1.0,
        far: float = 100.0,
        anti_aliasing: bool = False,
        fill_back: bool = False,
        eps: float = 1e-3,
        sigma: float = 1e-5,
        gamma: float = 1e-4,
        dist_func: str = "euclidean",
        dist_eps: float = 1e-4,
        aggr_rgb: str = "softmax",
        aggr_alpha: str = "prod",
        texture_type: str = "surface",
        camera_mode: str = "look_at",
        perspective: bool = True,
        viewing_angle: float = 30.0,
        viewing_scale: float = 1.0,
        eye: Sequence[float] | torch.Tensor | None = None,
        camera_direction: Sequence[float] = (0.0, 0.0, 1.0),
        P: torch.Tensor | None = None,
        dist_coeffs: torch.Tensor | None = None,
        orig_size: int = 512,
        lighting: bool = True,
        light_intensity_ambient: float = 0.5,
        light_intensity_directionals: float = 0.5,
        light_color_ambient: Sequence[float] = (1.0, 1.0, 1.0),
        light_color_directionals: Sequence[float] = (1.0, 1.0, 1.0),
        light_directions: Sequence[float] = (0.0, 1.0, 0.0),
        backend: str | None = None,
    ) -> None:
        super().__init__()
        if camera_mode not in CAMERA_MODES:
            raise ValueError(f"camera_mode must be one of {CAMERA_MODES}, got {camera_mode!r}")
        if camera_mode == "projection" and P is None:
            raise ValueError("camera_mode='projection' needs a 3x4 projection matrix P")
        self.image_size = image_size
        self.background_color = tuple(background_color)
        self.near, self.far, self.eps = near, far, eps
        self.sigma, self.gamma = sigma, gamma
        self.dist_func, self.dist_eps = dist_func, dist_eps
        self.aggr_rgb, self.aggr_alpha = aggr_rgb, aggr_alpha
        self.texture_type = texture_type
        self.anti_aliasing, self.fill_back = anti_aliasing, fill_back
        self.camera_mode, self.perspective = camera_mode, perspective
        self.viewing_angle, self.viewing_scale = viewing_angle, viewing_scale
        if eye is None:
            eye = (0.0, 0.0, -cameras.default_eye_distance(viewing_angle))
        self.eye = eye
        self.camera_direction = tuple(camera_direction)
        self.P, self.dist_coeffs, self.orig_size = P, dist_coeffs, orig_size
        self.lighting = lighting
        self.light_intensity_ambient = light_intensity_ambient
        self.light_intensity_directionals = light_intensity_directionals
        self.light_color_ambient = tuple(light_color_ambient)
        self.light_color_directionals = tuple(light_color_directionals)
        self.light_directions = tuple(light_directions)
        self.backend = backend
        self.options()  # validate now rather than at the first render

    def options(self) -> RasterOptions:
        """The rasterizer options for the current attribute values."""
        return RasterOptions(
            image_size=self.image_size * (2 if self.anti_aliasing else 1),
            background_color=self.background_color,
            near=self.near, far=self.far, eps=self.eps, sigma=self.sigma, gamma=self.gamma,
            dist_func=self.dist_func, aggr_alpha=self.aggr_alpha, aggr_rgb=self.aggr_rgb,
            dist_eps=self.dist_eps, texture_type=self.texture_type, double_side=self.fill_back,
        )  # fmt: skip

    def set_eyes_from_angles(self, distances, elevations, azimuths) -> None:
        """Place the camera(s) by distance, elevation and azimuth (degrees, scalars or (B,))."""
        self.eye = cameras.eye_from_angles(distances, elevations, azimuths)

    def transform(self, vertices: torch.Tensor, eyes=None) -> torch.Tensor:
        """World vertices (B, V, 3) → screen-space vertices (B, V, 3)."""
        eye = self.eye if eyes is None else eyes
        if self.camera_mode == "projection":
            return cameras.projection(vertices, self.P, self.dist_coeffs, self.orig_size)
        if self.camera_mode == "look_at":
            cam = cameras.look_at(vertices, eye)
        else:
            cam = cameras.look(vertices, eye, self.camera_direction)
        if self.perspective:
            return cameras.perspective(cam, self.viewing_angle)
        return cameras.orthographic(cam, self.viewing_scale)

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
        face_textures = None
        if textures is not None:
            if self.texture_type == "vertex" and textures.dim() == 3:
                face_textures = gather_face_vertices(textures, faces)
            else:
                face_textures = textures
            if self.lighting:
                world = gather_face_vertices(vertices, faces)
                face_textures = lighting(
                    world, face_textures,
                    self.light_intensity_ambient, self.light_intensity_directionals,
                    self.light_color_ambient, self.light_color_directionals,
                    self.light_directions,
                )  # fmt: skip
        screen = gather_face_vertices(self.transform(vertices, eyes), faces)
        return rasterize_with_options(
            screen, face_textures, self.options(), self.anti_aliasing, self.backend
        )

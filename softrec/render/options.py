"""Validated options of the soft rasterizer (official SoftRas defaults)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DIST_FUNCS = ("hard", "euclidean", "barycentric")
AGGR_ALPHA = ("hard", "sum", "prod")
AGGR_RGB = ("hard", "softmax")
TEXTURE_TYPES = ("surface", "vertex")


@dataclass(frozen=True)
class RasterOptions:
    """Everything that shapes a soft rasterization.

    Attributes:
        image_size: output side S in pixels (square images).
        background_color: RGB of empty pixels.
        near, far: depth range of faces that may contribute color.
        eps: background depth ε of the softmax color aggregation.
        sigma: sharpness σ of the probability map (σ → 0: hard edges).
        gamma: softmax temperature γ of the color aggregation.
        dist_func: ``euclidean`` (squared distance to the triangle's boundary),
            ``barycentric`` (squared smallest barycentric coordinate) or ``hard``.
        aggr_alpha: ``prod`` (1 − Π(1 − D)), ``sum`` (ΣD / F) or ``hard`` (any D > ½).
        aggr_rgb: ``softmax`` over normalized inverse depth, or ``hard`` (z-buffer).
        dist_eps: probability below which a pixel–face pair is culled.
        texture_type: ``surface`` (R×R per-face atlas, T = R²) or ``vertex`` (T = 3).
        double_side: back-facing faces also contribute color.
        check_finite: refuse NaN/infinite inputs with a clear error. The check reads a
            flag back from the device, a host–device synchronization per call: GPU
            training turns it off (bad values then surface as a non-finite loss).
    """

    image_size: int = 256
    background_color: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))
    near: float = 1.0
    far: float = 100.0
    eps: float = 1e-3
    sigma: float = 1e-5
    gamma: float = 1e-4
    dist_func: str = "euclidean"
    aggr_alpha: str = "prod"
    aggr_rgb: str = "softmax"
    dist_eps: float = 1e-4
    texture_type: str = "surface"
    double_side: bool = False
    check_finite: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.image_size, int) or isinstance(self.image_size, bool):
            raise TypeError(f"image_size must be an int, got {type(self.image_size).__name__}")
        if self.image_size <= 0:
            raise ValueError(f"image_size must be positive, got {self.image_size}")
        bg = tuple(float(c) for c in self.background_color)
        if len(bg) != 3 or not all(math.isfinite(c) for c in bg):
            raise ValueError(
                f"background_color must be 3 finite floats, got {self.background_color}"
            )
        object.__setattr__(self, "background_color", bg)
        for name in ("near", "far", "eps", "sigma", "gamma", "dist_eps"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
            object.__setattr__(self, name, float(v))
        if self.sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")
        if self.gamma <= 0:
            raise ValueError(f"gamma must be > 0, got {self.gamma}")
        if not 0 < self.dist_eps < 0.5:
            raise ValueError(f"dist_eps must be in (0, 0.5), got {self.dist_eps}")
        if not self.near < self.far:
            raise ValueError(f"near ({self.near}) must be smaller than far ({self.far})")
        for name, allowed in (
            ("dist_func", DIST_FUNCS),
            ("aggr_alpha", AGGR_ALPHA),
            ("aggr_rgb", AGGR_RGB),
            ("texture_type", TEXTURE_TYPES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")

    @property
    def threshold(self) -> float:
        """Squared screen distance beyond which an outside pixel is culled: σ·ln(1/ε − 1)."""
        return self.sigma * math.log(1.0 / self.dist_eps - 1.0)


CAMERA_MODES = ("look_at", "look", "projection")


@dataclass(frozen=True)
class CameraOptions:
    """How world vertices reach the screen (``docs/conventions.md`` §2).

    Attributes:
        camera_mode: ``look_at`` (the eye looks at the origin), ``look`` (the eye looks
            along ``camera_direction``) or ``projection`` (a 3×4 matrix ``P``).
        perspective: perspective (``viewing_angle``) or orthographic (``viewing_scale``).
        viewing_angle: half field of view in degrees.
        viewing_scale: half width of the orthographic view.
        camera_direction: viewing direction of ``look`` cameras.
        orig_size: image size the ``projection`` matrix was calibrated for.
    """

    camera_mode: str = "look_at"
    perspective: bool = True
    viewing_angle: float = 30.0
    viewing_scale: float = 1.0
    camera_direction: tuple[float, float, float] = (0.0, 0.0, 1.0)
    orig_size: int = 512

    def __post_init__(self) -> None:
        if self.camera_mode not in CAMERA_MODES:
            raise ValueError(
                f"camera_mode must be one of {CAMERA_MODES}, got {self.camera_mode!r}"
            )
        if not 0 < float(self.viewing_angle) < 90:
            raise ValueError(f"viewing_angle must be in (0, 90) degrees, got {self.viewing_angle}")
        object.__setattr__(self, "camera_direction", tuple(float(c) for c in self.camera_direction))


@dataclass(frozen=True)
class LightingOptions:
    """Ambient plus one directional Lambertian light (``docs/conventions.md`` §1).

    Attributes:
        enabled: light textured renders (silhouettes are never lit).
        ambient_intensity, directional_intensity: the two lights' intensities.
        ambient_color, directional_color: their RGB colors.
        direction: the direction in which the directional light travels.
    """

    enabled: bool = True
    ambient_intensity: float = 0.5
    directional_intensity: float = 0.5
    ambient_color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    directional_color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    direction: tuple[float, float, float] = (0.0, 1.0, 0.0)

    def __post_init__(self) -> None:
        for name in ("ambient_color", "directional_color", "direction"):
            object.__setattr__(self, name, tuple(float(c) for c in getattr(self, name)))


#: The official renderer's keyword names that differ from the option fields.
SETTING_ALIASES = {
    "lighting": "enabled",
    "light_intensity_ambient": "ambient_intensity",
    "light_intensity_directionals": "directional_intensity",
    "light_color_ambient": "ambient_color",
    "light_color_directionals": "directional_color",
    "light_directions": "direction",
}

"""softrec: single-view 3D mesh reconstruction with a differentiable soft rasterizer.

Public API (tensor shapes and conventions are in each docstring):

* Rendering: :func:`soft_rasterize`, :class:`SoftRenderer`, cameras (:func:`look_at`,
  :func:`look`, :func:`perspective`, :func:`orthographic`, :func:`projection`,
  :func:`eye_from_angles`) and :func:`lighting`.
* Meshes: :func:`icosphere`, :func:`face_vertices`, :func:`face_normals`,
  :func:`vertex_normals`, :func:`load_obj`, :func:`save_obj`.
* Data (:mod:`softrec.data`): :func:`voxelize`, :func:`voxel_iou`,
  :class:`ShapeNetDataModule`, :func:`make_synthetic_dataset`, ``CATEGORIES``.
* Fitting (:mod:`softrec.fit`): deform a template to many calibrated views
  (:func:`softrec.fit.fit_mesh`, :class:`softrec.fit.FitOptions`).
* Model (:mod:`softrec.models`, :mod:`softrec.losses`): :class:`SoftRasModule`,
  :class:`ReconstructionNet`, :class:`ResNetEncoder`, :class:`MeshDecoder`,
  :class:`ColorBranch`.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

# Everything is imported on first use: `import softrec` (and the entry points' config
# checks, which run before anything heavy) stay fast, and users of the renderer alone
# never import h5py or Lightning.
_RENDER_NAMES = (
    "CameraOptions", "LightingOptions", "RasterOptions", "SoftRenderer", "eye_from_angles",
    "lighting", "look", "look_at", "orthographic", "perspective", "projection",
    "soft_rasterize", "soft_rasterize_reference",
)  # fmt: skip
_MESH_NAMES = (
    "face_normals", "face_vertices", "icosphere", "load_obj", "save_obj", "vertex_normals",
)  # fmt: skip
_LAZY = {
    **{name: ("softrec.render", name) for name in _RENDER_NAMES},
    **{name: ("softrec.mesh", name) for name in _MESH_NAMES},
    "render": ("softrec.render", None),
    "mesh": ("softrec.mesh", None),
    "data": ("softrec.data", None),
    "fit": ("softrec.fit", None),
    "losses": ("softrec.losses", None),
    "models": ("softrec.models", None),
    "CATEGORIES": ("softrec.data", "CATEGORIES"),
    "ShapeNetDataModule": ("softrec.data", "ShapeNetDataModule"),
    "make_synthetic_dataset": ("softrec.data", "make_synthetic_dataset"),
    "voxel_iou": ("softrec.data", "voxel_iou"),
    "voxelize": ("softrec.data", "voxelize"),
    "ColorBranch": ("softrec.models", "ColorBranch"),
    "MeshDecoder": ("softrec.models", "MeshDecoder"),
    "ReconstructionNet": ("softrec.models", "ReconstructionNet"),
    "ResNetEncoder": ("softrec.models", "ResNetEncoder"),
    "SoftRasModule": ("softrec.models", "SoftRasModule"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'softrec' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


__all__ = [
    "CATEGORIES",
    "ColorBranch",
    "MeshDecoder",
    "CameraOptions",
    "LightingOptions",
    "RasterOptions",
    "ReconstructionNet",
    "ResNetEncoder",
    "ShapeNetDataModule",
    "SoftRasModule",
    "data",
    "fit",
    "losses",
    "make_synthetic_dataset",
    "models",
    "voxel_iou",
    "voxelize",
    "SoftRenderer",
    "eye_from_angles",
    "face_normals",
    "face_vertices",
    "icosphere",
    "lighting",
    "load_obj",
    "look",
    "look_at",
    "orthographic",
    "perspective",
    "projection",
    "save_obj",
    "soft_rasterize",
    "soft_rasterize_reference",
    "vertex_normals",
]

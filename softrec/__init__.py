"""softrec: single-view 3D mesh reconstruction with a differentiable soft rasterizer.

Public API (tensor shapes and conventions are in each docstring):

* Rendering: :func:`soft_rasterize`, :class:`SoftRenderer`, cameras (:func:`look_at`,
  :func:`look`, :func:`perspective`, :func:`orthographic`, :func:`projection`,
  :func:`eye_from_angles`) and :func:`lighting`.
* Meshes: :func:`icosphere`, :func:`face_vertices`, :func:`face_normals`,
  :func:`vertex_normals`, :func:`load_obj`, :func:`save_obj`.
"""

from .mesh import face_normals, face_vertices, icosphere, load_obj, save_obj, vertex_normals
from .render import (
    RasterOptions,
    SoftRenderer,
    eye_from_angles,
    lighting,
    look,
    look_at,
    look_at_perspective,
    orthographic,
    perspective,
    projection,
    soft_rasterize,
    soft_rasterize_reference,
)

__version__ = "0.1.0"

__all__ = [
    "RasterOptions",
    "SoftRenderer",
    "eye_from_angles",
    "face_normals",
    "face_vertices",
    "icosphere",
    "lighting",
    "load_obj",
    "look",
    "look_at",
    "look_at_perspective",
    "orthographic",
    "perspective",
    "projection",
    "save_obj",
    "soft_rasterize",
    "soft_rasterize_reference",
    "vertex_normals",
]

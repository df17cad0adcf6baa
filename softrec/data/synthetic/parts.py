"""Closed, outward-wound primitive parts for the procedural object generators.

A :class:`Part` is a watertight triangle mesh (numpy float64 vertices (V, 3), int64 faces
(F, 3), counter-clockwise seen from outside) with one RGB color in ``[0, 1]`` and an
optional name (``"seat"``, ``"back"``, ``"screen"``...) that lets callers find it in the
finished object. Parts of an object may overlap: the voxelizer fills solids, the renderer
z-buffers.
Axes of the build frame: +y up, +z front, x across. ``generate_object`` turns finished
objects to face −z, as the release does (see :mod:`softrec.data.synthetic.objects`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import trimesh

#: Segments around cylinders, cones and wheels (keeps objects well under 2000 faces).
ROUND_SECTIONS = 12
#: Subdivisions of the icosphere behind ellipsoids (80·4^(s−1) faces).
ELLIPSOID_SUBDIVISIONS = 2

Vec3 = Sequence[float] | np.ndarray


@dataclass
class Part:
    """One colored closed mesh: vertices (V, 3) float64, faces (F, 3) int64, color (3,),
    name (empty when nothing needs to find it)."""

    vertices: np.ndarray
    faces: np.ndarray
    color: np.ndarray
    name: str = ""

    def warped(self, fn: Callable[[np.ndarray], np.ndarray]) -> Part:
        """A copy with ``fn`` applied to the vertices (must not mirror the mesh)."""
        return Part(fn(self.vertices.copy()), self.faces, self.color, self.name)

    def named(self, name: str) -> Part:
        """The same part called ``name``."""
        return Part(self.vertices, self.faces, self.color, name)


def _part(mesh: trimesh.Trimesh, color: Vec3) -> Part:
    return Part(
        np.asarray(mesh.vertices, dtype=np.float64),
        np.asarray(mesh.faces, dtype=np.int64),
        np.asarray(color, dtype=np.float64),
    )


def box(center: Vec3, size: Vec3, color: Vec3) -> Part:
    """Axis-aligned box of extents ``size`` centred at ``center``."""
    m = trimesh.creation.box(extents=np.asarray(size, dtype=np.float64))
    m.apply_translation(np.asarray(center, dtype=np.float64))
    return _part(m, color)


def tapered_box(
    center: Vec3,
    size: Vec3,
    color: Vec3,
    top_scale: tuple[float, float] = (1.0, 1.0),
    front_scale: tuple[float, float] = (1.0, 1.0),
    sweep: float = 0.0,
) -> Part:
    """Box whose top face is scaled by ``top_scale`` (x, z) and front (+z) face by
    ``front_scale`` (x, y) about their centres; ``sweep`` moves vertices back (−z) by
    ``sweep·|x − cx|`` (swept wings)."""
    c = np.asarray(center, dtype=np.float64)
    m = trimesh.creation.box(extents=np.asarray(size, dtype=np.float64))
    v = np.asarray(m.vertices, dtype=np.float64).copy()
    top, front = v[:, 1] > 0, v[:, 2] > 0
    v[top, 0] *= top_scale[0]
    v[top, 2] *= top_scale[1]
    v[front, 0] *= front_scale[0]
    v[front, 1] *= front_scale[1]
    v[:, 2] -= sweep * np.abs(v[:, 0])
    return Part(v + c, np.asarray(m.faces, dtype=np.int64), np.asarray(color, dtype=np.float64))


def _align_z_to(direction: np.ndarray) -> np.ndarray:
    """4×4 rotation taking +z to ``direction`` (unit)."""
    z = np.array([0.0, 0.0, 1.0])
    d = direction / np.linalg.norm(direction)
    if np.allclose(d, z):
        return np.eye(4)
    if np.allclose(d, -z):
        return trimesh.transformations.rotation_matrix(np.pi, [1.0, 0.0, 0.0])
    axis = np.cross(z, d)
    angle = np.arccos(np.clip(np.dot(z, d), -1.0, 1.0))
    return trimesh.transformations.rotation_matrix(angle, axis)


def frustum(
    p0: Vec3, p1: Vec3, r0: float, r1: float, color: Vec3, sections: int = ROUND_SECTIONS
) -> Part:
    """Closed truncated cone from ``p0`` (radius ``r0``) to ``p1`` (radius ``r1``);
    ``r0 == r1`` gives a cylinder."""
    p0, p1 = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
    length = float(np.linalg.norm(p1 - p0))
    m = trimesh.creation.cylinder(radius=1.0, height=length, sections=sections)
    v = np.asarray(m.vertices, dtype=np.float64).copy()
    t = (v[:, 2] + length / 2) / length  # 0 at p0, 1 at p1
    v[:, :2] *= (r0 + (r1 - r0) * t)[:, None]
    v[:, 2] += length / 2
    rot = _align_z_to(p1 - p0)[:3, :3]
    return Part(
        v @ rot.T + p0, np.asarray(m.faces, dtype=np.int64), np.asarray(color, dtype=np.float64)
    )


def cylinder(
    p0: Vec3, p1: Vec3, radius: float, color: Vec3, sections: int = ROUND_SECTIONS
) -> Part:
    """Closed cylinder of ``radius`` from ``p0`` to ``p1``."""
    return frustum(p0, p1, radius, radius, color, sections)


def ellipsoid(
    center: Vec3, radii: Vec3, color: Vec3, subdivisions: int = ELLIPSOID_SUBDIVISIONS
) -> Part:
    """Ellipsoid with semi-axes ``radii`` along x, y, z."""
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0)
    v = np.asarray(m.vertices, dtype=np.float64) * np.asarray(radii, dtype=np.float64)
    return Part(
        v + np.asarray(center, dtype=np.float64),
        np.asarray(m.faces, dtype=np.int64),
        np.asarray(color, dtype=np.float64),
    )


def merge(parts: Sequence[Part]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate parts: vertices (V, 3) float64, faces (F, 3) int64, face colors (F, 3)."""
    verts, faces, colors, offset = [], [], [], 0
    for p in parts:
        verts.append(p.vertices)
        faces.append(p.faces + offset)
        colors.append(np.broadcast_to(p.color, (len(p.faces), 3)))
        offset += len(p.vertices)
    return np.concatenate(verts), np.concatenate(faces), np.concatenate(colors)


def face_names(parts: Sequence[Part]) -> np.ndarray:
    """Name of the part each face of :func:`merge`'s output belongs to: str array (F,)."""
    return np.concatenate([np.full(len(p.faces), p.name) for p in parts]).astype(str)


def normalize(vertices: np.ndarray) -> np.ndarray:
    """Centre the bounding box at the origin and scale its diagonal to 1 (ShapeNetCore v1
    normalization), which puts the object inside ``[−0.5, 0.5]³``."""
    lo, hi = vertices.min(0), vertices.max(0)
    diag = float(np.linalg.norm(hi - lo))
    if diag <= 0:
        raise ValueError("cannot normalize a mesh with an empty bounding box")
    return (vertices - (lo + hi) / 2) / diag

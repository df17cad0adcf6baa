"""Triangle mesh helpers: gathering, normals, the icosphere template, OBJ I/O, colored
mesh export (OBJ, PLY, GLB).

Conventions: vertices ``(B, V, 3)`` float, faces ``(B, F, 3)`` or ``(F, 3)`` int64 indices
into the vertices, counter-clockwise when seen from outside (right-hand rule gives the
outward normal).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.weak import WeakIdKeyDictionary

from .files import atomic_write, atomic_write_text

#: Mesh files :func:`save_mesh` writes, by suffix.
MESH_FORMATS = (".obj", ".ply", ".glb")

# faces tensor -> (its version counter, vertex count) of a passed index-range check. The
# check reads the indices back from the device; a training step renders the same template
# faces every call, so each faces tensor is checked once (again after in-place changes).
_checked_faces = WeakIdKeyDictionary()


def check_mesh(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Validate (B, V, 3) vertices and (F, 3) / (B, F, 3) faces; return (B, F, 3) int64 faces."""
    if not isinstance(vertices, torch.Tensor) or not isinstance(faces, torch.Tensor):
        raise TypeError("vertices and faces must be torch.Tensors")
    if vertices.dim() != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must have shape (B, V, 3), got {tuple(vertices.shape)}")
    given = faces
    if faces.dim() == 2:
        faces = faces.unsqueeze(0).expand(vertices.shape[0], -1, -1)
    if faces.dim() != 3 or faces.shape[-1] != 3:
        raise ValueError(f"faces must have shape (F, 3) or (B, F, 3), got {tuple(faces.shape)}")
    if faces.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"faces must be an integer tensor, got {faces.dtype}")
    if faces.shape[0] != vertices.shape[0]:
        raise ValueError(f"faces batch {faces.shape[0]} != vertices batch {vertices.shape[0]}")
    if faces.device != vertices.device:
        raise ValueError(f"faces on {faces.device} but vertices on {vertices.device}")
    _check_face_indices(given, vertices.shape[1])
    return faces.long()


def _check_face_indices(faces: torch.Tensor, num_vertices: int) -> None:
    stamp = (faces._version, num_vertices)
    if _checked_faces.get(faces) == stamp:
        return
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= num_vertices):
        raise ValueError(f"faces index outside [0, {num_vertices})")
    _checked_faces[faces] = stamp


def face_vertices(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Gather per-face corner attributes: (B, V, C) + faces → (B, F, 3, C)."""
    if faces.dim() == 2:
        faces = faces.unsqueeze(0).expand(vertices.shape[0], -1, -1)
    b, f = faces.shape[:2]
    idx = faces.long().reshape(b, f * 3, 1).expand(-1, -1, vertices.shape[-1])
    return torch.gather(vertices, 1, idx).reshape(b, f, 3, vertices.shape[-1])


def normals_of_face_vertices(
    face_vertices: torch.Tensor, normalize: bool = True, eps: float = 1e-12
) -> torch.Tensor:
    """(..., 3, 3) face corners → (..., 3) outward normals ``(v1 − v0) × (v2 − v0)``
    (counter-clockwise winding seen from outside); unit length if ``normalize``."""
    v0, v1, v2 = face_vertices.unbind(dim=-2)
    n = torch.cross(v1 - v0, v2 - v0, dim=-1)
    return torch.nn.functional.normalize(n, dim=-1, eps=eps) if normalize else n


def face_normals(
    vertices: torch.Tensor, faces: torch.Tensor, normalize: bool = True
) -> torch.Tensor:
    """Outward face normals ``(v1 − v0) × (v2 − v0)``: (B, F, 3)."""
    faces = check_mesh(vertices, faces)
    return normals_of_face_vertices(face_vertices(vertices, faces), normalize)


def face_to_vertex_colors(
    colors: torch.Tensor, faces: torch.Tensor, num_vertices: int
) -> torch.Tensor:
    """(F, 3) per-face colors → (V, 3) per-vertex colors, the mean over incident faces
    (vertices on no face get 0)."""
    flat = faces.flatten().long()
    acc = torch.zeros(num_vertices, colors.shape[-1], dtype=colors.dtype, device=colors.device)
    acc.index_add_(0, flat, colors.repeat_interleave(3, 0))
    cnt = torch.bincount(flat, minlength=num_vertices).clamp(min=1)
    return acc / cnt[:, None].to(colors.dtype)


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted vertex normals: (B, V, 3), unit length."""
    faces = check_mesh(vertices, faces)
    n = face_normals(vertices, faces, normalize=False)  # length = 2·area
    out = torch.zeros_like(vertices)
    for k in range(3):
        out.scatter_add_(1, faces[:, :, k : k + 1].expand(-1, -1, 3), n)
    return torch.nn.functional.normalize(out, dim=-1, eps=1e-12)


def icosphere(subdivisions: int = 3, radius: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Icosphere (V = 10·4^s + 2, F = 20·4^s): float32 (V, 3) vertices, int64 (F, 3) faces.

    ``subdivisions=3, radius=0.5`` is the reconstruction template (642 / 1280).
    """
    if subdivisions < 0:
        raise ValueError(f"subdivisions must be >= 0, got {subdivisions}")
    t = (1.0 + 5.0**0.5) / 2.0
    verts = [
        (-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0),
        (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
        (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1),
    ]  # fmt: skip
    faces = [
        (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11),
        (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8),
        (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9),
        (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
    ]  # fmt: skip
    v = np.asarray(verts, dtype=np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    f = np.asarray(faces, dtype=np.int64)
    for _ in range(subdivisions):
        edges, f = _split_faces(f, len(v))
        mid = v[edges[:, 0]] + v[edges[:, 1]]
        v = np.concatenate([v, mid / np.linalg.norm(mid, axis=1, keepdims=True)])
    return torch.from_numpy(v * radius).float(), torch.from_numpy(f)


def _split_faces(faces: np.ndarray, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """One 1-to-4 split of every face: the (E, 2) unique edges, whose midpoints become
    vertices ``num_vertices + e`` in edge order, and the (4F, 3) new faces (winding kept)."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    uniq, inverse = np.unique(edges, axis=0, return_inverse=True)
    m = inverse.reshape(3, -1).T + num_vertices  # midpoints of edges (01, 12, 20) per face
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    m01, m12, m20 = m[:, 0], m[:, 1], m[:, 2]
    new = np.concatenate([np.stack([a, m01, m20], 1), np.stack([b, m12, m01], 1),
                          np.stack([c, m20, m12], 1), np.stack([m01, m12, m20], 1)])  # fmt: skip
    return uniq, new


def subdivide(
    vertices: torch.Tensor, faces: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Midpoint subdivision: every face becomes four, the surface is unchanged.

    Args:
        vertices: (V, C) per-vertex values (positions, colors, ...).
        faces: (F, 3) int64.
    Returns:
        ``(V + E, C)`` values (the old ones first, unchanged, then the mean of each edge's
        two ends), ``(4F, 3)`` faces with the same winding, and the ``(E, 2)`` edges whose
        midpoints were added, in the order they were appended.
    """
    if vertices.dim() != 2 or faces.dim() != 2 or faces.shape[1] != 3:
        raise ValueError(f"subdivide takes (V, C) values and (F, 3) faces, got "
                         f"{tuple(vertices.shape)}, {tuple(faces.shape)}")  # fmt: skip
    edges_np, faces_np = _split_faces(faces.detach().cpu().numpy().astype(np.int64),
                                      vertices.shape[0])  # fmt: skip
    edges = torch.from_numpy(edges_np).to(vertices.device)
    mid = (vertices[edges[:, 0]] + vertices[edges[:, 1]]) / 2
    return torch.cat([vertices, mid]), torch.from_numpy(faces_np).to(faces.device), edges


def template_logits(
    template: torch.Tensor, coord_eps: float = 1e-3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-coordinate parametrization of a template in (−1, 1)³: ``logit(|b|)`` and
    ``sign(b)`` (0 → +1), |b| clamped into [coord_eps, 1 − coord_eps] so that the logit is
    finite and a zero coordinate can still move. Both have ``template``'s shape."""
    sign = torch.where(template < 0, -torch.ones_like(template), torch.ones_like(template))
    mag = template.abs().clamp(coord_eps, 1.0 - coord_eps)
    return torch.log(mag / (1.0 - mag)), sign


def deform_template(
    logits: torch.Tensor,
    sign: torch.Tensor,
    bias: torch.Tensor,
    centroid: torch.Tensor,
    output_scale: float = 1.0,
) -> torch.Tensor:
    """Bounded template deformation (NMR / SoftRas style), ``docs/conventions.md`` §5.

    Each coordinate moves in logit space, ``u = sigmoid(logit(|b|) + β) · sign(b)`` ∈ (−1, 1),
    then towards the centre ``c = tanh(centroid)`` with asymmetric scaling,
    ``u' = relu(u)·(1 − c) − relu(−u)·(1 + c) + c`` ∈ (−1, 1), and ``vertex = output_scale·u'``:
    whatever the parameters, the mesh stays strictly inside the cube of half side
    ``output_scale``.

    Args:
        logits, sign: (V, 3) from :func:`template_logits`.
        bias: (B, V, 3) logit offsets β.
        centroid: (B, 3) raw centre (``tanh`` is applied here).
        output_scale: half side of the bounding cube.
    Returns:
        (B, V, 3) vertices.
    """
    c = torch.tanh(centroid)[:, None, :]
    u = torch.sigmoid(logits + bias) * sign
    u = torch.relu(u) * (1.0 - c) - torch.relu(-u) * (1.0 + c) + c
    return u * output_scale


def load_obj(path: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor]:
    """Read a triangle mesh (OBJ or any format trimesh reads): float32 (V, 3), int64 (F, 3).

    Multi-object scenes are merged into one mesh; polygons are triangulated.
    """
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    mesh = trimesh.load(path, force="mesh", process=False)
    if len(mesh.faces) == 0:
        raise ValueError(f"mesh file has no faces: {path}")
    return (
        torch.as_tensor(np.asarray(mesh.vertices), dtype=torch.float32),
        torch.as_tensor(np.asarray(mesh.faces), dtype=torch.int64),
    )


def save_obj(
    path: str | os.PathLike,
    vertices: torch.Tensor,
    faces: torch.Tensor,
    vertex_colors: torch.Tensor | None = None,
) -> None:
    """Write one mesh ((V, 3), (F, 3), optional (V, 3) colors in [0, 1]) atomically."""
    v = vertices.detach().cpu().numpy().astype(np.float64)
    f = faces.detach().cpu().numpy().astype(np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(
            f"save_obj takes (V, 3) vertices and (F, 3) faces, got {v.shape}, {f.shape}"
        )
    lines = []
    if vertex_colors is not None:
        c = vertex_colors.detach().cpu().numpy()
        lines += [
            f"v {a:.6f} {b:.6f} {d:.6f} {r:.4f} {g:.4f} {bb:.4f}"
            for (a, b, d), (r, g, bb) in zip(v, c, strict=True)
        ]
    else:
        lines += [f"v {a:.6f} {b:.6f} {d:.6f}" for a, b, d in v]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in f]
    atomic_write_text(path, "\n".join(lines) + "\n")


def colors_to_uint8(colors: torch.Tensor) -> np.ndarray:
    """Colors in [0, 1] → uint8 ``round(255·clamp(c, 0, 1))`` (what exported files hold)."""
    c = colors.detach().float().clamp(0, 1).cpu().numpy()
    return np.round(c * 255.0).astype(np.uint8)


def save_mesh(
    path: str | os.PathLike,
    vertices: torch.Tensor,
    faces: torch.Tensor,
    vertex_colors: torch.Tensor | None = None,
) -> Path:
    """Write one mesh ((V, 3), (F, 3), optional (V, 3) colors in [0, 1]) atomically; the
    format follows the suffix (:data:`MESH_FORMATS`).

    ``.obj``: :func:`save_obj` (colors as ``v x y z r g b``). ``.ply`` (binary) and
    ``.glb`` (glTF 2.0, one mesh, ``COLOR_0``): written by trimesh with the vertex colors as
    uint8 (:func:`colors_to_uint8`), vertices and faces in the given order.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MESH_FORMATS:
        raise ValueError(f"mesh format {path.suffix or '(none)'!r} of {path} not supported; "
                         f"use one of {', '.join(MESH_FORMATS)}")  # fmt: skip
    if suffix == ".obj":
        save_obj(path, vertices, faces, vertex_colors)
        return path
    import trimesh

    v = vertices.detach().cpu().numpy().astype(np.float64)
    f = faces.detach().cpu().numpy().astype(np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(
            f"save_mesh takes (V, 3) vertices and (F, 3) faces, got {v.shape}, {f.shape}"
        )
    colors = None
    if vertex_colors is not None:
        if tuple(vertex_colors.shape) != (len(v), 3):
            raise ValueError(
                f"vertex_colors must be ({len(v)}, 3), got {tuple(vertex_colors.shape)}"
            )
        colors = colors_to_uint8(vertex_colors)
    mesh = trimesh.Trimesh(vertices=v, faces=f, vertex_colors=colors, process=False)
    data = mesh.export(file_type=suffix[1:])
    return atomic_write(path, lambda fh: fh.write(data))

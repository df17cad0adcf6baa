"""Shared builders for the renderer tests: random screen-space meshes and option grids."""

from __future__ import annotations

import itertools

import torch

import softrec
from softrec.render import cameras


def random_faces(
    batch: int = 2,
    faces: int = 10,
    texels: int = 4,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    spread: float = 0.7,
    size: float = 0.6,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random screen-space triangles (x, y in NDC, depth in [2, 4]) and random textures."""
    g = torch.Generator().manual_seed(seed)
    centre = (torch.rand(batch, faces, 1, 3, generator=g, dtype=dtype) * 2 - 1) * spread
    fv = centre + (torch.rand(batch, faces, 3, 3, generator=g, dtype=dtype) - 0.5) * size
    fv[..., 2] = 2 + 2 * torch.rand(batch, faces, 3, generator=g, dtype=dtype)
    tex = torch.rand(batch, faces, texels, 3, generator=g, dtype=dtype)
    return fv, tex


def sphere_screen_faces(
    batch: int = 2, image_dtype: torch.dtype = torch.float32, subdivisions: int = 2, seed: int = 0
) -> torch.Tensor:
    """A jittered icosphere (radius 0.5) seen by the dataset cameras: (B, F, 3, 3)."""
    v, f = softrec.icosphere(subdivisions, 0.5)
    g = torch.Generator().manual_seed(seed)
    verts = (v + 0.01 * torch.randn(batch, *v.shape, generator=g)).to(image_dtype)
    az = torch.arange(batch, dtype=image_dtype) * 37.0
    eye = cameras.eye_from_angles(
        torch.full((batch,), 2.732, dtype=image_dtype),
        torch.full((batch,), 30.0, dtype=image_dtype),
        az,
    )
    screen = cameras.perspective(cameras.look_at(verts, eye), 15.0)
    return softrec.face_vertices(screen, f)


def option_grid():
    """Every combination of the rasterizer's discrete options (silhouette and color)."""
    for dist, alpha in itertools.product(
        ("euclidean", "barycentric", "hard"), ("prod", "sum", "hard")
    ):
        yield dict(dist_func=dist, aggr_alpha=alpha, textured=False)
        for rgb, tex_type, double in itertools.product(
            ("softmax", "hard"), ("surface", "vertex"), (False, True)
        ):
            yield dict(dist_func=dist, aggr_alpha=alpha, textured=True, aggr_rgb=rgb,
                       texture_type=tex_type, double_side=double)  # fmt: skip


def option_id(opts: dict) -> str:
    return "-".join(str(v) for v in opts.values())


def render_and_grads(fv, tex, backend, upstream, image_size=12, **kw):
    """Render with ``backend`` and return ``(image, [grad fv, grad tex])`` of
    ``Σ image · upstream`` (zeros where the image does not depend on an input)."""
    fv = fv.clone().requires_grad_()
    tex = None if tex is None else tex.clone().requires_grad_()
    out = softrec.soft_rasterize(fv, tex, image_size=image_size, backend=backend, **kw)
    grads = [torch.zeros_like(fv), None if tex is None else torch.zeros_like(tex)]
    if out.requires_grad:
        inputs = [fv] + ([tex] if tex is not None else [])
        got = torch.autograd.grad((out * upstream).sum(), inputs, allow_unused=True)
        grads = [
            g if g is not None else torch.zeros_like(x) for g, x in zip(got, inputs, strict=True)
        ]
        grads += [None] * (2 - len(grads))
    return out.detach(), grads

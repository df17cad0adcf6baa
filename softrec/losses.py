"""Training losses of the SoftRas reconstruction model.

* :func:`soft_iou_loss` — ``1 − Σ(p·t) / Σ(p + t − p·t)`` per image, averaged.
* :func:`multiview_iou_loss` — the mean of the four silhouette IoU losses of the
  two-view training step (both predictions rendered in both views).
* :func:`color_l1_loss` — L1 between rendered and target premultiplied RGB, with the
  dataset's inverted-RGB encoding undone first (:mod:`softrec.image_encoding`).
* :class:`LaplacianLoss` — uniform Laplacian (vertex minus the mean of its neighbours),
  squared norm summed over vertices, averaged over the batch.
* :class:`FlattenLoss` — ``(cos θ + 1)²`` summed over interior edges (θ the angle between
  the two faces' "wings" across the edge; π, i.e. zero loss, when they are coplanar),
  averaged over the batch.

The two regularizers precompute their index tensors once from the template faces
(``(F, 3)`` int64) and are fully vectorized: no dense ``V×V`` matrix is ever built.
"""

from __future__ import annotations

import torch
from torch import nn

from .image_encoding import stored_to_premultiplied

__all__ = [
    "FlattenLoss",
    "LaplacianLoss",
    "color_l1_loss",
    "multiview_iou_loss",
    "soft_iou_loss",
]


def _check_images(pred: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ"
        )


def soft_iou_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Soft silhouette IoU loss.

    Args:
        pred: (B, H, W) or (B, 1, H, W) predicted silhouettes in [0, 1].
        target: same shape, target masks in [0, 1].
        eps: guards empty unions.
    Returns:
        scalar: mean over the batch of ``1 − Σ(p·t) / Σ(p + t − p·t)``.
    """
    _check_images(pred, target, "soft_iou_loss")
    p = pred.reshape(pred.shape[0], -1)
    t = target.reshape(target.shape[0], -1).to(p.dtype)
    inter = (p * t).sum(1)
    union = (p + t - p * t).sum(1)
    return (1.0 - inter / (union + eps)).mean()


def multiview_iou_loss(
    silhouettes: torch.Tensor, masks_a: torch.Tensor, masks_b: torch.Tensor
) -> torch.Tensor:
    """The four-render multi-view IoU loss of the training step.

    Args:
        silhouettes: (4B, H, W) renders ordered ``[mesh_a@view_a, mesh_b@view_a,
            mesh_a@view_b, mesh_b@view_b]`` (each block B long).
        masks_a, masks_b: (B, H, W) target masks of views a and b.
    Returns:
        scalar: the mean of the four soft IoU losses.
    """
    b = masks_a.shape[0]
    if silhouettes.shape[0] != 4 * b or masks_b.shape[0] != b:
        raise ValueError(
            f"multiview_iou_loss expects 4B={4 * b} renders and B masks per view, got "
            f"{silhouettes.shape[0]} renders, {masks_a.shape[0]} / {masks_b.shape[0]} masks"
        )
    targets = torch.cat([masks_a, masks_a, masks_b, masks_b], 0)
    s = silhouettes.reshape(4, b, -1)
    t = targets.reshape(4, b, -1).to(s.dtype)
    inter = (s * t).sum(-1)
    union = (s + t - s * t).sum(-1)
    return (1.0 - inter / (union + 1e-6)).mean()


def color_l1_loss(rendered: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """L1 color loss.

    Args:
        rendered: (N, 4, H, W) renders over a black background (RGB = Σ w_j C_j, i.e.
            premultiplied by coverage).
        targets: (N, 4, H, W) dataset images (RGB inverted, see module doc).
    Returns:
        scalar: mean absolute difference of premultiplied true RGB over all pixels.
    """
    _check_images(rendered, targets, "color_l1_loss")
    return (rendered[:, :3] - stored_to_premultiplied(targets)).abs().mean()


def _check_faces(faces: torch.Tensor) -> torch.Tensor:
    if not isinstance(faces, torch.Tensor) or faces.dim() != 2 or faces.shape[1] != 3:
        raise ValueError("faces must be an (F, 3) integer tensor")
    return faces.long().cpu()


class LaplacianLoss(nn.Module):
    """Uniform Laplacian regularizer for meshes sharing the template's faces.

    ``L(v)_i = v_i − mean_{j∈N(i)} v_j``; loss = ``Σ_i |L(v)_i|²`` averaged over the batch.

    Args:
        num_vertices: V.
        faces: (F, 3) int64 template faces.
    """

    def __init__(self, num_vertices: int, faces: torch.Tensor) -> None:
        super().__init__()
        f = _check_faces(faces)
        e = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], 0)
        e = torch.cat([e, e.flip(1)], 0)  # both directions
        e = torch.unique(e, dim=0)  # (E2, 2): unique directed edges i → j
        deg = torch.bincount(e[:, 0], minlength=num_vertices).clamp(min=1).float()
        self.num_vertices = num_vertices
        self.register_buffer("src", e[:, 0].contiguous(), persistent=False)
        self.register_buffer("dst", e[:, 1].contiguous(), persistent=False)
        self.register_buffer("inv_degree", 1.0 / deg, persistent=False)

    def laplacian(self, vertices: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) → (B, V, 3) uniform Laplacian coordinates."""
        if vertices.dim() != 3 or vertices.shape[1] != self.num_vertices:
            raise ValueError(
                f"expected (B, {self.num_vertices}, 3) vertices, got {tuple(vertices.shape)}"
            )
        nbr_sum = torch.zeros_like(vertices).index_add_(1, self.src, vertices[:, self.dst])
        return vertices - nbr_sum * self.inv_degree.to(vertices.dtype)[None, :, None]

    def forward(self, vertices: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) → scalar."""
        return self.laplacian(vertices).pow(2).sum((1, 2)).mean()


class FlattenLoss(nn.Module):
    """Flatten regularizer: ``Σ_edges (cos θ + 1)²`` averaged over the batch.

    For an interior edge (v0, v1) with opposite vertices v2 and v3, θ is the angle between
    the components of ``v2 − v0`` and ``v3 − v0`` perpendicular to the edge: θ = π (loss 0)
    when the two faces are coplanar, and the loss grows as the surface folds.

    Args:
        faces: (F, 3) int64 template faces (edges shared by exactly two faces are used).
    """

    def __init__(self, faces: torch.Tensor, eps: float = 1e-6) -> None:
        super().__init__()
        f = _check_faces(faces)
        nf = f.shape[0]
        # directed half-edges (a → b) with the opposite vertex c of their face
        a = torch.cat([f[:, 0], f[:, 1], f[:, 2]])
        b = torch.cat([f[:, 1], f[:, 2], f[:, 0]])
        c = torch.cat([f[:, 2], f[:, 0], f[:, 1]])
        lo, hi = torch.minimum(a, b), torch.maximum(a, b)
        key = lo * (int(f.max()) + 1 if nf else 1) + hi
        order = torch.argsort(key, stable=True)
        key_s = key[order]
        uniq, counts = torch.unique_consecutive(key_s, return_counts=True)
        starts = torch.cumsum(counts, 0) - counts
        shared = starts[counts == 2]  # edges with exactly two faces
        i0, i1 = order[shared], order[shared + 1]
        self.eps = eps
        self.register_buffer("v0", lo[i0].contiguous(), persistent=False)
        self.register_buffer("v1", hi[i0].contiguous(), persistent=False)
        self.register_buffer("v2", c[i0].contiguous(), persistent=False)
        self.register_buffer("v3", c[i1].contiguous(), persistent=False)

    @property
    def num_edges(self) -> int:
        return int(self.v0.numel())

    def cosines(self, vertices: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) → (B, E) cos θ per interior edge."""
        p0, p1 = vertices[:, self.v0], vertices[:, self.v1]
        p2, p3 = vertices[:, self.v2], vertices[:, self.v3]
        e = p1 - p0
        e_len2 = e.pow(2).sum(-1, keepdim=True) + self.eps
        w2, w3 = p2 - p0, p3 - p0
        w2 = w2 - (w2 * e).sum(-1, keepdim=True) / e_len2 * e
        w3 = w3 - (w3 * e).sum(-1, keepdim=True) / e_len2 * e
        n2 = w2.pow(2).sum(-1).add(self.eps).sqrt()
        n3 = w3.pow(2).sum(-1).add(self.eps).sqrt()
        return (w2 * w3).sum(-1) / (n2 * n3)

    def forward(self, vertices: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) → scalar."""
        return (self.cosines(vertices) + 1.0).pow(2).sum(1).mean()

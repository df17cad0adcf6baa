"""Dense pure-PyTorch soft rasterizer: the obviously-right ground truth.

Every pixel is compared with every face; autograd provides the backward pass. Pixel
chunks are wrapped in activation checkpointing so memory stays bounded (about
``max_bytes``) for any batch, image or mesh size. The math here *defines* the
rasterizer's semantics; the C++/CUDA backends reproduce it (see ``rasterize.py`` for the
full description of every option).
"""

from __future__ import annotations

import math

import torch
from torch.utils.checkpoint import checkpoint

from .options import RasterOptions

# Faces whose doubled screen-space area is below this are skipped (no coverage).
DEGENERATE_AREA = 1e-10
# Lower bound of the clipped-barycentric normalizer (never reached for valid faces).
CLIP_SUM_MIN = 1e-5
# Floor of an edge's squared length (only degenerate faces, which are skipped, reach it).
MIN_EDGE_LENGTH2 = 1e-30


def pixel_centers(image_size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(S·S, 2) NDC pixel centres in row-major order, row 0 at the top (+y up)."""
    s = image_size
    idx = torch.arange(s, dtype=dtype, device=device)
    xs = (2 * idx + 1 - s) / s
    ys = (2 * (s - 1 - idx) + 1 - s) / s
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((xx.reshape(-1), yy.reshape(-1)), dim=-1)


def _segment_dist2(px, py, ax, ay, bx, by):
    ex, ey = bx - ax, by - ay
    len2 = (ex * ex + ey * ey).clamp_min(MIN_EDGE_LENGTH2)
    t = (((px - ax) * ex + (py - ay) * ey) / len2).clamp(0, 1)
    rx, ry = px - ax - t * ex, py - ay - t * ey
    return rx * rx + ry * ry


def _sample_texture(tex, wc, texture_type: str):
    """tex: (B, 1, F, T, 3); wc: (B, P, F, 3) clipped barycentrics → (B, P, F, 3)."""
    if texture_type == "vertex":
        return (wc.unsqueeze(-1) * tex).sum(-2)
    t = tex.shape[-2]
    r = math.isqrt(t)
    with torch.no_grad():
        ix = torch.floor(wc[..., 0] * r).clamp(max=r - 1)
        iy = torch.floor(wc[..., 1] * r).clamp(max=r - 1)
        upper = (1 - wc[..., 2]) * r - ix - iy > 1  # exact on the clipped edge wc2 = 0
        idx = torch.where(upper, (r - 1 - iy) * r + (r - 1 - ix), iy * r + ix).long()
    b, p, f = idx.shape
    tex_full = tex.expand(b, p, f, t, 3)
    return torch.gather(tex_full, 3, idx[..., None, None].expand(b, p, f, 1, 3)).squeeze(3)


def _rasterize_chunk(
    pix: torch.Tensor,
    face_vertices: torch.Tensor,
    face_textures: torch.Tensor | None,
    background: torch.Tensor,
    opts: RasterOptions,
    cull: bool,
) -> torch.Tensor:
    """pix (P, 2) → (B, P, 4) RGBA for that chunk of pixels."""
    b, f = face_vertices.shape[:2]
    dtype = face_vertices.dtype
    px = pix[None, :, 0, None]  # (1, P, 1)
    py = pix[None, :, 1, None]
    fv = face_vertices[:, None]  # (B, 1, F, 3, 3)
    x0, y0, z0 = fv[..., 0, 0], fv[..., 0, 1], fv[..., 0, 2]
    x1, y1, z1 = fv[..., 1, 0], fv[..., 1, 1], fv[..., 1, 2]
    x2, y2, z2 = fv[..., 2, 0], fv[..., 2, 1], fv[..., 2, 2]

    denom = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    valid = (denom.abs() > DEGENERATE_AREA) & (z0 > 0) & (z1 > 0) & (z2 > 0)
    # Keep invalid faces out of every expression so no inf/NaN leaks into gradients.
    one = torch.ones_like(denom)
    denom_s = torch.where(valid, denom, one)
    z0, z1, z2 = (torch.where(valid, z, one) for z in (z0, z1, z2))

    w0 = ((x1 - px) * (y2 - py) - (y1 - py) * (x2 - px)) / denom_s
    w1 = ((x2 - px) * (y0 - py) - (y2 - py) * (x0 - px)) / denom_s
    w2 = ((x0 - px) * (y1 - py) - (y0 - py) * (x1 - px)) / denom_s
    inside = (w0 > 0) & (w1 > 0) & (w2 > 0)

    thr = opts.threshold
    reach = math.sqrt(thr) if cull else math.inf
    xmin = torch.minimum(torch.minimum(x0, x1), x2)
    xmax = torch.maximum(torch.maximum(x0, x1), x2)
    ymin = torch.minimum(torch.minimum(y0, y1), y2)
    ymax = torch.maximum(torch.maximum(y0, y1), y2)
    keep = valid & (px >= xmin - reach) & (px <= xmax + reach)
    keep = keep & (py >= ymin - reach) & (py <= ymax + reach)

    if opts.dist_func == "hard":
        keep = keep & inside
    elif opts.dist_func == "euclidean":
        d2 = torch.minimum(
            torch.minimum(
                _segment_dist2(px, py, x0, y0, x1, y1), _segment_dist2(px, py, x1, y1, x2, y2)
            ),
            _segment_dist2(px, py, x2, y2, x0, y0),
        )
        if cull:
            keep = keep & (inside | (d2 < thr))
        x = torch.where(inside, d2, -d2) / opts.sigma
    else:  # barycentric
        wmin = torch.minimum(torch.minimum(w0, w1), w2)
        dis = wmin * wmin.abs()
        if cull:
            keep = keep & (-dis < thr)
        x = dis / opts.sigma
    if opts.dist_func == "hard":
        prob = keep.to(dtype)
        one_minus = 1 - prob
    else:
        x = torch.where(keep, x, torch.zeros_like(x))
        prob = torch.where(keep, torch.sigmoid(x), torch.zeros_like(x))
        one_minus = torch.where(keep, torch.sigmoid(-x), torch.ones_like(x))

    if opts.aggr_alpha == "prod":
        alpha = 1 - torch.prod(one_minus, dim=-1)
    elif opts.aggr_alpha == "sum":
        alpha = prob.sum(-1) / f
    else:
        alpha = (keep & (prob > 0.5)).any(-1).to(dtype)

    if face_textures is None:
        rgb = background.expand(b, pix.shape[0], 3)
        return torch.cat((rgb, alpha.unsqueeze(-1)), dim=-1)

    w = torch.stack((w0, w1, w2), dim=-1)
    wc = w.clamp(0, 1)
    wc = wc / wc.sum(-1, keepdim=True).clamp_min(CLIP_SUM_MIN)
    wc = torch.where(valid.unsqueeze(-1), wc, torch.full_like(wc, 1 / 3))  # no 1/0 depth
    zs = torch.stack((z0, z1, z2), dim=-1).expand_as(wc)
    zp = 1 / (wc / zs).sum(-1)
    color_ok = keep & (zp >= opts.near) & (zp <= opts.far)
    if not opts.double_side:
        color_ok = color_ok & (denom < 0)  # front-facing in the official convention
    colors = _sample_texture(face_textures[:, None], wc, opts.texture_type)  # (B, P, F, 3)

    if opts.aggr_rgb == "softmax":
        zn = (opts.far - zp) / (opts.far - opts.near)
        with torch.no_grad():
            zmax = torch.where(color_ok, zn, torch.full_like(zn, -math.inf)).amax(-1, keepdim=True)
            m = zmax.clamp_min(opts.eps)
        zn_s = torch.where(color_ok, zn, m.expand_as(zn))
        e = torch.where(color_ok, torch.exp((zn_s - m) / opts.gamma), torch.zeros_like(zn))
        we = prob * e
        e_bg = torch.exp((opts.eps - m) / opts.gamma)  # (B, P, 1)
        denom_sm = we.sum(-1, keepdim=True) + e_bg
        rgb = ((we.unsqueeze(-1) * colors).sum(-2) + e_bg * background) / denom_sm
    else:
        cand = color_ok & (w >= 0).all(-1) & (w <= 1).all(-1)
        with torch.no_grad():
            zc = torch.where(cand, zp, torch.full_like(zp, math.inf))
            zmin, win = zc.min(-1)
            hit = torch.isfinite(zmin)
        picked = torch.gather(colors, 2, win[..., None, None].expand(b, pix.shape[0], 1, 3))
        rgb = torch.where(hit[..., None], picked.squeeze(2), background.expand(b, pix.shape[0], 3))
    return torch.cat((rgb, alpha.unsqueeze(-1)), dim=-1)


def soft_rasterize_reference(
    face_vertices: torch.Tensor,
    face_textures: torch.Tensor | None,
    opts: RasterOptions,
    cull: bool = True,
    max_bytes: int = 1 << 31,
) -> torch.Tensor:
    """Dense reference rasterization at ``opts.image_size`` (no anti-aliasing here).

    ``cull=False`` disables the distance/bounding-box cut-off entirely (every
    pixel–face pair contributes), for checking that culling is exact up to ``dist_eps``.
    Returns (B, 4, S, S).
    """
    b, f = face_vertices.shape[:2]
    s = opts.image_size
    dtype, device = face_vertices.dtype, face_vertices.device
    pix = pixel_centers(s, dtype, device)
    background = torch.as_tensor(opts.background_color, dtype=dtype, device=device)
    t = 1 if face_textures is None else face_textures.shape[2]
    per_pixel = max(1, b * max(f, 1) * (48 + 8 * t) * face_vertices.element_size())
    chunk = max(1, min(s * s, max_bytes // per_pixel))
    need_grad = torch.is_grad_enabled() and (
        face_vertices.requires_grad or (face_textures is not None and face_textures.requires_grad)
    )
    outs = []
    for start in range(0, s * s, chunk):
        p = pix[start : start + chunk]
        if need_grad:
            outs.append(
                checkpoint(
                    _rasterize_chunk,
                    p,
                    face_vertices,
                    face_textures,
                    background,
                    opts,
                    cull,
                    use_reentrant=False,
                )
            )
        else:
            outs.append(_rasterize_chunk(p, face_vertices, face_textures, background, opts, cull))
    out = torch.cat(outs, dim=1)  # (B, S·S, 4)
    return out.transpose(1, 2).reshape(b, 4, s, s)

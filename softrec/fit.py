"""Multi-view mesh fitting: deform a template until its soft silhouettes (and colors)
match target images seen by known cameras.

    import softrec.fit as sf

    cams = sf.ViewCameras.from_angles(distances, elevations, azimuths, viewing_angle=15)
    result = sf.fit_mesh(targets, cams, sf.FitOptions(iterations=600))
    result.vertices, result.faces, result.colors        # the fitted mesh

Pieces, each usable on its own:

* :class:`FitOptions` — every setting (optimizer, σ annealing, loss weights, template,
  coarse-to-fine subdivision, renderer).
* :class:`ViewCameras` — one camera per target view, from eye positions,
  (distance, elevation, azimuth) or 3×4 projection matrices.
* :class:`DeformableMesh` — the bounded per-coordinate template deformation shared with
  :class:`softrec.models.MeshDecoder` (:func:`softrec.mesh.deform_template`), optional
  per-vertex colors, and :meth:`DeformableMesh.subdivide`, which carries the current
  shape over to a finer mesh.
* :func:`fit_losses` — soft IoU per view averaged over the views, optional color L1,
  Laplacian and flatten terms summed over the mesh (the official losses' reductions).
* :func:`sigma_at` — the σ annealing schedule.
* :func:`as_target_images`, :func:`hard_silhouettes`, :func:`silhouette_iou` — target
  checking and a renderer-independent hard-silhouette IoU for scoring fits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .image_encoding import straight_to_stored
from .losses import FlattenLoss, LaplacianLoss, color_l1_loss, soft_iou_loss
from .mesh import deform_template, face_vertices, icosphere, subdivide, template_logits
from .render import CameraOptions, RasterOptions, SoftRenderer, cameras
from .render.cameras import TensorLike

__all__ = [
    "DeformableMesh",
    "FitOptions",
    "FitResult",
    "ViewCameras",
    "as_target_images",
    "fit_losses",
    "fit_mesh",
    "hard_silhouettes",
    "sigma_at",
    "silhouette_iou",
]

#: Alpha above which a target pixel belongs to the object (hard masks, scores).
MASK_THRESHOLD = 0.5


@dataclass(frozen=True)
class FitOptions:
    """Settings of :func:`fit_mesh` (defaults: measured in ``BENCHMARKS.md``).

    Optimization:
        iterations: optimizer steps in all.
        lr, betas: Adam's.
        views_per_step: views rendered per step, drawn at random without replacement
            (``None``: all of them every step).
        seed: seeds the view draws.

    σ annealing (:func:`sigma_at`): geometric from ``sigma_start`` to ``sigma_end`` over
    the run; equal values keep σ constant.

    Losses: ``lambda_laplacian``, ``lambda_flatten`` weigh the regularizers (sums over
    the mesh), ``lambda_color`` the color L1 term (used when ``fit_colors``).

    Template: an icosphere with ``template_subdivisions`` levels and radius
    ``template_radius``, inside a cube of half side ``bound`` that the mesh can never
    leave; ``coord_eps`` is the deformation's clamp (:func:`softrec.mesh.template_logits`).
    ``subdivide_at``: fractions of the run at which the mesh is subdivided
    (coarse-to-fine; each split multiplies the faces by 4).

    Renderer: ``dist_eps``, ``gamma`` and ``fill_back`` as in :class:`SoftRenderer`;
    ``lighting`` lights the fitted colors (off: colors are fitted as seen).
    """

    iterations: int = 600
    lr: float = 0.01
    betas: tuple[float, float] = (0.5, 0.99)
    views_per_step: int | None = 24
    seed: int = 0
    sigma_start: float = 3e-4
    sigma_end: float = 1e-5
    lambda_laplacian: float = 0.03
    lambda_flatten: float = 3e-4
    lambda_color: float = 1.0
    fit_colors: bool = False
    template_subdivisions: int = 3
    template_radius: float = 0.5
    bound: float = 1.0
    coord_eps: float = 1e-3
    subdivide_at: tuple[float, ...] = (0.5,)
    dist_eps: float = 1e-10
    gamma: float = 1e-4
    fill_back: bool = False
    lighting: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        object.__setattr__(self, "subdivide_at", tuple(float(f) for f in self.subdivide_at))
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.views_per_step is not None and self.views_per_step < 1:
            raise ValueError(f"views_per_step must be >= 1 or None, got {self.views_per_step}")
        if not (self.sigma_start > 0 and self.sigma_end > 0):
            raise ValueError("sigma_start and sigma_end must be > 0")
        if not 0 < self.template_radius < 1:
            raise ValueError(f"template_radius must lie in (0, 1), got {self.template_radius}")
        if self.bound <= 0:
            raise ValueError(f"bound must be > 0, got {self.bound}")
        if any(not 0 < f < 1 for f in self.subdivide_at):
            raise ValueError(f"subdivide_at fractions must lie in (0, 1), got {self.subdivide_at}")
        for name in ("lambda_laplacian", "lambda_flatten", "lambda_color"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def subdivision_steps(self) -> list[int]:
        """The steps before which the mesh is subdivided, ascending."""
        return sorted({max(1, round(f * self.iterations)) for f in self.subdivide_at})


def sigma_at(step: int, options: FitOptions) -> float:
    """σ at ``step`` (0-based): geometric from ``sigma_start`` (step 0) to ``sigma_end``
    (the last step). A large σ first lets every pixel near the silhouette pull on the
    mesh; the small final σ makes the soft silhouette close to the hard one."""
    last = max(options.iterations - 1, 1)
    t = min(max(step, 0), last) / last
    return float(options.sigma_start * (options.sigma_end / options.sigma_start) ** t)


class ViewCameras:
    """One camera per target view.

    Built by :meth:`from_eyes` (look-at cameras at given positions, looking at the
    origin with +y up), :meth:`from_angles` (the same, placed by distance, elevation and
    azimuth in degrees, ``docs/conventions.md`` §2) or :meth:`from_projection` (3×4
    matrices ``P = K [R | t]`` in pixel units, for images of ``orig_size`` pixels, with
    v growing upwards as in :func:`softrec.render.projection`).
    """

    def __init__(
        self,
        eyes: torch.Tensor | None = None,
        P: torch.Tensor | None = None,
        viewing_angle: float = 15.0,
        orig_size: int = 512,
    ) -> None:
        if (eyes is None) == (P is None):
            raise ValueError("give either eyes or projection matrices P")
        if eyes is not None:
            eyes = torch.as_tensor(eyes, dtype=torch.float32)
            if eyes.dim() != 2 or eyes.shape[1] != 3 or len(eyes) == 0:
                raise ValueError(f"eyes must have shape (N, 3), got {tuple(eyes.shape)}")
            if not torch.isfinite(eyes).all():
                raise ValueError("eyes must be finite")
            if (eyes.norm(dim=1) == 0).any():
                raise ValueError("an eye position is at the origin, where the cameras look")
        if P is not None:
            P = torch.as_tensor(P, dtype=torch.float32)
            if P.dim() != 3 or P.shape[1:] != (3, 4) or len(P) == 0:
                raise ValueError(f"projection matrices must have shape (N, 3, 4), got "
                                 f"{tuple(P.shape)}")  # fmt: skip
            if not torch.isfinite(P).all():
                raise ValueError("projection matrices must be finite")
        self.eyes, self.P = eyes, P
        self.viewing_angle, self.orig_size = float(viewing_angle), int(orig_size)
        self.camera_options()  # validates the angle now rather than at the first render

    @classmethod
    def from_eyes(cls, eyes: TensorLike, viewing_angle: float = 15.0) -> ViewCameras:
        """Look-at cameras at ``eyes`` (N, 3), looking at the origin."""
        return cls(eyes=torch.as_tensor(eyes, dtype=torch.float32), viewing_angle=viewing_angle)

    @classmethod
    def from_angles(
        cls,
        distances: TensorLike,
        elevations: TensorLike,
        azimuths: TensorLike,
        viewing_angle: float = 15.0,
    ) -> ViewCameras:
        """Look-at cameras placed by distance, elevation and azimuth (degrees, (N,))."""
        eyes = cameras.eye_from_angles(distances, elevations, azimuths)
        return cls(eyes=eyes.reshape(-1, 3), viewing_angle=viewing_angle)

    @classmethod
    def from_projection(cls, P: TensorLike, orig_size: int) -> ViewCameras:
        """Cameras given by (N, 3, 4) projection matrices for ``orig_size``-pixel images."""
        return cls(P=torch.as_tensor(P, dtype=torch.float32), orig_size=orig_size)

    def __len__(self) -> int:
        return len(self.eyes if self.eyes is not None else self.P)

    def camera_options(self) -> CameraOptions:
        if self.P is not None:
            return CameraOptions(camera_mode="projection", orig_size=self.orig_size)
        return CameraOptions(viewing_angle=self.viewing_angle)

    def renderer(self, raster: RasterOptions, **settings) -> SoftRenderer:
        """A :class:`SoftRenderer` for these cameras (``settings``: its keywords)."""
        first = None if self.P is None else self.P[:1]
        return SoftRenderer(raster, self.camera_options(), P=first, **settings)

    def _select(self, renderer: SoftRenderer, index) -> dict:
        if self.P is not None:
            renderer.P = self.P[index]
            return {}
        return {"eyes": self.eyes[index]}

    def render(
        self,
        renderer: SoftRenderer,
        vertices: torch.Tensor,
        faces: torch.Tensor,
        textures: torch.Tensor | None = None,
        index: torch.Tensor | slice = slice(None),
    ) -> torch.Tensor:
        """Render (B, V, 3) vertices, mesh b seen by camera ``index[b]`` → (B, 4, S, S)."""
        return renderer(vertices, faces, textures, **self._select(renderer, index))

    def to_screen(
        self, renderer: SoftRenderer, vertices: torch.Tensor, index=slice(None)
    ) -> torch.Tensor:
        """(B, V, 3) world vertices → (B, V, 3) screen coordinates (NDC x, y; depth)."""
        return renderer.transform(vertices, **self._select(renderer, index))


class DeformableMesh(nn.Module):
    """A template deformed by per-vertex logit offsets and a bounded centre.

    Vertices are :func:`softrec.mesh.deform_template` of the template (coordinates in
    (−1, 1)) with the parameters ``bias`` (V, 3) and ``centroid`` (3,), scaled by
    ``bound``: every vertex stays strictly inside the cube of half side ``bound``. With
    ``colors`` the mesh also carries per-vertex RGB, ``sigmoid(color_logits)``.
    """

    def __init__(
        self,
        template: torch.Tensor,
        faces: torch.Tensor,
        bound: float = 1.0,
        coord_eps: float = 1e-3,
        colors: bool = False,
    ) -> None:
        super().__init__()
        if template.dim() != 2 or template.shape[1] != 3:
            raise ValueError(f"template must be (V, 3), got {tuple(template.shape)}")
        if template.abs().max() >= 1:
            raise ValueError("template coordinates must lie in (-1, 1)")
        self.bound, self.coord_eps = float(bound), float(coord_eps)
        self.register_buffer("template", template.float().clone())
        self.register_buffer("faces", faces.long().clone())
        self.bias = nn.Parameter(torch.zeros_like(self.template))
        self.centroid = nn.Parameter(torch.zeros(3))
        self.color_logits = nn.Parameter(torch.zeros_like(self.template)) if colors else None

    @classmethod
    def from_options(cls, options: FitOptions) -> DeformableMesh:
        """The icosphere template of ``options``."""
        v, f = icosphere(options.template_subdivisions, options.template_radius)
        return cls(v, f, options.bound, options.coord_eps, options.fit_colors)

    @property
    def num_vertices(self) -> int:
        return int(self.template.shape[0])

    def vertices(self) -> torch.Tensor:
        """(V, 3) current vertices."""
        logits, sign = template_logits(self.template, self.coord_eps)
        return deform_template(logits, sign, self.bias[None], self.centroid[None], self.bound)[0]

    def colors(self) -> torch.Tensor | None:
        """(V, 3) current colors in (0, 1), or ``None`` without colors."""
        return None if self.color_logits is None else torch.sigmoid(self.color_logits)

    @torch.no_grad()
    def subdivide(self) -> None:
        """Split every face into four, keeping the current surface.

        The old vertices keep their template coordinates and offsets; each new vertex gets
        the current midpoint of its edge as template position and the offset that puts it
        exactly there (the deformation is inverted per coordinate). Colors are averaged
        along the edges. The parameters are replaced: make a new optimizer afterwards.
        """
        current = self.vertices()
        verts, faces, edges = subdivide(current, self.faces)
        mid = verts[self.num_vertices :] / self.bound
        # invert u' = relu(u)(1 − c) − relu(−u)(1 + c) + c, then u = sigmoid(z)·sign
        c = torch.tanh(self.centroid)
        u = torch.where(mid >= c, (mid - c) / (1 - c), (mid - c) / (1 + c))
        tiny = torch.finfo(torch.float32).eps
        mag = u.abs().clamp(tiny, 1 - tiny)
        base, _ = template_logits(u, self.coord_eps)
        new_bias = torch.log(mag / (1 - mag)) - base
        new_template = u.clamp(-1 + self.coord_eps, 1 - self.coord_eps)
        self.template = torch.cat([self.template, new_template])
        self.faces = faces
        self.bias = nn.Parameter(torch.cat([self.bias, new_bias]))
        if self.color_logits is not None:
            old = torch.sigmoid(self.color_logits)
            col = (old[edges[:, 0]] + old[edges[:, 1]]) / 2
            self.color_logits = nn.Parameter(torch.cat([self.color_logits, torch.logit(col)]))


def as_target_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Check and convert target images to float (N, 4, S, S) RGBA in [0, 1].

    Accepts (N, H, W, 4) or (N, 4, H, W), uint8 (0–255) or float (0–1); RGB is straight
    (not multiplied by alpha), as in PNG files; alpha is the object's coverage. Raises
    ``ValueError`` naming the problem: wrong shape, non-square images, values out of
    range, or a view whose alpha is empty.
    """
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim != 4 or 4 not in (arr.shape[1], arr.shape[3]):
        raise ValueError(f"target images must be (N, H, W, 4) or (N, 4, H, W) RGBA, got shape "
                         f"{arr.shape}")  # fmt: skip
    if arr.shape[0] == 0:
        raise ValueError("no target images")
    if arr.shape[3] == 4:  # channel-last (also taken for ambiguous 4×4 images)
        arr = arr.transpose(0, 3, 1, 2)
    if arr.shape[2] != arr.shape[3]:
        raise ValueError(f"target images must be square, got {arr.shape[2]}x{arr.shape[3]}")
    if arr.dtype == np.uint8:
        out = torch.from_numpy(arr.astype(np.float32) / 255.0)
    elif np.issubdtype(arr.dtype, np.floating):
        out = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        if not torch.isfinite(out).all() or out.min() < 0 or out.max() > 1:
            raise ValueError("float target images must hold finite values in [0, 1]")
    else:
        raise ValueError(f"target images must be uint8 or float, got {arr.dtype}")
    empty = (out[:, 3] > MASK_THRESHOLD).flatten(1).sum(1) == 0
    if empty.any():
        views = empty.nonzero().flatten().tolist()
        raise ValueError(f"empty mask (alpha <= {MASK_THRESHOLD} everywhere) in view(s) "
                         f"{views[:10]}{' ...' if len(views) > 10 else ''}")  # fmt: skip
    return out.contiguous()


def fit_losses(
    renders: torch.Tensor,
    targets: torch.Tensor,
    vertices: torch.Tensor,
    laplacian: LaplacianLoss,
    flatten: FlattenLoss,
    options: FitOptions,
) -> dict[str, torch.Tensor]:
    """The fitting objective for one mesh seen in B views.

    Args:
        renders: (B, 4, S, S) renders of the mesh.
        targets: (B, 4, S, S) targets in the dataset encoding (RGB stored inverted,
            :mod:`softrec.image_encoding`), as :func:`color_l1_loss` takes them.
        vertices: (V, 3) the mesh.
    Returns:
        ``iou`` (soft IoU loss per view, averaged over the views), ``laplacian`` and
        ``flatten`` (summed over the mesh), ``color`` (when ``options.fit_colors``) and
        ``total``, the weighted sum.
    """
    out = {
        "iou": soft_iou_loss(renders[:, 3], targets[:, 3]),
        "laplacian": laplacian(vertices[None]),
        "flatten": flatten(vertices[None]),
    }
    total = (out["iou"] + options.lambda_laplacian * out["laplacian"]
             + options.lambda_flatten * out["flatten"])  # fmt: skip
    if options.fit_colors:
        out["color"] = color_l1_loss(renders, targets)
        total = total + options.lambda_color * out["color"]
    out["total"] = total
    return out


@dataclass
class FitResult:
    """The fitted mesh and the run's record.

    ``vertices`` (V, 3), ``faces`` (F, 3), ``colors`` (V, 3) or ``None``; ``history``:
    one dict per step (``step``, ``sigma``, ``vertices`` and the losses as floats);
    ``seconds``: wall time of the optimization.
    """

    vertices: torch.Tensor
    faces: torch.Tensor
    colors: torch.Tensor | None
    history: list[dict[str, float]]
    seconds: float


#: ``callback(step, total_steps, record)`` after every step, ``record`` as in history.
StepCallback = Callable[[int, int, dict[str, float]], None]


def fit_mesh(
    targets: torch.Tensor | np.ndarray,
    cams: ViewCameras,
    options: FitOptions | None = None,
    mesh: DeformableMesh | None = None,
    callback: StepCallback | None = None,
) -> FitResult:
    """Fit a deformable mesh to target views.

    Args:
        targets: RGBA targets, anything :func:`as_target_images` accepts, one per camera.
        cams: the cameras of the targets.
        options: settings (default :class:`FitOptions`).
        mesh: the starting mesh (default: ``options``' icosphere template).
        callback: called after every step (progress display, logging).
    Returns:
        a :class:`FitResult`.
    """
    options = options or FitOptions()
    images = as_target_images(targets)
    if len(images) != len(cams):
        raise ValueError(f"{len(images)} target images but {len(cams)} cameras")
    stored = straight_to_stored(images[:, :3], images[:, 3:4])
    mesh = mesh if mesh is not None else DeformableMesh.from_options(options)
    if options.fit_colors and mesh.color_logits is None:
        raise ValueError("fit_colors needs a mesh with colors (DeformableMesh(colors=True))")
    raster = RasterOptions(image_size=images.shape[-1], sigma=options.sigma_start,
                           dist_eps=options.dist_eps, gamma=options.gamma,
                           texture_type="vertex")  # fmt: skip
    renderer = cams.renderer(raster, fill_back=options.fill_back, lighting=options.lighting)
    generator = torch.Generator().manual_seed(options.seed)
    k = len(cams) if options.views_per_step is None else min(options.views_per_step, len(cams))
    splits = options.subdivision_steps()

    def rebuild() -> tuple[torch.optim.Optimizer, LaplacianLoss, FlattenLoss]:
        opt = torch.optim.Adam(mesh.parameters(), lr=options.lr, betas=options.betas)
        return opt, LaplacianLoss(mesh.num_vertices, mesh.faces), FlattenLoss(mesh.faces)

    optimizer, laplacian, flatten = rebuild()
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    for step in range(options.iterations):
        if step in splits:
            mesh.subdivide()
            optimizer, laplacian, flatten = rebuild()
        renderer.sigma = sigma_at(step, options)
        index = (torch.randperm(len(cams), generator=generator)[:k] if k < len(cams)
                 else torch.arange(len(cams)))  # fmt: skip
        vertices, colors = mesh.vertices(), mesh.colors()
        batch = vertices[None].expand(len(index), -1, -1)
        tex = None if colors is None else colors[None].expand(len(index), -1, -1)
        renders = cams.render(renderer, batch, mesh.faces, tex, index)
        losses = fit_losses(renders, stored[index], vertices, laplacian, flatten, options)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimizer.step()
        record = {"step": float(step), "sigma": renderer.sigma,
                  "vertices": float(mesh.num_vertices),
                  **{name: float(v.detach()) for name, v in losses.items()}}  # fmt: skip
        history.append(record)
        if callback is not None:
            callback(step, options.iterations, record)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        colors = mesh.colors()
        return FitResult(mesh.vertices().detach().clone(), mesh.faces.clone(),
                         None if colors is None else colors.detach().clone(), history,
                         seconds)  # fmt: skip


def hard_silhouettes(screen_faces: torch.Tensor, image_size: int) -> torch.Tensor:
    """Binary silhouettes by a plain point-in-triangle test, independent of the renderer.

    A pixel (centres on the grid of ``docs/conventions.md`` §2) is covered when its centre
    lies inside or on the boundary of some projected triangle, whatever the winding;
    triangles with a corner at depth ≤ 0 or no area are skipped. Only the pixels inside
    each triangle's bounding box are tested.

    Args:
        screen_faces: (B, F, 3, 3) triangle corners in screen space (NDC x, y; depth).
        image_size: S.
    Returns:
        (B, S, S) bool, row 0 at the top.
    """
    s = int(image_size)
    out = torch.zeros(screen_faces.shape[0], s * s, dtype=torch.bool)
    for b, tri in enumerate(screen_faces.detach().to(torch.float64).cpu()):
        x, y, z = tri[..., 0], tri[..., 1], tri[..., 2]
        area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (y[:, 1] - y[:, 0]) * (x[:, 2] - x[:, 0])
        keep = (z > 0).all(1) & (area.abs() > 1e-12)
        x, y, area = x[keep], y[keep], area[keep]
        # pixel-index bounding boxes: centre x = (2c + 1 − S)/S, y = (S − 1 − 2r)/S
        c0 = torch.ceil((x.min(1).values * s + s - 1) / 2).clamp(0, s).long()
        c1 = torch.floor((x.max(1).values * s + s - 1) / 2).clamp(-1, s - 1).long()
        r0 = torch.ceil((s - 1 - y.max(1).values * s) / 2).clamp(0, s).long()
        r1 = torch.floor((s - 1 - y.min(1).values * s) / 2).clamp(-1, s - 1).long()
        w, h = (c1 - c0 + 1).clamp(min=0), (r1 - r0 + 1).clamp(min=0)
        counts = w * h
        face = torch.repeat_interleave(torch.arange(len(x)), counts)
        if face.numel() == 0:
            continue
        local = torch.arange(face.numel()) - torch.repeat_interleave(counts.cumsum(0) - counts,
                                                                     counts)  # fmt: skip
        col = c0[face] + local % w[face]
        row = r0[face] + torch.div(local, w[face], rounding_mode="floor")
        px, py = (2 * col + 1 - s) / s, (s - 1 - 2 * row) / s
        xs, ys, orient = x[face], y[face], area[face].sign()
        inside = torch.ones_like(px, dtype=torch.bool)
        for i in range(3):
            j = (i + 1) % 3
            # edge function of edge i → j, positive inside for either winding
            e = (xs[:, j] - xs[:, i]) * (py - ys[:, i]) - (ys[:, j] - ys[:, i]) * (px - xs[:, i])
            inside &= e * orient >= 0
        out[b, (row * s + col)[inside]] = True
    return out.reshape(-1, s, s)


def silhouette_iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, S, S) boolean masks → (B,) IoU per view (1 when both are empty)."""
    pred, target = pred.bool().flatten(1), target.bool().flatten(1)
    inter = (pred & target).sum(1).double()
    union = (pred | target).sum(1).double()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def mesh_silhouettes(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    cams: ViewCameras,
    image_size: int,
    views: Sequence[int] | None = None,
) -> torch.Tensor:
    """Hard silhouettes (B, S, S) of one mesh ((V, 3), (F, 3)) in ``cams``' views
    (``views``: a subset), by :func:`hard_silhouettes`."""
    index = torch.arange(len(cams)) if views is None else torch.as_tensor(list(views))
    renderer = cams.renderer(RasterOptions(image_size=int(image_size)))
    out = []
    for i in index.tolist():  # one view at a time: memory of one projected mesh
        screen = cams.to_screen(renderer, vertices[None].float(), torch.tensor([i]))
        out.append(hard_silhouettes(face_vertices(screen, faces), image_size))
    return torch.cat(out)

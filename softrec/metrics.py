"""The 3D IoU metric (``docs/conventions.md`` §4) and the color metric of models with
colors (§7), one implementation each for validation during training and for the final
evaluation table.

Per object, the predicted mesh is voxelized in the dataset layout and compared with the
object's solid voxels; values are averaged per category (``class_id``), and the table's
mean is the unweighted mean over categories. States are ``torchmetrics`` states, so in
data-parallel runs the per-category sums and counts are added across processes before
the means are taken.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import torch
from torch import nn
from torchmetrics import Metric

from .data.categories import CATEGORIES
from .data.voxelize import voxel_iou, voxelize
from .image_encoding import premultiplied_over_white, stored_over_white, stored_to_premultiplied


class CategoryIoU(Metric):
    """Running per-category means of per-object IoU values.

    Args:
        num_classes: number of ``class_id`` values (default: the dataset's 13).
        distributed: add the states of all processes when computing (in data-parallel
            training); ``False`` for a computation that runs in one process only.
    """

    full_state_update = False

    def __init__(self, num_classes: int = len(CATEGORIES), distributed: bool = True) -> None:
        super().__init__(sync_on_compute=distributed)
        self.num_classes = int(num_classes)
        zeros = torch.zeros(self.num_classes, dtype=torch.float64)
        self.add_state("sums", default=zeros.clone(), dist_reduce_fx="sum")
        self.add_state("counts", default=zeros.clone(), dist_reduce_fx="sum")

    def update(self, iou: torch.Tensor, class_id: torch.Tensor) -> None:
        """Add (B,) IoU values of objects of classes ``class_id`` (B,)."""
        cls = class_id.to(self.sums.device).long()
        self.sums.index_add_(0, cls, iou.to(self.sums))
        self.counts.index_add_(0, cls, torch.ones_like(iou, dtype=torch.float64).to(self.sums))

    def compute(self) -> torch.Tensor:
        """(num_classes,) float64 mean IoU per class; NaN for classes not seen."""
        return torch.where(self.counts > 0, self.sums / self.counts.clamp(min=1),
                           torch.full_like(self.sums, math.nan))  # fmt: skip

    def per_class(self) -> dict[int, float]:
        """class id → mean IoU, for the classes seen."""
        means = self.compute()
        return {k: float(means[k]) for k in range(self.num_classes) if not math.isnan(means[k])}


class MeshVoxelIoU(CategoryIoU):
    """:class:`CategoryIoU` of predicted meshes against dataset voxels.

    Args:
        resolution: voxel grid side (the dataset's 32).
        num_classes: number of ``class_id`` values.

    ``class_names`` names the classes (the dataset's categories) for logging.
    """

    def __init__(self, resolution: int = 32, num_classes: int = len(CATEGORIES)) -> None:
        super().__init__(num_classes)
        self.resolution = int(resolution)
        self.class_names = [name for _, name, _ in CATEGORIES][: self.num_classes]

    @torch.no_grad()
    def update(  # type: ignore[override]
        self,
        vertices: torch.Tensor,
        faces: torch.Tensor,
        voxels: torch.Tensor,
        class_id: torch.Tensor,
    ) -> torch.Tensor:
        """Voxelize (B, V, 3) meshes, add their IoU against ``voxels`` (B, R, R, R) and
        return it ((B,) float64)."""
        pred = voxelize(vertices, faces, resolution=self.resolution)
        iou = voxel_iou(pred, voxels.to(pred.device))
        super().update(iou, class_id)
        return iou


# ------------------------------------------------------------------ colors (§7)
#: Methods of :class:`MeshColorError`: the model's colors and the flat mean-color baseline.
COLOR_METHODS = ("ours", "mean_color")
#: Groups of rendered views: the prediction's input view and the object's other views.
COLOR_GROUPS = ("input", "other")


def color_errors(
    rendered: torch.Tensor,
    targets: torch.Tensor,
    mask_threshold: float = 0.5,
    psnr_cap_db: float = 100.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-image color L1 and PSNR (``docs/conventions.md`` §7).

    Both images are composited over white (the dataset's inverted RGB undone with
    :func:`~softrec.image_encoding.stored_over_white`), then compared on the pixels of
    the *target* mask (``alpha ≥ mask_threshold``), all three channels.

    Args:
        rendered: (N, 4, S, S) premultiplied renders (RGB over black, alpha).
        targets: (N, 4, S, S) dataset images (stored encoding, float in [0, 1]).
    Returns:
        ``(l1, psnr, valid)``, each (N,): mean absolute difference, ``10·log10(1 / MSE)``
        in dB with the MSE floored at ``10^(−psnr_cap_db/10)`` (a perfect match gives
        ``psnr_cap_db``), and whether the target mask has any pixel (images with an empty
        mask have no value and are left out of every mean).
    """
    if rendered.shape != targets.shape or rendered.dim() != 4 or rendered.shape[1] != 4:
        raise ValueError(f"color_errors: renders {tuple(rendered.shape)} and targets "
                         f"{tuple(targets.shape)} must both be (N, 4, S, S)")  # fmt: skip
    pred = premultiplied_over_white(rendered.float())
    true = stored_over_white(targets.float())
    mask = (targets[:, 3:4] >= mask_threshold).float()
    n = mask.sum((1, 2, 3)) * 3
    diff = (pred - true) * mask
    l1 = diff.abs().sum((1, 2, 3)) / n.clamp(min=1)
    mse = diff.square().sum((1, 2, 3)) / n.clamp(min=1)
    psnr = -10.0 * torch.log10(mse.clamp(min=10.0 ** (-psnr_cap_db / 10.0)))
    return l1, psnr, n > 0


def mean_foreground_color(images: torch.Tensor, empty: float = 0.5) -> torch.Tensor:
    """(B, 4, S, S) dataset images → (B, 3) the alpha-weighted mean true RGB of the
    foreground, ``Σ α·rgb / Σ α`` (gray ``empty`` for an image without foreground)."""
    premult = stored_to_premultiplied(images.float()).sum((2, 3))
    alpha = images[:, 3].float().sum((1, 2))[:, None]
    return torch.where(alpha > 0, premult / alpha.clamp(min=1e-12), torch.full_like(premult, empty))


def renderer_at_size(renderer: nn.Module, size: int) -> nn.Module:
    """``renderer`` itself if it renders ``size``² images, else a copy that does (same
    settings otherwise; renderers hold no parameters)."""
    if int(renderer.image_size) == int(size):
        return renderer
    out = copy.copy(renderer)
    out.raster = replace(renderer.raster, image_size=int(size))
    return out


def render_object_views(
    renderer: nn.Module,
    vertices: torch.Tensor,
    faces: torch.Tensor,
    colors: torch.Tensor | None,
    eyes: torch.Tensor,
    size: int,
    chunk: int = 256,
) -> torch.Tensor:
    """Render each of B meshes from K cameras at ``size``² pixels.

    Args:
        renderer: a :class:`softrec.SoftRenderer` (its settings: lighting, σ, aggregation).
        vertices: (B, V, 3); faces: (F, 3); colors: (B, F, 3) per-face colors or ``None``
            (silhouettes only).
        eyes: (B, K, 3) camera positions.
        chunk: renders per rasterizer call (bounds memory).
    Returns:
        (B, K, 4, size, size) premultiplied RGBA.
    """
    r = renderer_at_size(renderer, size)
    b, k = eyes.shape[:2]
    verts = vertices.repeat_interleave(k, 0)
    tex = None if colors is None else colors.repeat_interleave(k, 0)[:, :, None, :]
    flat_eyes = eyes.reshape(b * k, 3).to(vertices)
    out = [
        r(verts[s : s + chunk], faces, None if tex is None else tex[s : s + chunk],
          eyes=flat_eyes[s : s + chunk])
        for s in range(0, b * k, chunk)
    ]  # fmt: skip
    return torch.cat(out).reshape(b, k, 4, size, size)


class MeshColorError(Metric):
    """Per-category color L1 and PSNR of colored meshes re-rendered in every view of
    their object (``docs/conventions.md`` §7), for the model's colors (``ours``) and the
    mean-color baseline (``mean_color``: the input image's mean foreground color painted
    flat, unlit, on the same predicted silhouettes), split into the input view and the
    object's other views. Means are over images, per category.

    Args:
        mask_threshold: target pixels with ``alpha ≥`` this are compared.
        psnr_cap_db: PSNR of a perfect match (the MSE floor).
        num_classes: number of ``class_id`` values.
        chunk: renders per rasterizer call.
        distributed: add the states of all processes when computing.
    """

    full_state_update = False

    def __init__(
        self,
        mask_threshold: float = 0.5,
        psnr_cap_db: float = 100.0,
        num_classes: int = len(CATEGORIES),
        chunk: int = 256,
        distributed: bool = True,
    ) -> None:
        super().__init__(sync_on_compute=distributed)
        self.mask_threshold, self.psnr_cap_db = float(mask_threshold), float(psnr_cap_db)
        self.num_classes, self.chunk = int(num_classes), int(chunk)
        self.class_names = [name for _, name, _ in CATEGORIES][: self.num_classes]
        shape = (len(COLOR_METHODS), len(COLOR_GROUPS), self.num_classes)
        zeros = torch.zeros(shape, dtype=torch.float64)
        self.add_state("l1_sums", default=zeros.clone(), dist_reduce_fx="sum")
        self.add_state("psnr_sums", default=zeros.clone(), dist_reduce_fx="sum")
        self.add_state("counts", default=zeros[0].clone(), dist_reduce_fx="sum")

    def settings(self) -> dict[str, float]:
        """The options that define the numbers (for a copy computing the same metric)."""
        return {"mask_threshold": self.mask_threshold, "psnr_cap_db": self.psnr_cap_db}

    @torch.no_grad()
    def update(  # type: ignore[override]
        self,
        renderer: nn.Module,
        vertices: torch.Tensor,
        faces: torch.Tensor,
        colors: torch.Tensor,
        images_all: torch.Tensor,
        eyes_all: torch.Tensor,
        view: torch.Tensor,
        class_id: torch.Tensor,
    ) -> None:
        """Add B predictions.

        Args:
            renderer: renders the predicted colors (its settings; output size = the data's).
            vertices: (B, V, 3); faces: (F, 3); colors: (B, F, 3) predicted face colors.
            images_all: (B, K, 4, S, S) every view of each prediction's object (float).
            eyes_all: (B, K, 3) their cameras.
            view: (B,) index in [0, K) of each prediction's input view.
            class_id: (B,).
        """
        b, k = images_all.shape[:2]
        view = view.long().to(images_all.device)
        rows = torch.arange(b, device=images_all.device)
        flat = mean_foreground_color(images_all[rows, view])
        other = torch.ones(b, k, dtype=torch.long, device=images_all.device)
        other[rows, view] = 0  # index into COLOR_GROUPS
        index = (
            other.to(self.counts.device) * self.num_classes
            + class_id.long().to(self.counts.device)[:, None]
        )
        step = max(1, self.chunk // k)  # a few predictions at a time: bounded memory
        for p in range(0, b, step):
            sl = slice(p, p + step)
            self._add(
                render_object_views(renderer, vertices[sl], faces, colors[sl], eyes_all[sl],
                                    images_all.shape[-1], self.chunk),
                images_all[sl], flat[sl], index[sl].reshape(-1),
            )  # fmt: skip

    def _add(
        self, renders: torch.Tensor, images: torch.Tensor, flat: torch.Tensor, index: torch.Tensor
    ) -> None:
        """Accumulate (n, K, 4, S, S) renders against ``images``, and the baseline:
        ``flat`` (n, 3) colors on the same silhouettes (premultiplied by their alpha)."""
        alpha = renders[:, :, 3:4]
        baseline = torch.cat([flat.to(renders)[:, None, :, None, None] * alpha, alpha], 2)
        targets = images.flatten(0, 1)
        for m, pred in enumerate((renders, baseline)):
            l1, psnr, valid = color_errors(pred.flatten(0, 1), targets, self.mask_threshold,
                                           self.psnr_cap_db)  # fmt: skip
            w = valid.double().to(self.counts.device)
            self.l1_sums[m].view(-1).index_add_(0, index, l1.double().to(w.device) * w)
            self.psnr_sums[m].view(-1).index_add_(0, index, psnr.double().to(w.device) * w)
            if m == 0:
                self.counts.view(-1).index_add_(0, index, w)

    def compute(self) -> dict[str, torch.Tensor]:
        """``{"<method>/<l1|psnr>_<group>": (num_classes,) float64}``, per-category means
        over images; NaN for categories not seen."""
        out = {}
        for m, method in enumerate(COLOR_METHODS):
            for g, group in enumerate(COLOR_GROUPS):
                n = self.counts[g]
                for name, sums in (("l1", self.l1_sums), ("psnr", self.psnr_sums)):
                    out[f"{method}/{name}_{group}"] = torch.where(
                        n > 0, sums[m, g] / n.clamp(min=1), torch.full_like(n, math.nan)
                    )
        return out

    def per_class(self) -> dict[str, dict[int, float]]:
        """``{key: {class id: mean}}`` for the classes seen (keys as :meth:`compute`)."""
        return {key: {c: float(v[c]) for c in range(self.num_classes) if not math.isnan(v[c])}
                for key, v in self.compute().items()}  # fmt: skip

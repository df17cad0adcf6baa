"""The 3D IoU metric, one implementation for validation during training and for the
final evaluation table (``docs/conventions.md`` §4).

Per object, the predicted mesh is voxelized in the dataset layout and compared with the
object's solid voxels; values are averaged per category (``class_id``), and the table's
mean is the unweighted mean over categories. States are ``torchmetrics`` states, so in
data-parallel runs the per-category sums and counts are added across processes before
the means are taken.
"""

from __future__ import annotations

import math

import torch
from torchmetrics import Metric

from .data.categories import CATEGORIES
from .data.voxelize import voxel_iou, voxelize


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

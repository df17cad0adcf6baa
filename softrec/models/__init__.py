"""Reconstruction model: ResNet encoder, template-deforming decoder, color branch, the
``LightningModule`` that trains them, and the evaluation / table helpers."""

from .color import ColorBranch
from .decoder import MeshDecoder
from .encoder import BasicBlock, ResNetEncoder
from .evaluation import (
    IoUAccumulator,
    build_table,
    evaluate_loader,
    mean_shapes,
    table_csv,
    table_markdown,
    write_table,
)
from .module import SoftRasModule, StepSchedule, step_factor, view_eyes
from .net import ReconstructionNet
from .paper_results import PAPER_COLUMNS, PAPER_IOU, PAPER_MEAN

__all__ = [
    "BasicBlock",
    "ColorBranch",
    "IoUAccumulator",
    "MeshDecoder",
    "PAPER_COLUMNS",
    "PAPER_IOU",
    "PAPER_MEAN",
    "ReconstructionNet",
    "ResNetEncoder",
    "SoftRasModule",
    "StepSchedule",
    "build_table",
    "evaluate_loader",
    "mean_shapes",
    "step_factor",
    "table_csv",
    "table_markdown",
    "view_eyes",
    "write_table",
]

"""Reconstruction model: ResNet encoder, template-deforming decoder, color branch, the
``LightningModule`` that trains them, and the paper's reference numbers. Nothing here
knows the dataset: cameras arrive with the batches, metrics are handed in."""

from .color import ColorBranch
from .decoder import MeshDecoder
from .encoder import BasicBlock, ConvEncoder, ResNetEncoder
from .module import SoftRasModule, StepSchedule, step_factor
from .net import ReconstructionNet
from .paper_results import PAPER_COLUMNS, PAPER_IOU, PAPER_MEAN

__all__ = [
    "BasicBlock",
    "ColorBranch",
    "ConvEncoder",
    "MeshDecoder",
    "PAPER_COLUMNS",
    "PAPER_IOU",
    "PAPER_MEAN",
    "ReconstructionNet",
    "ResNetEncoder",
    "SoftRasModule",
    "StepSchedule",
    "step_factor",
]

"""The single-view reconstruction network: encoder → mesh decoder (→ color branch)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .color import ColorBranch
from .decoder import MeshDecoder


class ReconstructionNet(nn.Module):
    """Image → mesh (and optional per-face colors).

    Args:
        encoder: (B, 4, S, S) → (B, D).
        decoder: (B, D) → (B, V, 3); exposes ``faces`` (F, 3).
        color: optional (B, D) features + images → (B, F, 3) colors; ``None`` for the
            silhouette-only model.

    ``decoder`` and ``color`` may also be factories (e.g. Hydra ``_partial_`` configs):
    they are then called with ``in_dim`` = the encoder's ``out_dim`` (and, for the color
    branch, ``num_faces`` = the template's face count), so sizes never need repeating.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: MeshDecoder | Callable[..., MeshDecoder],
        color: ColorBranch | Callable[..., ColorBranch] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(decoder, nn.Module):
            decoder = decoder(in_dim=encoder.out_dim)
        if color is not None and not isinstance(color, nn.Module):
            color = color(in_dim=encoder.out_dim, num_faces=int(decoder.faces.shape[0]))
        self.encoder, self.decoder, self.color = encoder, decoder, color
        if color is not None and color.num_faces != decoder.faces.shape[0]:
            raise ValueError(
                f"color branch has {color.num_faces} faces, template has {decoder.faces.shape[0]}"
                " (set model.net.color.num_faces to match the template subdivisions)"
            )

    @property
    def faces(self) -> torch.Tensor:
        """(F, 3) int64 template faces."""
        return self.decoder.faces

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, 4, S, S) → (B, V, 3) vertices and (B, F, 3) colors (or ``None``).

        Under autocast the layers may run in reduced precision; vertices and colors are
        returned in float32, which the rasterizer needs."""
        feats = self.encoder(images)
        vertices = self.decoder(feats).float()
        colors = self.color(feats, images).float() if self.color is not None else None
        return vertices, colors

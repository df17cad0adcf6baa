"""Color branch of the "full" model: palette sampling + per-face palette selection."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..image_encoding import stored_to_straight


class ColorBranch(nn.Module):
    """Per-face colors from an image feature and the input image itself.

    1. **Palette sampling.** An MLP maps the feature to ``num_colors`` logit maps over the
       input image (at ``sample_size``²); a softmax over pixels (restricted to the
       foreground by adding ``log α``) gives sampling weights, and each palette color is the
       weighted average of the input's true RGB pixels: (B, N_p, 3).
    2. **Selection.** Another MLP maps the feature to (F, N_p) logits; a softmax over the
       palette gives each face a convex combination of palette colors: (B, F, 3).

    Colors are true RGB in [0, 1] (the dataset's inverted storage is undone first), so
    they are rendered directly and compared with premultiplied true RGB targets.

    Args:
        in_dim: feature size.
        num_faces: F of the template.
        num_colors: palette size N_p.
        sample_size: side of the sampling grid (input is area-resized to it).
        hidden: width of the two MLPs' hidden layer.
    """

    def __init__(
        self,
        in_dim: int = 512,
        num_faces: int = 1280,
        num_colors: int = 16,
        sample_size: int = 32,
        hidden: int = 256,
    ) -> None:
        super().__init__()
        self.num_faces, self.num_colors, self.sample_size = num_faces, num_colors, sample_size
        self.sampler = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_colors * sample_size * sample_size),
        )  # fmt: skip
        self.selector = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_faces * num_colors),
        )  # fmt: skip

    def palette(self, features: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """(B, D) features + (B, 4, S, S) dataset images → (B, N_p, 3) palette."""
        s = self.sample_size
        small = F.adaptive_avg_pool2d(images, s) if images.shape[-1] != s else images
        rgb = stored_to_straight(small).flatten(2)  # (B, 3, s²)
        alpha = small[:, 3].flatten(1)  # (B, s²)
        logits = self.sampler(features).view(-1, self.num_colors, s * s)
        # background pixels get (almost) no weight; an empty mask falls back to uniform
        logits = logits + torch.log(alpha.clamp(min=1e-6))[:, None, :]
        weights = torch.softmax(logits, dim=-1)  # (B, N_p, s²)
        return torch.einsum("bkp,bcp->bkc", weights, rgb)

    def forward(self, features: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """(B, D) features + (B, 4, S, S) images → (B, F, 3) per-face colors in [0, 1]."""
        pal = self.palette(features, images)
        sel = torch.softmax(
            self.selector(features).view(-1, self.num_faces, self.num_colors), dim=-1
        )
        return torch.einsum("bfk,bkc->bfc", sel, pal)

"""The dataset's image encoding, both ways (``docs/conventions.md`` §3).

Dataset images are RGBA with the object's mask in alpha and the RGB channels *inverted*:
the object was composited over white and the result inverted, so
``stored = alpha · (1 − rgb)`` and the background is black. The renderer's output is
the object over black, i.e. premultiplied ``alpha · rgb``. All tensors are float in
[0, 1], channel-first, with any leading batch dimensions.
"""

from __future__ import annotations

import torch


def premultiplied_to_stored(rgba: torch.Tensor) -> torch.Tensor:
    """(..., 4, H, W) premultiplied RGBA (renders over black) → the dataset encoding
    ``(alpha − rgb, alpha)``."""
    rgb, alpha = rgba[..., :3, :, :], rgba[..., 3:, :, :]
    return torch.cat(((alpha - rgb).clamp(0, 1), alpha.clamp(0, 1)), -3)


def straight_to_stored(rgb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Straight (un-premultiplied) RGB (..., 3, H, W) and alpha (..., 1, H, W) → the
    dataset encoding (..., 4, H, W)."""
    return torch.cat((alpha * (1.0 - rgb), alpha), -3)


def stored_to_premultiplied(images: torch.Tensor) -> torch.Tensor:
    """Dataset RGBA (..., 4, H, W) → premultiplied true RGB ``alpha · rgb = alpha − stored``
    (..., 3, H, W), i.e. the object over a black background."""
    alpha = images[..., 3:4, :, :]
    return (alpha - images[..., :3, :, :]).clamp(min=0.0)


def stored_to_straight(images: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Dataset RGBA (..., 4, H, W) → straight true RGB (..., 3, H, W); pixels with
    ``alpha ≤ eps`` are 0."""
    alpha = images[..., 3:4, :, :]
    rgb = 1.0 - images[..., :3, :, :] / alpha.clamp(min=eps)
    return torch.where(alpha > eps, rgb.clamp(0.0, 1.0), torch.zeros_like(rgb))


def stored_over_white(images: torch.Tensor) -> torch.Tensor:
    """Dataset RGBA (..., 4, H, W) → the object's RGB over a white background."""
    return 1.0 - images[..., :3, :, :]


def premultiplied_over_white(rgba: torch.Tensor) -> torch.Tensor:
    """Premultiplied RGBA (..., 4, H, W) (renders over black) → RGB over a white
    background, ``rgb + (1 − alpha)``: comparable with :func:`stored_over_white`."""
    return rgba[..., :3, :, :] + (1.0 - rgba[..., 3:4, :, :])

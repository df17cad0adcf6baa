"""ResNet image encoder adapted to small (64×64) RGBA inputs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3×3 conv + BN layers with an identity (or 1×1 projection) shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNetEncoder(nn.Module):
    """ResNet-18-style encoder: (B, C, S, S) images → (B, out_dim) feature vectors.

    Stem: ``stem_kernel``×``stem_kernel`` conv with ``stem_stride`` (no max-pool, the inputs
    are small), then ``len(blocks)`` stages of :class:`BasicBlock` with widths
    ``width · 2^k`` (stride 2 from the second stage on), global average pooling and a
    linear + ReLU projection to ``out_dim``. ``blocks=(2, 2, 2, 2), width=64`` is
    ResNet-18's layout; smaller ``width`` / fewer blocks trade accuracy for CPU speed.

    Args:
        in_channels: 4 for RGBA.
        width: channels of the first stage.
        blocks: blocks per stage.
        out_dim: feature size.
        stem_kernel, stem_stride: the first convolution.
    """

    def __init__(
        self,
        in_channels: int = 4,
        width: int = 64,
        blocks: Sequence[int] = (2, 2, 2, 2),
        out_dim: int = 512,
        stem_kernel: int = 5,
        stem_stride: int = 2,
    ) -> None:
        super().__init__()
        if width <= 0 or out_dim <= 0 or not blocks or any(int(b) <= 0 for b in blocks):
            raise ValueError(
                f"ResNetEncoder needs width > 0, out_dim > 0 and positive blocks, got "
                f"width={width}, out_dim={out_dim}, blocks={list(blocks)}"
            )
        self.in_channels, self.out_dim = in_channels, out_dim
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, stem_kernel, stem_stride, stem_kernel // 2, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        ch = width
        for k, n in enumerate(blocks):
            out_ch = width * 2**k
            for i in range(int(n)):
                layers.append(BasicBlock(ch, out_ch, 2 if (k > 0 and i == 0) else 1))
                ch = out_ch
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(ch, out_dim), nn.ReLU(inplace=True))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():  # zero-init the last BN of each residual branch
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) → (B, out_dim)."""
        if images.dim() != 4 or images.shape[1] != self.in_channels:
            raise ValueError(
                f"encoder expects (B, {self.in_channels}, S, S) images, got {tuple(images.shape)}"
            )
        x = self.stages(self.stem(images))
        return self.fc(self.pool(x).flatten(1))


class ConvEncoder(nn.Module):
    """The public SoftRas code's encoder: three 5×5 stride-2 convolutions with BatchNorm
    and ReLU, then fully connected layers with ReLU (``docs/conventions.md`` §5).

    (B, C, S, S) → (B, out_dim). With the defaults, 64×64 RGBA inputs pass through
    64, 128 and 256 channels at 32², 16² and 8², then FC 256·8·8 → 1024 → 1024 → 512.
    """

    def __init__(
        self,
        in_channels: int = 4,
        channels: Sequence[int] = (64, 128, 256),
        hidden: Sequence[int] = (1024, 1024),
        out_dim: int = 512,
        image_size: int = 64,
    ) -> None:
        super().__init__()
        if not channels or any(int(c) <= 0 for c in channels) or out_dim <= 0:
            raise ValueError(f"ConvEncoder needs positive channels and out_dim, got "
                             f"channels={list(channels)}, out_dim={out_dim}")  # fmt: skip
        self.in_channels, self.out_dim, self.image_size = in_channels, out_dim, image_size
        convs: list[nn.Module] = []
        ch, size = in_channels, image_size
        for out_ch in channels:
            convs += [nn.Conv2d(ch, int(out_ch), 5, 2, 2), nn.BatchNorm2d(int(out_ch)),
                      nn.ReLU(inplace=True)]  # fmt: skip
            ch, size = int(out_ch), (size + 1) // 2
        self.convs = nn.Sequential(*convs)
        fcs: list[nn.Module] = []
        width = ch * size * size
        for h in [*hidden, out_dim]:
            fcs += [nn.Linear(width, int(h)), nn.ReLU(inplace=True)]
            width = int(h)
        self.fcs = nn.Sequential(*fcs)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) → (B, out_dim); S must be the ``image_size`` it was built for."""
        if images.dim() != 4 or images.shape[1:] != (self.in_channels, self.image_size,
                                                     self.image_size):  # fmt: skip
            raise ValueError(
                f"encoder expects (B, {self.in_channels}, {self.image_size}, {self.image_size}) "
                f"images, got {tuple(images.shape)}"
            )
        return self.fcs(self.convs(images).flatten(1))

"""Image grids of predictions: the training grid logged to TensorBoard and the one
``evaluate.py`` writes as PNG share these cells.

A row is one prediction: its input image, then for each view shown the dataset image, the
predicted silhouette (white on black) and, for models with colors, the predicted colors.
Images are composited over white so that they look like the dataset's renderings.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .image_encoding import premultiplied_over_white, stored_over_white


def view_cells(
    target: torch.Tensor | None, render: torch.Tensor, colors: bool
) -> list[torch.Tensor]:
    """One view's cells: dataset image (if given), silhouette, colors (if ``colors``).

    Args:
        target: (4, S, S) dataset image (stored encoding) or ``None``.
        render: (4, S, S) premultiplied render of the prediction in that view.
    Returns:
        (3, S, S) images in [0, 1].
    """
    cells = [] if target is None else [stored_over_white(target)]
    cells.append(render[3:4].expand(3, -1, -1))
    if colors:
        cells.append(premultiplied_over_white(render))
    return cells


def image_grid(rows: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
    """Rows of equally sized (3, S, S) cells → one (3, rows·S, cols·S) image in [0, 1]."""
    if not rows or len({len(r) for r in rows}) != 1:
        raise ValueError("image_grid needs rows with the same, nonzero number of cells")
    return torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1).clamp(0, 1).cpu()


def prediction_grid(
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    renders: torch.Tensor,
    colors: bool,
) -> torch.Tensor:
    """Grid of N predictions shown in K views.

    Args:
        inputs: (N, 4, S, S) input images (stored encoding).
        targets: (N, K, 4, S, S) the dataset images of the views shown, or ``None``.
        renders: (N, K, 4, S, S) premultiplied renders of each prediction in those views.
        colors: add the predicted-colors cell of each view.
    Returns:
        (3, N·S, (1 + K·cells)·S): per row ``input | per view: [target] | silhouette |
        [colors]``.
    """
    if inputs.shape[-1] != renders.shape[-1]:  # renders smaller than the data: area-resize
        inputs = torch.nn.functional.adaptive_avg_pool2d(inputs, renders.shape[-1])
        if targets is not None:
            n, k = targets.shape[:2]
            targets = torch.nn.functional.adaptive_avg_pool2d(
                targets.flatten(0, 1), renders.shape[-1]
            ).unflatten(0, (n, k))
    rows = []
    for i in range(inputs.shape[0]):
        row = [stored_over_white(inputs[i])]
        for v in range(renders.shape[1]):
            row += view_cells(None if targets is None else targets[i, v], renders[i, v], colors)
        rows.append(row)
    return image_grid(rows)

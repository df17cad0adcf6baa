"""Ordinary images as model inputs: the object's mask, squaring and resizing, said aloud.

Models are trained on the dataset's renderings: 64×64 RGBA, the object's mask in alpha,
the object centred on an empty background. A user's image is brought to that form by
explicit, reported steps (:func:`prepare_image` returns the notes):

1. **Mask.** In order of preference: a mask file (grey levels, > 50 % = object, same size
   as the image); the image's own alpha channel (when it is not fully opaque); else a mask
   derived from a *uniform background*: the background colour is the median of the
   image's one-pixel border, which must be uniform (at least 90 % of the border within
   ``tolerance`` of it in every channel), and pixels differing from it by more than
   ``tolerance`` in some channel are the object. Otherwise the image is refused with a
   message asking for a mask. An empty mask is refused.
2. **Crop (optional).** ``crop_margin``: crop to the mask's bounding box grown by that
   fraction of its larger side, so a small object in a large photo fills the frame.
3. **Square.** Non-square images are padded (transparent, centred) to a square, never
   stretched.
4. **Resize** to the model's input size with area averaging (alpha-weighted colours).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..image_encoding import premultiplied_to_stored
from .conventions import IMAGE_SIZE

#: Default colour tolerance (in [0, 1]) of the background and of background pixels.
BACKGROUND_TOLERANCE = 0.1
#: Share of border pixels that must match the background colour.
UNIFORM_BORDER_SHARE = 0.9


class ImageInputError(ValueError):
    """An image (or mask) file that cannot be used; the message names the file."""


@dataclass
class PreparedImage:
    """A model input in the dataset encoding and what was done to get it."""

    image: torch.Tensor  #: (4, S, S) float in [0, 1], dataset encoding (inverted RGB)
    notes: list[str] = field(default_factory=list)


def _open(path: Path, what: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ImageInputError(f"{what} not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            mode = "RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB"
            if what == "mask":
                mode = "L"
            return np.asarray(img.convert(mode), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageInputError(f"{what} {path} is not a readable image ({exc})") from exc


def background_mask(rgb: np.ndarray, tolerance: float, path: Path) -> tuple[np.ndarray, str]:
    """(H, W) object mask of an image on a uniform background, and a note describing it."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[1:-1, 0], rgb[1:-1, -1]], 0)
    colour = np.median(border, axis=0)
    matches = (np.abs(border - colour) <= tolerance).all(axis=1).mean()
    if matches < UNIFORM_BORDER_SHARE:
        raise ImageInputError(
            f"{path}: no alpha channel and the background is not uniform (only "
            f"{100 * matches:.0f}% of the border matches its median colour); give a mask "
            "file (--mask) or an RGBA image whose alpha is the object's mask"
        )
    mask = (np.abs(rgb - colour) > tolerance).any(axis=2).astype(np.float32)
    rgb255 = ",".join(str(int(round(255 * c))) for c in colour)
    return mask, f"mask from the uniform background (rgb {rgb255} ± {tolerance:g})"


def prepare_image(
    path: str | os.PathLike,
    size: int = IMAGE_SIZE,
    mask_path: str | os.PathLike | None = None,
    tolerance: float = BACKGROUND_TOLERANCE,
    crop_margin: float | None = None,
) -> PreparedImage:
    """An image file → a model input (see the module doc for the rules)."""
    path = Path(path)
    pixels = _open(path, "image")
    h, w = pixels.shape[:2]
    rgb = pixels[..., :3]
    notes = [f"{w}×{h} {'RGBA' if pixels.shape[2] == 4 else 'RGB'}"]
    if mask_path is not None:
        mask = _open(Path(mask_path), "mask")
        if mask.shape != (h, w):
            raise ImageInputError(
                f"mask {mask_path} is {mask.shape[1]}×{mask.shape[0]}, image {path} is {w}×{h}"
            )
        mask = (mask > 0.5).astype(np.float32)
        notes.append(f"mask from {mask_path}")
    elif pixels.shape[2] == 4 and pixels[..., 3].min() < 1.0:
        mask = pixels[..., 3]
        notes.append("mask from the alpha channel")
    else:
        mask, note = background_mask(rgb, tolerance, path)
        notes.append(note)
    coverage = float((mask > 0.5).mean())
    if coverage == 0.0:
        raise ImageInputError(f"{path}: the object's mask is empty (nothing to reconstruct)")
    notes[-1] += f": {100 * coverage:.0f}% of the pixels"
    if crop_margin is not None:
        rows, cols = np.nonzero(mask > 0.5)
        side = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
        grow = int(round(crop_margin * side))
        r0, r1 = max(rows.min() - grow, 0), min(rows.max() + grow + 1, h)
        c0, c1 = max(cols.min() - grow, 0), min(cols.max() + grow + 1, w)
        rgb, mask = rgb[r0:r1, c0:c1], mask[r0:r1, c0:c1]
        notes.append(f"cropped to the object ±{crop_margin:g}: {c1 - c0}×{r1 - r0}")
    rgba = torch.from_numpy(np.concatenate([rgb * mask[..., None], mask[..., None]], 2))
    rgba = rgba.permute(2, 0, 1).contiguous()  # premultiplied, so averaging weighs by alpha
    h, w = rgba.shape[1:]
    if h != w:
        side = max(h, w)
        top, left = (side - h) // 2, (side - w) // 2
        rgba = torch.nn.functional.pad(rgba, (left, side - w - left, top, side - h - top))
        notes.append(f"padded to {side}×{side}")
    if rgba.shape[-1] != size:
        rgba = torch.nn.functional.interpolate(rgba[None], size=(size, size), mode="area")[0]
        notes.append(f"resized to {size}×{size}")
    return PreparedImage(premultiplied_to_stored(rgba), notes)

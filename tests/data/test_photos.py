"""Ordinary images as model inputs: masks, squaring, resizing, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from softrec.data.photos import ImageInputError, prepare_image
from softrec.image_encoding import straight_to_stored


def _photo(w: int = 100, h: int = 37, background=(255, 255, 255)) -> tuple[np.ndarray, np.ndarray]:
    """An RGB photo with a red box on a uniform background, and the box's mask."""
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[:] = background
    mask = np.zeros((h, w), bool)
    mask[10:30, 40:70] = True
    rgb[mask] = (200, 30, 20)
    return rgb, mask


def _expected_mask(mask: np.ndarray, size: int = 64) -> torch.Tensor:
    """The box mask padded to a square and area-resized, independently of the code."""
    h, w = mask.shape
    side = max(h, w)
    sq = np.zeros((side, side), np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    sq[top : top + h, left : left + w] = mask
    t = torch.from_numpy(sq)[None, None]
    return torch.nn.functional.interpolate(t, size=(size, size), mode="area")[0, 0]


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_rgb_photo_on_uniform_background(tmp_path, suffix):
    rgb, mask = _photo(background=(250, 250, 245))
    path = tmp_path / f"photo{suffix}"
    Image.fromarray(rgb).save(path, quality=95)
    prep = prepare_image(path)
    assert prep.image.shape == (4, 64, 64)
    alpha = prep.image[3]
    want = _expected_mask(mask)
    if suffix == ".png":  # lossless: exactly the box
        torch.testing.assert_close(alpha, want, atol=1e-6, rtol=0)
    else:  # JPEG ringing may flip a few edge pixels
        assert (alpha - want).abs().mean() < 0.01
    text = "; ".join(prep.notes)
    assert "100×37 RGB" in text and "uniform background (rgb 2" in text
    assert "padded to 100×100" in text and "resized to 64×64" in text
    # inside the box, true colours are the box's (inverted in the dataset encoding)
    inside = want > 0.99
    straight = 1 - prep.image[:3, inside] / prep.image[3, inside]
    torch.testing.assert_close(straight.mean(1), torch.tensor([200, 30, 20]) / 255.0,
                               atol=0.03, rtol=0)  # fmt: skip


def test_dataset_sized_rgba_passes_through(tmp_path):
    g = torch.Generator().manual_seed(0)
    rgb = (torch.rand(3, 64, 64, generator=g) * 255).round() / 255
    alpha = torch.zeros(1, 64, 64)
    alpha[:, 16:48, 20:40] = 1.0
    arr = (torch.cat([rgb, alpha]).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr, "RGBA").save(tmp_path / "render.png")
    prep = prepare_image(tmp_path / "render.png")
    torch.testing.assert_close(prep.image, straight_to_stored(rgb, alpha), atol=1e-6, rtol=0)
    assert "mask from the alpha channel" in prep.notes[1] and len(prep.notes) == 2


def test_mask_file_and_crop(tmp_path):
    rgb, mask = _photo()
    rgb[:] = np.random.default_rng(0).integers(0, 256, rgb.shape)  # a busy background
    Image.fromarray(rgb).save(tmp_path / "busy.png")
    Image.fromarray((mask * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    with pytest.raises(ImageInputError, match="not uniform.*--mask"):
        prepare_image(tmp_path / "busy.png")
    prep = prepare_image(tmp_path / "busy.png", mask_path=tmp_path / "mask.png", crop_margin=0.0)
    assert "mask from" in prep.notes[1] and "cropped to the object ±0: 30×20" in prep.notes[2]
    # cropped to the box, then padded: the box fills the width of the frame
    assert prep.image[3, 32].min() > 0.99


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: (d / "notes.png").write_text("not an image"), "is not a readable image"),
        (lambda d: None, "image not found"),
        (lambda d: Image.new("RGB", (40, 30), (9, 9, 9)).save(d / "notes.png"), "mask is empty"),
    ],
)
def test_bad_images_are_refused_naming_the_file(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(ImageInputError, match=message) as info:
        prepare_image(tmp_path / "notes.png")
    assert "notes.png" in str(info.value)


def test_mask_of_another_size_is_refused(tmp_path):
    rgb, _ = _photo()
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    Image.new("L", (10, 10), 255).save(tmp_path / "mask.png")
    with pytest.raises(ImageInputError, match="mask .* is 10×10, image .* is 100×37"):
        prepare_image(tmp_path / "photo.png", mask_path=tmp_path / "mask.png")

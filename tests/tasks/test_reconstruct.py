"""scripts/reconstruct.py on what users have: photos without alpha, other sizes, mistakes."""

from __future__ import annotations

import numpy as np
import trimesh
from PIL import Image

from tests.conftest import run_py


def test_photo_without_alpha_is_reconstructed_and_steps_are_reported(
    tmp_path, untrained_checkpoint
):
    rgb = np.full((37, 100, 3), 255, np.uint8)
    rgb[8:30, 35:70] = (40, 90, 200)
    Image.fromarray(rgb).save(tmp_path / "photo.jpg", quality=95)
    out = tmp_path / "out"
    res = run_py("scripts/reconstruct.py", str(untrained_checkpoint), str(tmp_path / "photo.jpg"),
                 "--out", str(out), cwd=tmp_path, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "photo.jpg: 100×37 RGB; mask from the uniform background" in res.stdout
    assert "padded to 100×100; resized to 64×64" in res.stdout
    mesh = trimesh.load(out / "photo.obj", force="mesh")
    assert len(mesh.vertices) > 0 and np.isfinite(mesh.vertices).all()
    assert Image.open(out / "photo_input.png").size == (64, 64)


def test_mistakes_get_one_line(tmp_path, untrained_checkpoint):
    (tmp_path / "notes.png").write_text("not an image")
    cases = [
        ([str(untrained_checkpoint), str(tmp_path / "notes.png")], "is not a readable image"),
        ([str(tmp_path / "none.ckpt"), str(tmp_path / "notes.png")], "notes.png"),
        ([str(untrained_checkpoint), str(tmp_path / "notes.png"), "--mask", "a.png", "b.png"],
         "--mask: 2 masks for 1 images"),
    ]  # fmt: skip
    for args, message in cases:
        res = run_py("scripts/reconstruct.py", *args, cwd=tmp_path, timeout=120)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines

"""scripts/fit_mesh.py: inputs in every form, one-line errors, the files it writes."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from ..conftest import ROOT, entry_env
from .helpers import ellipsoid, render_rgba, ring_cameras

SCRIPT = ROOT / "scripts" / "fit_mesh.py"
SIZE, VIEWS = 24, 6


def _load_script():
    spec = importlib.util.spec_from_file_location("fit_mesh_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fit_script = _load_script()


@pytest.fixture(scope="module")
def problem(tmp_path_factory) -> dict:
    """An ellipsoid seen by 6 cameras: uint8 NHWC targets, eye positions, P matrices."""
    root = tmp_path_factory.mktemp("fit_inputs")
    v, f = ellipsoid(2)
    cams = ring_cameras(VIEWS)
    rgba = render_rgba(v, f, cams, SIZE)
    images = (rgba.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    np.save(root / "images.npy", images)
    np.save(root / "eyes.npy", cams.eyes.numpy())
    return {"root": root, "images": images, "eyes": cams.eyes.numpy()}


def run_main(*argv: str, capsys=None) -> tuple[int, str]:
    code = fit_script.main([str(a) for a in argv])
    err = capsys.readouterr().err if capsys is not None else ""
    return code, err


QUICK = ("--iterations", "6", "--views-per-step", "3", "--template-subdivisions", "1",
         "--subdivide-at", "0.5", "--frames", "3", "--gif-size", "16", "--quiet")  # fmt: skip


def test_npy_inputs_write_every_output(problem, tmp_path, capsys):
    out = tmp_path / "fit"
    code, _ = run_main(
        problem["root"] / "images.npy",
        "--cameras",
        problem["root"] / "eyes.npy",
        "--out",
        out,
        "--colors",
        "--tensorboard",
        *QUICK,
        capsys=capsys,
    )
    assert code == 0
    for name in ("mesh.obj", "mesh.ply", "turntable.gif", "comparison.png", "iou.json",
                 "iou.csv"):  # fmt: skip
        assert (out / name).is_file(), name
    ply = trimesh.load(out / "mesh.ply", process=False)
    obj = trimesh.load(out / "mesh.obj", process=False, force="mesh")
    assert len(ply.vertices) == len(obj.vertices) == 162 and len(ply.faces) == 320
    assert ply.visual.vertex_colors.shape == (162, 4)  # colors were fitted
    record = json.loads((out / "iou.json").read_text())
    rows = list(csv.DictReader((out / "iou.csv").open()))
    assert len(record["per_view"]) == len(rows) == VIEWS
    assert all(0 <= float(r["iou"]) <= 1 for r in rows)
    assert record["iou_mean"] == pytest.approx(np.mean(record["per_view"]))
    with Image.open(out / "comparison.png") as png:
        assert png.size == (SIZE * VIEWS, 2 * SIZE)
    with Image.open(out / "turntable.gif") as gif:
        assert gif.n_frames == 3
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert not list(out.glob(".*.tmp"))  # atomic writes left no temporaries


def test_png_folder_with_projection_cameras_json(problem, tmp_path, capsys):
    from .test_fit import look_at_P

    folder = tmp_path / "views"
    folder.mkdir()
    names = [f"view_{i:02d}.png" for i in range(VIEWS)][::-1]  # JSON order ≠ name order
    eyes = problem["eyes"][::-1]
    for name, image in zip(names, problem["images"][::-1], strict=True):
        Image.fromarray(image, "RGBA").save(folder / name)
    P = torch.stack([look_at_P(torch.from_numpy(e.copy()), 15, SIZE) for e in eyes])
    (folder / "cameras.json").write_text(json.dumps({"P": P.tolist(), "images": names}))
    # images are taken in the JSON's order (not the names' sorted order), each with its P
    targets, cams = fit_script.load_inputs(fit_script.parse_args([str(folder)]))
    expected = torch.from_numpy(problem["images"][::-1].copy()).permute(0, 3, 1, 2) / 255
    torch.testing.assert_close(targets, expected)
    torch.testing.assert_close(cams.P, P)
    out = tmp_path / "fit"
    code, _ = run_main(folder, "--out", out, *QUICK, capsys=capsys)
    assert code == 0
    iou = json.loads((out / "iou.json").read_text())["per_view"]
    assert len(iou) == VIEWS and min(iou) > 0.3
    ply = trimesh.load(out / "mesh.ply", process=False)
    assert len(ply.faces) == 320


@pytest.mark.parametrize(
    "case, message",
    [
        ("count", "6 target images but 5 cameras"),
        ("camera_shape", "cameras must be (N, 3) or (N, 3, 4)"),
        ("image_shape", "(N, H, W, 4) or (N, 4, H, W)"),
        ("square", "must be square"),
        ("empty", "empty mask"),
        ("missing_images", "targets not found"),
        ("missing_cameras", "cameras file not found"),
    ],
)
def test_bad_input_gives_one_error_line(problem, tmp_path, capsys, case, message):
    root = problem["root"]
    images, cameras = root / "images.npy", root / "eyes.npy"
    if case == "count":
        np.save(cameras := tmp_path / "c.npy", problem["eyes"][:5])
    elif case == "camera_shape":
        np.save(cameras := tmp_path / "c.npy", np.zeros((VIEWS, 4)))
    elif case == "image_shape":
        np.save(images := tmp_path / "i.npy", problem["images"][..., :3])
    elif case == "square":
        np.save(images := tmp_path / "i.npy", problem["images"][:, :, :-2])
    elif case == "empty":
        bad = problem["images"].copy()
        bad[2, ..., 3] = 0
        np.save(images := tmp_path / "i.npy", bad)
    elif case == "missing_images":
        images = tmp_path / "nothing.npy"
    elif case == "missing_cameras":
        cameras = tmp_path / "nothing.npy"
    code, err = run_main(images, "--cameras", cameras, "--out", tmp_path / "o", *QUICK,
                         capsys=capsys)  # fmt: skip
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("case", ["count", "missing"])
def test_bad_input_from_the_command_line(problem, tmp_path, case):
    cameras = problem["root"] / "eyes.npy"
    if case == "count":
        np.save(cameras := tmp_path / "c.npy", problem["eyes"][:4])
    images = problem["root"] / "images.npy" if case == "count" else tmp_path / "none"
    proc = subprocess.run([sys.executable, str(SCRIPT), str(images), "--cameras", str(cameras)],
                          env=entry_env(tmp_path), capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert not (tmp_path / "outputs").exists()

"""evaluate() on tiny untrained checkpoints of the full model (colors) and of the
silhouette model: color columns, colored exports, the image grid, and validation computing
the same color numbers."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from softrec.data import images_to_float
from softrec.files import atomic_torch_save
from softrec.mesh import colors_to_uint8, face_to_vertex_colors
from softrec.tasks.common import build_datamodule, load_module
from softrec.tasks.evaluation import evaluate
from softrec.tasks.iou_table import COLOR_COLUMNS
from tests.conftest import SMOKE_CATEGORIES, compose_config

GRID_VIEWS = 3


def make_checkpoint(path, overrides: list[str]):
    cfg = compose_config("train", ["experiment=smoke", *overrides])
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    torch.manual_seed(0)
    module = instantiate(model_cfg)
    config = {"model": model_cfg, "task_name": "test"}
    atomic_torch_save({"state_dict": module.state_dict(), "global_step": 0,
                       "softrec_config": config}, path)  # fmt: skip
    return path


def data_cfg(root) -> dict:
    return {"_target_": "softrec.data.ShapeNetDataModule", "root": str(root),
            "categories": SMOKE_CATEGORIES, "batch_size": 2, "num_workers": 0,
            "eval_batch_size": 24}  # fmt: skip


@pytest.fixture(scope="module")
def full_eval(smoke_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("full_eval")
    ckpt = make_checkpoint(root / "full.ckpt", ["model=softras_full"])
    res = evaluate(ckpt, data_cfg(smoke_data), split="val", out_dir=root / "out", batch_size=24,
                   template_baseline=False, mean_shape_baseline=False, num_examples=2,
                   progress=False, print_table=False, grid_views=GRID_VIEWS)  # fmt: skip
    return root / "out", ckpt, res


def test_color_columns_in_every_results_file(full_eval):
    out, _, res = full_eval
    assert res["color_columns"] == list(COLOR_COLUMNS.values())
    for r in res["rows"]:
        for col in res["color_columns"]:
            lo, hi = (0.0, 1.0) if " L1 " in col else (0.0, 100.0)
            assert lo <= r[col] <= hi, (col, r[col])
    rows = list(csv.DictReader((out / "results_val.csv").open()))
    assert len(rows) == len(SMOKE_CATEGORIES) + 1
    col = "color PSNR (other views)"
    assert float(rows[-1][col]) == pytest.approx(res["mean"][col], abs=1e-4)
    js = json.loads((out / "results_val.json").read_text())
    assert js["color_columns"] == res["color_columns"] and col in js["rows"][0]
    md = (out / "results_val.md").read_text()
    assert "| category | color L1 (input view) | mean color L1 (input view) |" in md


def test_exports_hold_the_predicted_colors(full_eval, smoke_data):
    import trimesh

    out, ckpt, _ = full_eval
    module, _ = load_module(ckpt)
    dm = build_datamodule(data_cfg(smoke_data))
    batch = images_to_float(next(iter(dm.eval_dataloader("val"))))
    plys = sorted((out / "examples_val").glob("*.ply"))
    assert len(plys) == 2 and len(list((out / "examples_val").glob("*.glb"))) == 2
    # the first example is the first item of the split (its first category, view 0)
    stem = plys[0].with_suffix("")
    c, v = int(batch["class_id"][0]), int(batch["view"][0])
    assert stem.name == f"class{c:02d}_obj0_view{v}"
    with torch.no_grad():
        vertices, colors = module.net(batch["images"][:1])
    want = colors_to_uint8(face_to_vertex_colors(colors[0], module.net.faces, vertices.shape[1]))
    for suffix in (".ply", ".glb"):
        mesh = trimesh.load(f"{stem}{suffix}", force="mesh", process=False)
        np.testing.assert_allclose(mesh.vertices, vertices[0].numpy(), atol=1e-5)
        got = np.asarray(mesh.visual.vertex_colors)[:, :3].astype(int)
        assert np.abs(got - want.astype(int)).max() <= 1, suffix


def test_grid_png(full_eval):
    out, _, res = full_eval
    grid = Image.open(out / "examples_val" / "grid.png")
    # 2 rows; input + per view: dataset image, silhouette, colors (64 px each)
    assert grid.size == ((1 + 3 * GRID_VIEWS) * 64, 2 * 64)
    assert res["paths"]["grid"].endswith("grid.png")


def test_validation_computes_the_same_color_numbers(full_eval, smoke_data):
    out, ckpt, res = full_eval
    module, _ = load_module(ckpt)
    module.renderer.sigma = module.sigma_at(0)
    dm = build_datamodule({**data_cfg(smoke_data), "val_objects_per_category": None})
    dm.eval_all_views = True
    with torch.no_grad():
        for batch in dm.val_dataloader():
            module.validation_step(images_to_float(batch), 0)
    means = module.val_color_metric.compute()
    key, col = "ours/psnr_other", COLOR_COLUMNS["ours/psnr_other"]
    got = [float(x) for x in means[key] if not np.isnan(float(x))]
    assert sum(got) / len(got) == pytest.approx(res["mean"][col], abs=1e-6)


def test_silhouette_model_has_no_color_columns(smoke_data, tmp_path):
    ckpt = make_checkpoint(tmp_path / "sil.ckpt", [])
    res = evaluate(ckpt, data_cfg(smoke_data), split="test", out_dir=tmp_path / "out",
                   batch_size=24, template_baseline=False, mean_shape_baseline=False,
                   num_examples=1, progress=False, print_table=False,
                   grid_views=GRID_VIEWS)  # fmt: skip
    assert res["color_columns"] == [] and not any("color" in k for k in res["rows"][0])
    header = (tmp_path / "out" / "results_test.csv").read_text().splitlines()[0]
    assert "color" not in header
    grid = Image.open(tmp_path / "out" / "examples_test" / "grid.png")
    assert grid.size == ((1 + 2 * GRID_VIEWS) * 64, 64)  # no colors cell
    assert list((tmp_path / "out" / "examples_test").glob("*.glb"))


def test_reconstruct_script_writes_colored_meshes(full_eval, smoke_data, tmp_path):
    import importlib.util

    import trimesh

    from softrec.image_encoding import stored_to_straight
    from tests.conftest import ROOT

    _, ckpt, _ = full_eval
    dm = build_datamodule(data_cfg(smoke_data))
    img = images_to_float(next(iter(dm.eval_dataloader("val"))))["images"][0]
    rgba = torch.cat([stored_to_straight(img), img[3:4]])
    arr = (rgba.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr, "RGBA").save(tmp_path / "chair.png")
    spec = importlib.util.spec_from_file_location("reconstruct", ROOT / "scripts/reconstruct.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([str(ckpt), str(tmp_path / "chair.png"), "--out", str(tmp_path)]) == 0
    for suffix in (".obj", ".ply", ".glb"):
        mesh = trimesh.load(tmp_path / f"chair{suffix}", force="mesh", process=False)
        assert mesh.visual.kind == "vertex" and len(mesh.vertices) > 0


def test_training_logs_the_color_grid(smoke_data):
    """The training step's own renders make the color grid (no extra forward pass)."""
    from softrec.models.module import COLOR_GRID_TAG, IMAGE_GRID_TAG

    cfg = compose_config("train", ["experiment=smoke", "model=softras_full"])
    module = instantiate(OmegaConf.to_container(cfg.model, resolve=True))
    dm = build_datamodule(data_cfg(smoke_data))
    batch = images_to_float(next(iter(dm.train_dataloader())))
    _, renders, vertices, colors = module.compute_losses(batch)
    logged: dict[str, torch.Tensor] = {}

    class Recorder:
        def add_image(self, tag, image, step):
            logged[tag] = image

        def add_mesh(self, *args, **kwargs):
            logged["mesh"] = kwargs.get("colors")

    module._tensorboard = Recorder
    module._log_visuals(batch, renders.detach(), vertices.detach(), colors.detach())
    s, n = renders.shape[-1], batch["images_a"].shape[0]
    assert logged[IMAGE_GRID_TAG].shape == (3, n * s, 6 * s)
    assert logged[COLOR_GRID_TAG].shape == (3, n * s, 7 * s)  # input + 2 views × 3 cells
    assert logged["mesh"] is not None  # vertex colors go with the mesh

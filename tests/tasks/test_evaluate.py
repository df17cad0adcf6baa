"""evaluate(): the per-category table on a fixed tiny checkpoint (no training)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from softrec.files import atomic_torch_save
from softrec.models import PAPER_IOU
from softrec.tasks.common import load_module
from softrec.tasks.errors import ConfigError
from softrec.tasks.evaluation import evaluate
from tests.conftest import compose_config

CATS = ["car", "airplane", "chair"]  # deliberately not in paper order


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from softrec.data import make_synthetic_dataset

    root = tmp_path_factory.mktemp("evaldata")
    data_root = root / "data"
    make_synthetic_dataset(data_root, n_train=2, n_val=1, n_test=1, seed=0, categories=CATS)
    cfg = compose_config("train", ["experiment=smoke"])
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    torch.manual_seed(0)
    module = instantiate(model_cfg)
    ckpt = root / "tiny.ckpt"
    atomic_torch_save({"state_dict": module.state_dict(), "global_step": 0,
                       "softrec_config": {"model": model_cfg, "task_name": "test"}}, ckpt)
    data_cfg = {"_target_": "softrec.data.ShapeNetDataModule", "root": str(data_root),
                "categories": CATS, "batch_size": 2, "num_workers": 0, "eval_batch_size": 24}
    return root, ckpt, data_cfg


def test_table_on_fixed_checkpoint(tiny):
    from softrec.data import CATEGORIES, voxel_iou, voxelize

    root, ckpt, data_cfg = tiny
    out = root / "out"
    res = evaluate(ckpt, data_cfg, split="val", out_dir=out, batch_size=24, progress=False,
                   print_table=False, num_examples=2)  # fmt: skip
    names = [r["category"] for r in res["rows"]]
    paper_order = [n for _, n, _ in CATEGORIES]
    assert [n.split(" ")[0] for n in names] == [n for n in paper_order if n in CATS]
    for r in res["rows"]:
        assert r["n_predictions"] == 24  # 1 object × 24 views
        for col in ("ours", "template sphere", "mean shape"):
            assert 0.0 <= r[col] <= 1.0
        assert r["paper SoftRas (sil.)"] == PAPER_IOU[r["synset"]][3]
    ours = [r["ours"] for r in res["rows"]]
    assert res["mean"]["ours"] == pytest.approx(sum(ours) / len(ours))
    # independent recomputation of the first category's "ours" and template numbers
    module, _ = load_module(ckpt)
    from softrec.tasks.common import build_datamodule

    loader = build_datamodule(data_cfg).eval_dataloader("val")
    sums, tsum, n = {}, {}, {}
    tvox = voxelize(module.net.decoder.rest_shape()[None], module.net.faces, 32)
    with torch.no_grad():
        for batch in loader:
            v, _ = module.net(batch["images"].float() / 255)
            iou = voxel_iou(voxelize(v, module.net.faces, 32), batch["voxels"])
            tiou = voxel_iou(tvox.expand_as(batch["voxels"]), batch["voxels"])
            ids, ious, tious = batch["class_id"].tolist(), iou.tolist(), tiou.tolist()
            for c, x, t in zip(ids, ious, tious, strict=True):
                sums[c] = sums.get(c, 0.0) + x
                tsum[c] = tsum.get(c, 0.0) + t
                n[c] = n.get(c, 0) + 1
    first = res["rows"][0]
    cid = [s for s, _, _ in CATEGORIES].index(first["synset"])
    assert first["ours"] == pytest.approx(sums[cid] / n[cid], abs=1e-6)
    assert first["template sphere"] == pytest.approx(tsum[cid] / n[cid], abs=1e-6)
    # files: Markdown, CSV and JSON agree
    rows = list(csv.DictReader((out / "results_val.csv").open()))
    assert rows[-1]["category"] == "mean" and len(rows) == len(CATS) + 1
    assert float(rows[0]["ours"]) == pytest.approx(first["ours"], abs=1e-4)
    js = json.loads((out / "results_val.json").read_text())
    assert js["meta"]["split"] == "val" and len(js["rows"]) == len(CATS)
    assert "| **mean** |" in (out / "results_val.md").read_text()
    assert len(list((out / "examples_val").glob("*.obj"))) == 2


def test_evaluate_errors(tiny):
    root, ckpt, data_cfg = tiny
    with pytest.raises(ConfigError, match="checkpoint not found"):
        evaluate(root / "missing.ckpt", data_cfg, progress=False)
    bad = root / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="cannot read checkpoint"):
        evaluate(bad, data_cfg, progress=False)
    with pytest.raises(ConfigError, match="data root not found"):
        evaluate(ckpt, {**data_cfg, "root": str(root / "nowhere")}, progress=False)
    with pytest.raises(ConfigError, match="split"):
        evaluate(ckpt, data_cfg, split="training", progress=False)


def test_baselines_without_checkpoint_are_independent(tiny, tmp_path):
    from softrec.tasks.evaluation import template_of_model_config

    root, ckpt, data_cfg = tiny
    with_ckpt = evaluate(ckpt, data_cfg, split="val", out_dir=tmp_path / "a", batch_size=24,
                         progress=False, print_table=False, num_examples=0)  # fmt: skip
    model_cfg = compose_config("train", ["experiment=smoke"]).model
    template = template_of_model_config(model_cfg)
    alone = evaluate(None, data_cfg, split="val", out_dir=tmp_path / "b", batch_size=24,
                     template=template, progress=False, print_table=False)  # fmt: skip
    assert alone["columns"][:2] == ["template sphere", "mean shape"]
    assert "ours" not in alone["columns"] and alone["meta"]["checkpoint"] is None
    for a, b in zip(with_ckpt["rows"], alone["rows"], strict=True):
        # the model config's template is the checkpoint model's template
        assert b["template sphere"] == pytest.approx(a["template sphere"], abs=1e-6)
        assert b["mean shape"] == pytest.approx(a["mean shape"], abs=1e-6)
        assert b["n_predictions"] == 24
    only_mean = evaluate(None, data_cfg, split="val", out_dir=tmp_path / "c", batch_size=24,
                         template_baseline=False, progress=False, print_table=False)  # fmt: skip
    assert only_mean["columns"][0] == "mean shape" and "template sphere" not in only_mean["columns"]
    only_template = evaluate(ckpt, data_cfg, split="val", out_dir=tmp_path / "d", batch_size=24,
                             mean_shape_baseline=False, progress=False, print_table=False,
                             num_examples=0)  # fmt: skip
    assert only_template["columns"][:2] == ["ours", "template sphere"]
    assert "mean shape" not in only_template["columns"]
    with pytest.raises(ConfigError, match="nothing to evaluate"):
        evaluate(None, data_cfg, template_baseline=False, mean_shape_baseline=False,
                 progress=False)  # fmt: skip


def test_missing_train_split_drops_only_the_mean_shape(tiny, tmp_path):
    import shutil

    root, ckpt, data_cfg = tiny
    partial = tmp_path / "val_only"
    partial.mkdir()
    shutil.copy(f"{data_cfg['root']}/val.h5", partial / "val.h5")
    res = evaluate(ckpt, {**data_cfg, "root": str(partial)}, split="val", out_dir=tmp_path,
                   batch_size=24, progress=False, print_table=False, num_examples=0)  # fmt: skip
    assert res["columns"][:2] == ["ours", "template sphere"] and "mean shape" not in res["columns"]
    assert any("train.h5" in note for note in res["meta"]["notes"])

"""Every config group option and every experiment composes; key paper settings hold."""


import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from tests.conftest import CONFIGS
from tests.conftest import compose_config as _compose

GROUPS = ["data", "model", "renderer", "trainer", "logger", "callbacks", "paths", "eval"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


@pytest.mark.parametrize(
    "group,option", [(g, o) for g in GROUPS for o in options(g)], ids=lambda x: str(x)
)
def test_every_group_option_composes(group, option):
    cfg = _compose("train", [f"{group}={option}"])
    assert cfg.model._target_ == "softrec.models.SoftRasModule"
    OmegaConf.to_container(cfg.model, resolve=True)  # model interpolations resolve


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_composes_and_builds_model(experiment):
    cfg = _compose("train", [f"experiment={experiment}"])
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    if experiment != "smoke":  # keep the test fast: shrink the template and encoder
        model_cfg["net"]["decoder"]["template_subdivisions"] = 1
        model_cfg["net"]["decoder"]["hidden"] = [16]
        enc = model_cfg["net"]["encoder"]
        if enc["_target_"].endswith("ConvEncoder"):
            enc.update(channels=[4], hidden=[8], out_dim=8)
        else:
            enc.update(width=4, blocks=[1], out_dim=8)
        if model_cfg["net"].get("color"):
            model_cfg["net"]["color"].update(sample_size=4, hidden=8)
    module = instantiate(model_cfg)
    assert (module.net.color is not None) == experiment.endswith("_full")
    assert (module.val_color_metric is not None) == experiment.endswith("_full")


def test_quickstart_full_is_the_quickstart_plus_colors():
    """Same data, budget, seed, renderer and network as ``python train.py``, plus the color
    branch, its loss and its validation metric."""
    base, full = (  # unresolved: data.root needs a Hydra run
        OmegaConf.to_container(_compose("train", overrides))
        for overrides in ([], ["experiment=quickstart_full"])
    )
    assert full["model"]["net"].pop("color")["_target_"] == "softrec.models.ColorBranch"
    assert full["model"].pop("val_color_metric")["_target_"] == "softrec.metrics.MeshColorError"
    assert full["model"]["loss_weights"].pop("color") == 1.0
    base["model"]["net"].pop("color")
    base["model"]["loss_weights"].pop("color")
    # colors are not lit a second time (silhouettes are never lit)
    assert full["renderer"].pop("lighting") is False and base["renderer"].pop("lighting", True)
    for key in ("data", "model", "renderer", "trainer", "callbacks", "seed", "eval"):
        assert full[key] == base[key], key


def test_paper_sil_has_the_public_code_settings():
    cfg = _compose("train", ["experiment=paper_sil"])
    assert cfg.data.batch_size == 64
    assert cfg.model.optimizer._target_ == "torch.optim.Adam" and cfg.model.optimizer.lr == 1e-4
    assert cfg.trainer.max_steps == 250000
    assert list(cfg.model.schedule.milestones) == [150000]
    assert cfg.model.schedule.lr_gamma == 0.3 and cfg.model.schedule.sigma_gamma == 0.3
    assert cfg.renderer.sigma == 1e-4 and cfg.renderer.dist_eps == 1e-10
    assert cfg.renderer.viewing_angle == 15 and cfg.renderer.image_size == 64
    assert cfg.model.loss_weights.laplacian == 5e-3 and cfg.model.loss_weights.flatten == 5e-4
    assert cfg.model.net.decoder.template_subdivisions == 3  # 642 vertices
    full = _compose("train", ["experiment=paper_full"])
    assert full.model.loss_weights.color > 0 and full.model.net.color is not None
    assert full.trainer.max_steps == 250000 and full.data.batch_size == 64
    assert full.renderer.lighting is False and full.renderer.aggr_rgb == "softmax"


def test_softras_sil_is_the_public_recipe():
    import torch

    from softrec.models import ConvEncoder

    cfg = _compose("train", ["experiment=softras_sil"])
    assert cfg.model.net.encoder._target_ == "softrec.models.ConvEncoder"
    assert cfg.renderer.fill_back is True and cfg.renderer.aggr_rgb == "hard"
    assert cfg.data.class_balanced is True and cfg.eval.split == "val"
    assert list(cfg.model.net.decoder.hidden) == [1024, 2048]
    assert cfg.model.net.decoder.template_radius == 0.5
    paper = _compose("train", ["experiment=paper_sil"])
    assert paper.model.net.encoder.width == 64 and list(paper.model.net.encoder.blocks) == [2] * 4
    assert paper.data.class_balanced is True and paper.renderer.fill_back is True
    cpu = _compose("train", ["experiment=paper_sil_cpu"])
    assert cpu.model.net.encoder.width == 16 and cpu.renderer.fill_back is False
    # the public encoder: conv 5x5/2 4→64→128→256 (+BN), FC 256·8·8→1024→1024→512
    enc = ConvEncoder()
    convs = [(4, 64), (64, 128), (128, 256)]
    fcs = [(256 * 8 * 8, 1024), (1024, 1024), (1024, 512)]
    expected = sum(i * o * 25 + o + 2 * o for i, o in convs) + sum(i * o + o for i, o in fcs)
    assert sum(p.numel() for p in enc.parameters()) == expected
    assert enc(torch.rand(2, 4, 64, 64)).shape == (2, 512)
    with pytest.raises(ValueError, match="64, 64"):
        enc(torch.rand(2, 4, 32, 32))


def test_ddp_trainer_options():
    cfg = _compose("train", ["trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"])
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == 4
    assert cfg.trainer.num_nodes == 2


def test_eval_config_composes():
    cfg = _compose("eval", ["ckpt_path=x.ckpt", "data=shapenet", "eval.split=test"])
    assert cfg.eval.split == "test" and cfg.data._target_ == "softrec.data.ShapeNetDataModule"

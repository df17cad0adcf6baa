"""Fixtures shared by the test files: config composition, entry-point runs, tiny data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
#: Third-party meshes and images beside the checkout (tests that need them skip without).
SHARED_MESHES = ROOT.parent / "shared" / "meshes"
#: Categories and sizes of the smoke experiment's synthetic set (configs/experiment/smoke).
SMOKE_CATEGORIES = ["airplane", "car", "chair"]
SMOKE_SIZES = {"n_train": 2, "n_val": 1, "n_test": 1}


def compose_config(name: str, overrides: list[str] | None = None):
    """Compose ``configs/<name>.yaml`` with overrides, as the entry points would."""
    from softrec.tasks.cli import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides or []))


def entry_env(cwd: Path, **extra: str) -> dict[str, str]:
    """Environment of an entry-point subprocess: outputs under ``cwd``, one thread."""
    env = dict(os.environ, SOFTREC_ROOT=str(cwd), PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    env.update(extra)
    return env


def run_py(script: str, *overrides: str, cwd: Path, timeout: float = 300, env_extra=None):
    """Run ``python <script> <overrides>`` from the repository in ``cwd``; captured."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *overrides],
        cwd=cwd, env=entry_env(cwd, **(env_extra or {})), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="session")
def smoke_data(tmp_path_factory) -> Path:
    """The smoke experiment's synthetic set (3 categories, 2/1/1 objects), made once."""
    from softrec.data import make_synthetic_dataset

    root = tmp_path_factory.mktemp("smoke_data") / "synthetic_smoke"
    make_synthetic_dataset(root, **SMOKE_SIZES, seed=0, categories=SMOKE_CATEGORIES,
                           num_workers=0, progress=False)  # fmt: skip
    return root


@pytest.fixture(scope="session")
def untrained_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint of the smoke experiment's model at its initial weights (seed 0), in
    the form train.py writes (weights + the model config), for tools that load one."""
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from softrec.files import atomic_torch_save

    cfg = compose_config("train", ["experiment=smoke"])
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    torch.manual_seed(0)
    module = instantiate(model_cfg)
    path = tmp_path_factory.mktemp("checkpoint") / "untrained.ckpt"
    config = {"model": model_cfg, "task_name": "test"}
    atomic_torch_save(
        {"state_dict": module.state_dict(), "global_step": 0, "softrec_config": config}, path
    )
    return path

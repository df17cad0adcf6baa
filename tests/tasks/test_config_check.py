"""Command-line mistakes end in one line naming the key, before anything heavy is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from softrec.tasks.config_check import RANGES, check_overrides
from softrec.tasks.errors import ConfigError
from tests.conftest import CONFIGS, entry_env, run_py


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.max_steps=-5"], "trainer.max_steps: expected an integer >= 1 or -1, got -5"),
        (["trainer.max_steps=1.5"], "trainer.max_steps: expected an integer >= 1 or -1, got 1.5"),
        (["model.optimizer.lr=abc"], "model.optimizer.lr: expected a number > 0, got 'abc'"),
        (["data.synthetic.n_train=many"], "data.synthetic.n_train: expected an integer like 80"),
        (["model.optimizer.lr=-1e-3"], "model.optimizer.lr: expected a number > 0"),
        (["model.optimizer=adam"], "model.optimizer: expected a group of settings, got 'adam'"),
        (["trainer.deterministic=maybe"], "trainer.deterministic: expected a boolean"),
        (["foo=1"], "foo: no such setting"),
        (["model.optimiser.lr=1"], "model.optimiser: no such setting"),
        (["trainer=gpux"], "trainer=gpux: no such option (choose one of: cpu, ddp, default, gpu)"),
        (["experiment=nope"], "experiment=nope: no such option (choose one of: paper_full"),
        (["+experiment=smoke"], "experiment: chosen twice"),
        (["trainer.max_steps=[1,"], "cannot parse the override"),
        (["data.root"], "cannot parse the override"),
        (["data.num_workers=-1"], "data.num_workers: expected 'auto' or an integer >= 0"),
        (["renderer.sigma=0"], "renderer.sigma: expected a number > 0, got 0"),
        (["eval.split=vall"], "eval.split: expected one of train, val, test, got 'vall'"),
        (["ckpt_path=/no/such.ckpt"], "ckpt_path: checkpoint not found: /no/such.ckpt"),
        (["data=shapenet", "data.root=/no/such/folder"], "data.root: data root not found"),
    ],
)
def test_bad_overrides_name_the_key(overrides, message):
    with pytest.raises(ConfigError) as info:
        check_overrides(CONFIGS, "train", overrides)
    text = str(info.value)
    assert message in text and "\n" not in text, text


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["trainer.max_steps=10", "model.optimizer.lr=3e-4", "data.num_workers=2"],
        ["trainer.max_steps=-1", "seed=3", "data.num_workers=auto"],
        ["model.optimizer.lr=1"],  # an integer where a float stands is a number
        ["experiment=paper_sil", "trainer=gpu"],
        ["model.net.encoder=${encoders.resnet18}"],  # interpolations are left to Hydra
        ["+trainer.limit_val_batches=2", "hydra.run.dir=/tmp/x"],
        ["data.root=relative/folder"],  # the synthetic set is made there
    ],
)
def test_good_overrides_pass(overrides):
    assert check_overrides(CONFIGS, "train", overrides) is not None


def test_hydra_flags_and_sweeps_are_left_to_hydra():
    assert check_overrides(CONFIGS, "train", ["--cfg", "job"]) is None
    assert check_overrides(CONFIGS, "train", ["seed=1,2"]) is None


def test_every_preset_is_in_range():
    for experiment in sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml")):
        check_overrides(CONFIGS, "train", [f"experiment={experiment}"])
    check_overrides(CONFIGS, "eval", [])


def test_ranges_name_existing_keys():
    cfg = check_overrides(CONFIGS, "train", [])
    from omegaconf import OmegaConf

    for key in RANGES:
        assert OmegaConf.select(cfg, key, default="<absent>") != "<absent>", key


def test_the_check_imports_neither_torch_nor_lightning(tmp_path):
    code = (
        "import sys\n"
        "from softrec.tasks.config_check import check_overrides\n"
        f"check_overrides({str(CONFIGS)!r}, 'train', ['trainer=gpu'])\n"
        "heavy = [m for m in ('torch', 'pytorch_lightning', 'h5py') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=entry_env(tmp_path), timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("script", ["train.py", "evaluate.py"])
def test_entry_points_print_one_line_and_exit_2(tmp_path, script):
    res = run_py(script, "seed=-1", cwd=tmp_path, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == ["error: seed: expected an integer >= 0, got -1"]
    assert not (tmp_path / "outputs").exists()  # nothing started
    full = run_py(script, "seed=-1", cwd=tmp_path, timeout=120,
                  env_extra={"HYDRA_FULL_ERROR": "1"})  # fmt: skip
    assert full.returncode != 0 and "Traceback" in full.stderr


def test_errors_from_loader_workers_print_their_own_message():
    from torch.utils.data._utils import ExceptionWrapper

    from softrec.errors import DataFileError
    from softrec.tasks.cli import _error_line

    try:
        raise DataFileError("/data/train.h5: cannot read object 3 of category 02691156")
    except DataFileError:
        wrapped = ExceptionWrapper(where="in DataLoader worker process 0")
    with pytest.raises(DataFileError) as info:
        wrapped.reraise()
    assert "Traceback" in str(info.value)  # what the loader hands over
    assert _error_line(info.value) == "/data/train.h5: cannot read object 3 of category 02691156"

"""Helpers shared by the training and evaluation tasks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from .errors import ConfigError


def plain(cfg: Any) -> Any:
    """OmegaConf containers → plain (resolved) dicts/lists; anything else unchanged."""
    if isinstance(cfg, (DictConfig, ListConfig)):
        return OmegaConf.to_container(cfg, resolve=True)
    return cfg


def flatten_dict(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping → ``{"a/b/c": value}`` with scalars only (lists as strings)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten_dict(v, key + "/"))
        elif v is None or isinstance(v, (bool, int, float, str)):
            out[key] = v if v is not None else "null"
        else:
            out[key] = str(v)
    return out


def build(node: Any, key: str, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate(node, **kwargs)``; a failure caused by the settings becomes
    a :class:`ConfigError` naming the config key and the reason on one line."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(node, **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        reason = (str(cause).strip().splitlines() or [""])[0]
        raise ConfigError(f"{key}: {type(cause).__name__}: {reason}") from exc


def build_datamodule(data_cfg: Any, create: bool = True) -> Any:
    """Instantiate the data module of a ``data`` config group.

    A ``synthetic`` sub-key (generator options) makes the synthetic set under ``root`` on
    first use (never over files it did not write); otherwise ``root`` must exist.
    """
    from hydra.utils import instantiate

    from ..data import ForeignDataError, make_synthetic_dataset

    d = dict(plain(data_cfg))
    synth = d.pop("synthetic", None)
    root = Path(str(d.get("root", "")))
    if synth is not None and create:
        try:
            make_synthetic_dataset(root, **synth, categories=d.get("categories"))
        except ForeignDataError as exc:
            raise ConfigError(str(exc)) from exc
    if not root.is_dir():
        raise ConfigError(f"data root not found: {root} (set data.root=<folder with .h5 files>)")
    try:
        return instantiate(d, _convert_="all")
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"cannot load data from {root}: {exc}") from exc


def resolve_device(device: str | None) -> torch.device:
    """``auto``/``None`` → CUDA when available, else CPU; ``cuda*`` needs CUDA."""
    if device in ("auto", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device} requested but CUDA is not available")
    return torch.device(device)


def read_checkpoint(ckpt_path: str | os.PathLike, map_location: str = "cpu") -> dict:
    """A checkpoint's contents; a missing or unreadable file is a :class:`ConfigError`."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise ConfigError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        raise ConfigError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ConfigError(f"{path} is not a training checkpoint (no state_dict)")
    return ckpt


def load_module(ckpt_path: str | os.PathLike, map_location: str = "cpu") -> tuple[Any, dict]:
    """Rebuild the trained :class:`~softrec.models.SoftRasModule` from a checkpoint
    written by ``train.py``: ``(module in eval mode, checkpoint dict)``."""
    from hydra.utils import instantiate

    path = Path(ckpt_path)
    ckpt = read_checkpoint(path, map_location)
    cfg = ckpt.get("softrec_config")
    if not cfg or "model" not in cfg:
        raise ConfigError(f"{path} has no softrec config: was it written by train.py?")
    module = instantiate(cfg["model"])
    module.load_state_dict(ckpt["state_dict"])
    module.run_config = cfg
    return module.eval(), ckpt

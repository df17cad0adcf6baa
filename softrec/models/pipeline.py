"""What ``train.py`` and ``evaluate.py`` do, as functions (usable from tests and scripts).

Errors caused by the user's configuration raise :class:`ConfigError`, which the entry
points print as one line (``error: ...``) with exit status 2.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf


class ConfigError(RuntimeError):
    """A bad override or a missing input file: reported as a single line."""


def _container(cfg: Any) -> Any:
    if isinstance(cfg, DictConfig):
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


# ---------------------------------------------------------------------------- data
def build_datamodule(data_cfg: Any, create: bool = True) -> Any:
    """Instantiate the data module of a ``data`` config group.

    A ``synthetic`` sub-key (generator options) makes the synthetic set under ``root`` on
    first use; otherwise ``root`` must exist.
    """
    from hydra.utils import instantiate

    from .. import data as data_pkg

    d = dict(_container(data_cfg))
    synth = d.pop("synthetic", None)
    root = Path(str(d.get("root", "")))
    if synth is not None and create:
        data_pkg.ensure_synthetic_dataset(root, **synth, categories=d.get("categories"))
    if not root.is_dir():
        raise ConfigError(f"data root not found: {root} (set data.root=<folder with .h5 files>)")
    try:
        return instantiate(d, _convert_="all")
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"cannot load data from {root}: {exc}") from exc


def category_table() -> list[tuple[str, str, str]]:
    from ..data.categories import CATEGORIES

    return [tuple(c) for c in CATEGORIES]


# ---------------------------------------------------------------------------- training
def train(cfg: DictConfig) -> dict[str, Any]:
    """Train (and optionally evaluate) from a composed ``train.yaml`` config.

    Returns ``{"best_ckpt", "last_ckpt", "global_step", "eval": {...} | None}``.
    """
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from .io import AtomicCheckpointIO

    if cfg.get("ckpt_path") and not Path(str(cfg.ckpt_path)).is_file():
        raise ConfigError(f"checkpoint not found: {cfg.ckpt_path}")
    pl.seed_everything(int(cfg.seed), workers=True)
    t0 = time.time()
    dm = build_datamodule(cfg.data)
    model = instantiate(cfg.model)
    model.run_config = OmegaConf.to_container(cfg, resolve=True)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False,
        plugins=[AtomicCheckpointIO()],
    )  # fmt: skip
    for lg in loggers:
        lg.log_hyperparams(flatten_dict(model.run_config))
    if cfg.get("train", True):
        trainer.fit(model, datamodule=dm, ckpt_path=cfg.get("ckpt_path"))
    best = last = None
    for cb in callbacks:
        if isinstance(cb, pl.callbacks.ModelCheckpoint):
            if cb.monitor and cb.best_model_path:
                best = cb.best_model_path
            if cb.last_model_path:
                last = cb.last_model_path
    result: dict[str, Any] = {
        "best_ckpt": best, "last_ckpt": last, "global_step": int(trainer.global_step),
        "train_seconds": time.time() - t0,
    }  # fmt: skip
    if cfg.get("evaluate", True) and trainer.global_rank == 0:
        ev = cfg.get("eval") or {}
        ckpt = best if (ev.get("checkpoint", "best") == "best" and best) else last
        if ckpt is None:
            raise ConfigError("evaluate=true needs a checkpoint callback (callbacks=default)")
        result["eval"] = evaluate(
            ckpt_path=ckpt,
            data_cfg=cfg.data,
            split=str(ev.get("split", "test")),
            out_dir=str(cfg.paths.output_dir),
            batch_size=int(ev.get("batch_size", 64)),
            baselines=bool(ev.get("baselines", True)),
            num_examples=int(ev.get("num_examples", 4)),
            device=str(model.device),
        )
    return result


# ---------------------------------------------------------------------------- evaluation
def load_net(ckpt_path: str | os.PathLike, map_location: str = "cpu") -> tuple[Any, dict]:
    """Rebuild the trained :class:`SoftRasModule` from a checkpoint written by train.py."""
    from hydra.utils import instantiate

    path = Path(ckpt_path)
    if not path.is_file():
        raise ConfigError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        raise ConfigError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from exc
    cfg = ckpt.get("softrec_config") if isinstance(ckpt, dict) else None
    if not cfg or "model" not in cfg:
        raise ConfigError(f"{path} has no softrec config: was it written by train.py?")
    module = instantiate(cfg["model"])
    module.load_state_dict(ckpt["state_dict"])
    module.run_config = cfg
    return module.eval(), ckpt


def _resolve_device(device: str) -> torch.device:
    if device in ("auto", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device} requested but CUDA is not available")
    return torch.device(device)


def evaluate(
    ckpt_path: str | os.PathLike,
    data_cfg: Any,
    split: str = "val",
    out_dir: str | os.PathLike = ".",
    batch_size: int = 64,
    baselines: bool = True,
    num_examples: int = 4,
    device: str = "auto",
    max_batches: int | None = None,
    progress: bool = True,
    print_table: bool = True,
) -> dict[str, Any]:
    """Evaluate a checkpoint on ``split`` (every object × 24 views) and write the tables.

    Writes ``<out_dir>/results_<split>.{md,csv,json}`` and ``<out_dir>/examples_<split>/``
    (a few predicted meshes with their input images). Returns the table dict plus the
    written paths.
    """
    import itertools

    from .evaluation import build_table, evaluate_loader, mean_shapes, table_markdown, write_table

    if split not in ("train", "val", "test"):
        raise ConfigError(f"split must be train, val or test, got {split!r}")
    dev = _resolve_device(device)
    module, ckpt = load_net(ckpt_path)
    data_cfg = dict(_container(data_cfg))
    data_cfg["val_objects_per_category"] = None  # evaluation uses every object of the split
    dm = build_datamodule(data_cfg)
    if hasattr(dm, "eval_batch_size"):
        dm.eval_batch_size = batch_size
    try:
        loader = dm.eval_dataloader(split)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"split {split!r} not available: {exc}") from exc
    cats = category_table()
    total = len(loader) if hasattr(loader, "__len__") else None
    if max_batches is not None:
        loader = itertools.islice(loader, int(max_batches))
        total = min(total, int(max_batches)) if total is not None else int(max_batches)
    mean_vox = None
    if baselines:
        mean_vox = mean_shapes(training_voxels(data_cfg), len(cats))
    template = module.net.decoder.rest_shape().detach() if baselines else None
    accs = evaluate_loader(
        module.net, loader, len(cats), resolution=module.voxel_resolution,
        template_vertices=template, mean_shape_voxels=mean_vox, device=dev,
        examples_dir=Path(out_dir) / f"examples_{split}", num_examples=num_examples,
        progress=progress, total=total,
    )  # fmt: skip
    table = build_table(accs, cats)
    meta = {
        "checkpoint": str(Path(ckpt_path).resolve()),
        "global_step": int(ckpt.get("global_step", -1)),
        "split": split,
        "data_root": str(_container(data_cfg).get("root")),
        "template_radius": float(module.net.decoder.rest_shape().norm(dim=1).mean()),
    }
    title = f"3D IoU on {split} ({meta['global_step']} steps) — paper columns: ShapeNet val"
    paths = write_table(table, out_dir, stem=f"results_{split}", title=title, extra=meta)
    if print_table:
        print(table_markdown(table, title), flush=True)
        for k, p in paths.items():
            print(f"wrote {k}: {p}", flush=True)
    ours = table["mean"].get("ours")
    return {**table, "meta": meta, "paths": {k: str(p) for k, p in paths.items()},
            "mean_iou": ours if ours is not None else math.nan}  # fmt: skip


def training_voxels(data_cfg: Any, chunk: int = 256):
    """Iterate ``{"voxels" (B, R, R, R) bool, "class_id" (B,)}`` over the training split's
    objects (once each), read straight from ``<root>/train.h5``; ``class_id`` indexes
    ``softrec.data.CATEGORIES``."""
    from ..data.categories import resolve_categories
    from ..data.h5format import VOXELS, open_split, split_path

    d = _container(data_cfg)
    path = split_path(d["root"], "train")
    cats = d.get("categories")
    wanted = resolve_categories(cats) if cats is not None else None
    try:
        f, synsets = open_split(path, wanted)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"mean-shape baseline needs the training split: {exc}") from exc
    order = [s for s, _, _ in category_table()]
    with f:
        for synset in synsets:
            ds = f[synset][VOXELS]
            for start in range(0, ds.shape[0], chunk):
                vox = torch.from_numpy(ds[start : start + chunk]).bool()
                cls = torch.full((vox.shape[0],), order.index(synset), dtype=torch.long)
                yield {"voxels": vox, "class_id": cls}

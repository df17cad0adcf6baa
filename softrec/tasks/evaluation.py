"""The evaluation task: a checkpoint's per-category 3D IoU table beside the paper's."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..data.categories import CATEGORIES
from ..data.conventions import SPLITS, VOXEL_RESOLUTION
from .common import build, build_datamodule, load_module, plain, resolve_device
from .errors import ConfigError


def evaluate_from_config(
    ckpt_path: str | os.PathLike | None,
    data_cfg: Any,
    eval_cfg: Mapping[str, Any],
    out_dir: str,
    template: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """:func:`evaluate` with the options of the ``eval`` config group (both entry points)."""
    ev = plain(eval_cfg)
    baselines = ev.get("baselines") or {}
    return evaluate(
        ckpt_path=ckpt_path,
        data_cfg=data_cfg,
        split=str(ev["split"]),
        out_dir=out_dir,
        batch_size=int(ev["batch_size"]),
        template_baseline=bool(baselines.get("template", False)),
        mean_shape_baseline=bool(baselines.get("mean_shape", False)),
        template=template,
        num_examples=int(ev["num_examples"]),
        device=str(ev["device"]),
        max_batches=ev.get("max_batches"),
        grid_views=int(ev.get("grid_views", 4)),
    )


def template_of_model_config(model_cfg: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(vertices (V, 3), faces (F, 3))`` of the undeformed template of a ``model`` config
    (what a model built from it starts from), without building the rest of the model."""
    # in_dim only sizes the decoder's first layer, which the template does not depend on
    node = {**plain(model_cfg)["net"]["decoder"], "_partial_": False, "in_dim": 1}
    decoder = build(node, "model.net.decoder")
    return decoder.rest_shape().detach(), decoder.faces


def evaluate(
    ckpt_path: str | os.PathLike | None,
    data_cfg: Any,
    split: str = "val",
    out_dir: str | os.PathLike = ".",
    batch_size: int = 64,
    template_baseline: bool = True,
    mean_shape_baseline: bool = True,
    template: tuple[torch.Tensor, torch.Tensor] | None = None,
    num_examples: int = 4,
    device: str = "auto",
    max_batches: int | None = None,
    progress: bool = True,
    print_table: bool = True,
    grid_views: int = 4,
) -> dict[str, Any]:
    """Evaluate a checkpoint on ``split`` (every object × 24 views) and write the tables.

    Rows: the checkpoint's predictions (``ours``) and the baselines asked for, each on its
    own: the undeformed template (the checkpoint's, else ``template`` = ``(vertices,
    faces)``) and the per-category mean training shape (needs the training split; skipped
    with a note when it is missing). Without a checkpoint only the baselines are computed.

    Writes ``<out_dir>/results_<split>.{md,csv,json}`` and ``<out_dir>/examples_<split>/``
    (a few predicted meshes as .obj, .ply and .glb with their input images, and
    ``grid.png``: the examples in ``grid_views`` views). Models with colors also get the
    color metric (``docs/conventions.md`` §7) and its mean-color baseline as columns.
    Returns the table dict plus the written paths and ``mean_iou`` (the checkpoint's mean,
    NaN without one).
    """
    import itertools

    from ..metrics import MeshColorError
    from .iou_table import (
        GRID_FILE,
        build_table,
        evaluate_loader,
        mean_shapes,
        table_markdown,
        write_table,
    )

    if split not in SPLITS:
        raise ConfigError(f"split must be train, val or test, got {split!r}")
    if ckpt_path is None and not (template_baseline or mean_shape_baseline):
        raise ConfigError("nothing to evaluate: give ckpt_path=<file.ckpt> or enable a baseline")
    dev = resolve_device(device)
    module, ckpt = load_module(ckpt_path) if ckpt_path is not None else (None, {})
    if module is not None:
        template = (module.net.decoder.rest_shape().detach(), module.net.faces)
    if template_baseline and template is None:
        raise ConfigError("the template baseline needs a checkpoint or a template model")
    data_cfg = dict(plain(data_cfg))
    data_cfg["val_objects_per_category"] = None  # evaluation uses every object of the split
    dm = build_datamodule(data_cfg)
    if hasattr(dm, "eval_batch_size"):
        dm.eval_batch_size = batch_size
    # the color metric and the examples' grid compare predictions with every view
    dm.eval_all_views = module is not None
    color_metric = None
    if module is not None and module.net.color is not None:
        known = getattr(module, "val_color_metric", None)  # the settings validation used
        settings = known.settings() if known is not None else {}
        color_metric = MeshColorError(**settings, num_classes=len(CATEGORIES), distributed=False)
    try:
        loader = dm.eval_dataloader(split)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"split {split!r} not available: {exc}") from exc
    cats = list(CATEGORIES)
    total = len(loader) if hasattr(loader, "__len__") else None
    if max_batches is not None:
        loader = itertools.islice(loader, int(max_batches))
        total = min(total, int(max_batches)) if total is not None else int(max_batches)
    notes = []
    mean_vox = None
    if mean_shape_baseline:
        try:
            mean_vox = mean_shapes(training_voxels(data_cfg), len(cats))
        except ConfigError as exc:
            notes.append(str(exc))
    if module is not None:  # render with the σ the weights were trained at (the schedule's)
        module.renderer.sigma = float(ckpt.get("softrec_sigma", module.renderer.sigma))
    examples_dir = Path(out_dir) / f"examples_{split}"
    accs = evaluate_loader(
        module.net if module is not None else None, loader, len(cats),
        resolution=module.val_metric.resolution if module is not None else VOXEL_RESOLUTION,
        template=template if template_baseline else None, mean_shape_voxels=mean_vox,
        device=dev, examples_dir=examples_dir, num_examples=num_examples,
        progress=progress, total=total, grid_views=grid_views,
        renderer=module.renderer if module is not None else None, color_metric=color_metric,
    )  # fmt: skip
    table = build_table(accs, cats)
    meta = {
        "checkpoint": str(Path(ckpt_path).resolve()) if ckpt_path is not None else None,
        "global_step": int(ckpt.get("global_step", -1)),
        "split": split,
        "data_root": str(data_cfg.get("root")),
        "template_radius": float(template[0].norm(dim=1).mean()) if template else None,
        "notes": notes,
    }
    what = f"{meta['global_step']} steps" if module is not None else "baselines only"
    title = f"3D IoU on {split} ({what}) — paper columns: ShapeNet val"
    paths = write_table(table, out_dir, stem=f"results_{split}", title=title, extra=meta)
    if (examples_dir / GRID_FILE).is_file():
        paths["grid"] = examples_dir / GRID_FILE
    if print_table:
        print(f"evaluated split={split} of {meta['data_root']}", flush=True)
        for note in notes:
            print(f"note: {note}", flush=True)
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

    d = plain(data_cfg)
    path = split_path(d["root"], "train")
    cats = d.get("categories")
    wanted = resolve_categories(cats) if cats is not None else None
    try:
        f, synsets = open_split(path, wanted)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"mean-shape baseline needs the training split: {exc}") from exc
    order = [s for s, _, _ in CATEGORIES]
    with f:
        for synset in synsets:
            ds = f[synset][VOXELS]
            for start in range(0, ds.shape[0], chunk):
                vox = torch.from_numpy(ds[start : start + chunk]).bool()
                cls = torch.full((vox.shape[0],), order.index(synset), dtype=torch.long)
                yield {"voxels": vox, "class_id": cls}

"""The evaluation loop (every object × view of a split), the two no-training baselines
and the per-category table in the paper's layout, with the color metric's columns for
models with colors. IoU and color values come from :mod:`softrec.metrics`, the same
implementation validation uses."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..data import images_to_float, voxel_iou, voxelize
from ..files import atomic_write_text, save_png
from ..image_encoding import stored_to_straight
from ..mesh import MESH_FORMATS, face_to_vertex_colors, save_mesh
from ..metrics import COLOR_GROUPS, CategoryIoU, MeshColorError, render_object_views
from ..models.paper_results import PAPER_COLUMNS, PAPER_IOU
from ..visuals import prediction_grid

#: Color columns of the table: metric key (:meth:`MeshColorError.compute`) → column.
COLOR_COLUMNS = {
    f"{method}/{q}_{g}": f"{label} {q.upper() if q == 'l1' else 'PSNR'} ({where})"
    for g, where in zip(COLOR_GROUPS, ("input view", "other views"), strict=True)
    for q in ("l1", "psnr")
    for method, label in (("ours", "color"), ("mean_color", "mean color"))
}
#: File name of the image grid written into the examples folder.
GRID_FILE = "grid.png"


def mean_shapes(
    batches: Iterable[Mapping[str, torch.Tensor]], num_classes: int, threshold: float = 0.5
) -> torch.Tensor:
    """Per-category mean training shape: mean occupancy ≥ ``threshold``.

    Args:
        batches: dicts with ``voxels`` (B, R, R, R) bool and ``class_id`` (B,).
    Returns:
        (C, R, R, R) bool; categories without objects are all False.
    """
    total: torch.Tensor | None = None
    count = torch.zeros(num_classes, dtype=torch.float64)
    for batch in batches:
        vox = batch["voxels"].cpu()
        cls = batch["class_id"].cpu().long()
        if total is None:
            total = torch.zeros((num_classes, *vox.shape[1:]), dtype=torch.float64)
        total.index_add_(0, cls, vox.double())
        count.index_add_(0, cls, torch.ones(cls.shape[0], dtype=torch.float64))
    if total is None:
        raise ValueError("mean_shapes: no training voxels to average")
    mean = total / count.clamp(min=1).view(-1, *([1] * (total.dim() - 1)))
    return mean >= threshold


@torch.no_grad()
def evaluate_loader(
    net: torch.nn.Module | None,
    loader: Iterable[Mapping[str, torch.Tensor]],
    num_classes: int,
    resolution: int = 32,
    template: tuple[torch.Tensor, torch.Tensor] | None = None,
    mean_shape_voxels: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    examples_dir: str | os.PathLike | None = None,
    num_examples: int = 4,
    progress: bool = True,
    total: int | None = None,
    renderer: torch.nn.Module | None = None,
    color_metric: MeshColorError | None = None,
    grid_views: int = 4,
) -> dict[str, Any]:
    """Voxel IoU of every prediction of ``loader`` (every object × view), per category,
    and for models with colors the color metric.

    Args:
        net: ``images → (vertices, colors)`` with ``faces`` (a ReconstructionNet), or
            ``None`` to evaluate the baselines alone.
        loader: dicts ``images`` (B, 4, S, S), ``voxels`` (B, R, R, R), ``class_id`` (B,),
            optionally ``object_id``, ``view`` and every view of the object
            (``images_all`` (B, K, 4, S, S), ``eyes_all`` (B, K, 3)).
        template: ``(vertices (V, 3), faces (F, 3))`` undeformed template → "template"
            baseline.
        mean_shape_voxels: (C, R, R, R) bool → "mean shape" baseline.
        examples_dir: where to save ``num_examples`` predicted meshes (.obj, .ply, .glb)
            with their input images (.png), one per category, taken from the first views
            seen, and their image grid (``grid.png``: input | per view: dataset image |
            silhouette | colors, in ``grid_views`` views evenly spaced from the input's;
            needs ``renderer`` and the batches' ``images_all``).
        renderer: renders the predictions for the color metric and the grid.
        color_metric: updated with every prediction when the net predicts colors and the
            batches hold ``images_all``.
    Returns:
        ``{"ours": acc?, "template": acc?, "mean_shape": acc?, "color": metric?}``.
    """
    from tqdm.auto import tqdm

    accs = {}
    if net is not None:
        net = net.to(device).eval()
        faces = net.faces
        accs["ours"] = CategoryIoU(num_classes, distributed=False)
    template_vox = None
    if template is not None:
        accs["template"] = CategoryIoU(num_classes, distributed=False)
        t_vertices, t_faces = (t.to(device) for t in template)
        template_vox = voxelize(t_vertices[None], t_faces, resolution)[0].cpu()
    if mean_shape_voxels is not None:
        accs["mean_shape"] = CategoryIoU(num_classes, distributed=False)
    if not accs:
        raise ValueError("evaluate_loader: no network and no baseline to evaluate")
    shown = next(iter(accs.values()))
    saved: set[int] = set()
    grid_rows: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    with_color = predicts_colors = False
    it = tqdm(loader, desc="evaluate", total=total, disable=not progress, dynamic_ncols=True)
    for batch in it:
        batch = images_to_float({k: v.to(device) for k, v in batch.items()})
        images = batch["images"]
        gt = batch["voxels"].cpu()
        cls = batch["class_id"].cpu().long()
        if template_vox is not None:
            accs["template"].update(voxel_iou(template_vox.expand_as(gt), gt), cls)
        if mean_shape_voxels is not None:
            accs["mean_shape"].update(voxel_iou(mean_shape_voxels[cls], gt), cls)
        if net is None:
            it.set_postfix(iou=f"{float(shown.sums.sum() / shown.counts.sum()):.3f}")
            continue
        vertices, colors = net(images)
        predicts_colors = predicts_colors or colors is not None
        all_views = "images_all" in batch and renderer is not None
        if color_metric is not None and colors is not None and all_views:
            color_metric.update(renderer, vertices, faces, colors, batch["images_all"],
                                batch["eyes_all"], batch["view"], cls)  # fmt: skip
            with_color = True
        pred = voxelize(vertices, faces, resolution).cpu()
        accs["ours"].update(voxel_iou(pred, gt), cls)
        if examples_dir is not None and len(saved) < num_examples:
            for i in range(images.shape[0]):
                c = int(cls[i])
                if c in saved or len(saved) >= num_examples:
                    continue
                saved.add(c)
                obj = int(batch["object_id"][i]) if "object_id" in batch else i
                view = int(batch["view"][i]) if "view" in batch else 0
                stem = Path(examples_dir) / f"class{c:02d}_obj{obj}_view{view}"
                vc = None
                if colors is not None:
                    vc = face_to_vertex_colors(colors[i], faces, vertices.shape[1])
                for suffix in MESH_FORMATS:
                    save_mesh(f"{stem}{suffix}", vertices[i], faces, vertex_colors=vc)
                img = images[i : i + 1]
                rgba = torch.cat([stored_to_straight(img)[0], img[0, 3:4]], 0)
                save_png(f"{stem}_input.png", rgba)
                if all_views:
                    grid_rows.append(_grid_row(renderer, batch, i, vertices[i], faces,
                                               None if colors is None else colors[i],
                                               grid_views))  # fmt: skip
        it.set_postfix(iou=f"{float(shown.sums.sum() / shown.counts.sum()):.3f}")
    if examples_dir is not None and grid_rows:
        inputs, targets, renders = (torch.stack(t) for t in zip(*grid_rows, strict=True))
        grid = prediction_grid(inputs, targets, renders, colors=predicts_colors)
        save_png(Path(examples_dir) / GRID_FILE, grid)
    out: dict[str, Any] = dict(accs)
    if with_color:
        out["color"] = color_metric
    return out


def _grid_row(
    renderer: torch.nn.Module,
    batch: Mapping[str, torch.Tensor],
    i: int,
    vertices: torch.Tensor,
    faces: torch.Tensor,
    colors: torch.Tensor | None,
    num_views: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Item ``i``'s input, dataset images and renders in ``num_views`` views evenly spaced
    from its input view (the first shown)."""
    k = batch["images_all"].shape[1]
    start = int(batch["view"][i]) if "view" in batch else 0
    views = [(start + j * k // num_views) % k for j in range(min(num_views, k))]
    targets = batch["images_all"][i, views]
    eyes = batch["eyes_all"][i, views][None]
    renders = render_object_views(renderer, vertices[None], faces,
                                  None if colors is None else colors[None], eyes,
                                  targets.shape[-1])[0]  # fmt: skip
    return batch["images"][i], targets, renders


def build_table(
    results: Mapping[str, Any],
    categories: Sequence[tuple[str, str, str]],
) -> dict[str, Any]:
    """Assemble the per-category table.

    Args:
        results: method → accumulator (``ours``, ``template``, ``mean_shape``: IoU;
            ``color``: the :class:`MeshColorError` of a model with colors).
        categories: ``(synset, name, paper_name)`` indexed by class id, in paper order.
    Returns:
        ``{"columns": [...], "color_columns": [...], "rows": [{"synset", "category",
        <column>: value|None}], "mean": {...}, "num_categories": n}``. ``columns`` are the
        IoU columns, ``color_columns`` (empty without colors) the color metric's. Means are
        unweighted over the categories present in the evaluated split (paper columns
        averaged over the same rows).
    """
    ours_cols = {"ours": "ours", "template": "template sphere", "mean_shape": "mean shape"}
    methods = [m for m in ours_cols if m in results]
    columns = [ours_cols[m] for m in methods] + [f"paper {c}" for c in PAPER_COLUMNS]
    per = {m: results[m].per_class() for m in methods}
    color = results["color"].per_class() if "color" in results else {}
    color_columns = [COLOR_COLUMNS[k] for k in COLOR_COLUMNS if k in color]
    present = sorted(set().union(*(per[m] for m in methods)))
    rows = []
    for k, (synset, name, paper_name) in enumerate(categories):
        if k not in present:
            continue
        row: dict[str, Any] = {"synset": synset, "category": f"{name} ({paper_name})"
                               if paper_name != name else name}  # fmt: skip
        for m in methods:
            row[ours_cols[m]] = per[m].get(k)
        paper = PAPER_IOU.get(synset)
        for j, c in enumerate(PAPER_COLUMNS):
            row[f"paper {c}"] = paper[j] if paper else None
        for key in color:
            row[COLOR_COLUMNS[key]] = color[key].get(k)
        row["n_predictions"] = int(results[methods[0]].counts[k])
        rows.append(row)
    mean: dict[str, Any] = {}
    for c in columns + color_columns:
        vals = [r[c] for r in rows if r[c] is not None]
        mean[c] = sum(vals) / len(vals) if vals else None
    return {"columns": columns, "color_columns": color_columns, "rows": rows, "mean": mean,
            "num_categories": len(rows)}  # fmt: skip


def _fmt(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def table_markdown(table: Mapping[str, Any], title: str | None = None) -> str:
    """The table as GitHub Markdown (category rows in paper order, then the mean); the
    color columns, if any, as a second table with the same rows."""
    lines = [f"### {title}", ""] if title else []
    lines += _markdown_rows(table, table["columns"])
    if table.get("color_columns"):
        lines += ["", "Color of the predicted meshes re-rendered in every view (L1 ↓, PSNR dB ↑; "
                  "docs/conventions.md §7):", ""]  # fmt: skip
        lines += _markdown_rows(table, table["color_columns"])
    return "\n".join(lines) + "\n"


def _markdown_rows(table: Mapping[str, Any], cols: Sequence[str]) -> list[str]:
    lines = ["| category | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for r in table["rows"]:
        lines.append(f"| {r['category']} | " + " | ".join(_fmt(r[c]) for c in cols) + " |")
    lines.append("| **mean** | " + " | ".join(_fmt(table["mean"][c]) for c in cols) + " |")
    return lines


def table_csv(table: Mapping[str, Any]) -> str:
    """The table as CSV (``synset, category, <columns>, <color columns>, n_predictions``;
    last row = mean)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = list(table["columns"]) + list(table.get("color_columns", []))
    w.writerow(["synset", "category", *cols, "n_predictions"])
    for r in table["rows"]:
        w.writerow([r["synset"], r["category"], *[_fmt(r[c]) for c in cols], r["n_predictions"]])
    w.writerow(["", "mean", *[_fmt(table["mean"][c]) for c in cols], ""])
    return buf.getvalue()


def write_table(
    table: Mapping[str, Any], out_dir: str | os.PathLike, stem: str = "results",
    title: str | None = None, extra: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.csv`` and ``<stem>.json`` atomically; return paths."""
    out = Path(out_dir)
    payload = dict(table)
    if extra:
        payload["meta"] = dict(extra)
    return {
        "md": atomic_write_text(out / f"{stem}.md", table_markdown(table, title)),
        "csv": atomic_write_text(out / f"{stem}.csv", table_csv(table)),
        "json": atomic_write_text(out / f"{stem}.json", json.dumps(payload, indent=2) + "\n"),
    }

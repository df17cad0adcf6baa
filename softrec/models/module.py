"""``SoftRasModule``: the multi-view training step, schedules, validation and logging."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from ..image_encoding import stored_over_white
from ..losses import FlattenLoss, LaplacianLoss, color_l1_loss, multiview_iou_loss
from ..mesh import face_to_vertex_colors
from ..visuals import image_grid, prediction_grid
from .net import ReconstructionNet

LOSS_TERMS = ("iou", "laplacian", "flatten", "color")
#: ``net_precision`` → autocast dtype of the network (``None``: float32, no autocast).
#: (bf16 only: float16 would need loss scaling.)
NET_PRECISIONS = {"32": None, "bf16": torch.bfloat16}
#: TensorBoard tag of the training image grid; it names the columns. Each row is one
#: sample: its view-a input, the target mask, then the predicted silhouettes of mesh A
#: (from this input) and mesh B (from the sample's other view) rendered in views a and b.
IMAGE_GRID_TAG = "train/input | target mask | A in view a | B in view a | A in view b | B in view b"
#: TensorBoard tag of the color grid of models with colors: mesh A (predicted from the
#: view-a input) in both views, beside the dataset images of those views.
COLOR_GRID_TAG = (
    "train/colors: input | view a: target | silhouette | colors | view b: target | silhouette"
    " | colors"
)


def step_factor(step: int, milestones: Sequence[int], gamma: float) -> float:
    """``gamma ** (number of milestones ≤ step)``: the multiplicative step schedule."""
    return float(gamma) ** bisect.bisect_right(sorted(int(m) for m in milestones), int(step))


def _plain(value: Any) -> Any:
    """OmegaConf containers → plain dicts/lists (anything else unchanged)."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


class StepSchedule:
    """Picklable ``step → gamma ** (milestones passed)`` (for ``LambdaLR``)."""

    def __init__(self, milestones: Sequence[int], gamma: float) -> None:
        self.milestones, self.gamma = [int(m) for m in milestones], float(gamma)

    def __call__(self, step: int) -> float:
        return step_factor(step, self.milestones, self.gamma)


class SoftRasModule(pl.LightningModule):
    """Single-view mesh reconstruction trained with soft silhouettes (and colors).

    Args:
        net: the :class:`ReconstructionNet`.
        renderer: a :class:`softrec.SoftRenderer` (its ``sigma`` is the initial σ).
        optimizer: factory ``params → torch.optim.Optimizer`` (Hydra ``_partial_``).
        loss_weights: weights of ``iou``, ``laplacian``, ``flatten`` and ``color``.
        schedule: ``milestones`` (global steps), ``lr_gamma`` and ``sigma_gamma``: at every
            milestone the learning rate and σ are multiplied by their gamma. Both are pure
            functions of the global step, so a resumed run continues them exactly.
        val_metric: the validation metric, a ``torchmetrics`` metric updated with
            ``(vertices, faces, voxels, class_id)`` whose ``compute()`` gives the mean per
            class and ``class_names`` names them (:class:`softrec.metrics.MeshVoxelIoU`);
            ``None`` logs no validation metric.
        val_color_metric: the color metric of models with colors
            (:class:`softrec.metrics.MeshColorError`), updated when validation batches
            carry every view of their objects (``images_all``, ``eyes_all``); ``None``:
            none.
        log_images_every_n_steps: image grid + mesh to TensorBoard (0 disables).
        num_logged_samples: rows of the image grid.
        net_precision: ``32`` (float32) or ``bf16``: autocast of the encoder and decoder;
            the renderer and the losses always run in float32.
        compile_net: ``torch.compile`` the network (the renderer runs eagerly; its kernels
            are ``torch.library`` ops, so a compiled caller keeps them as single nodes).
        compile_backend, compile_mode: ``torch.compile``'s ``backend`` and ``mode`` for
            ``compile_net`` (default: inductor in its default mode).
        finite_check_every_n_steps: raise on a non-finite loss, checked every n steps
            (each check waits for the device; the GPU presets check every 100 steps).
    """

    def __init__(
        self,
        net: ReconstructionNet,
        renderer: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        loss_weights: Mapping[str, float] | None = None,
        schedule: Mapping[str, Any] | None = None,
        val_metric: nn.Module | None = None,
        val_color_metric: nn.Module | None = None,
        log_images_every_n_steps: int = 500,
        num_logged_samples: int = 4,
        net_precision: str | int = "32",
        compile_net: bool = False,
        finite_check_every_n_steps: int = 1,
        compile_backend: str = "inductor",
        compile_mode: str | None = None,
    ) -> None:
        super().__init__()
        # plain containers (not DictConfig) so checkpoints load with weights_only=True
        loss_weights = _plain(loss_weights)
        schedule = _plain(schedule)
        self.save_hyperparameters(ignore=["net", "renderer", "optimizer", "val_metric",
                                          "val_color_metric"])  # fmt: skip
        self.net, self.renderer, self.optimizer_factory = net, renderer, optimizer
        weights = {"iou": 1.0, "laplacian": 0.0, "flatten": 0.0, "color": 0.0}
        unknown = set(loss_weights or {}) - set(LOSS_TERMS)
        if unknown:
            raise ValueError(f"unknown loss term(s) {sorted(unknown)}; known: {LOSS_TERMS}")
        weights.update({k: float(v) for k, v in (loss_weights or {}).items()})
        if weights["color"] > 0 and net.color is None:
            raise ValueError("loss_weights.color > 0 needs a model with a color branch")
        self.loss_weights = weights
        schedule = dict(schedule or {})
        self.milestones = [int(m) for m in schedule.get("milestones", [])]
        self.lr_gamma = float(schedule.get("lr_gamma", 1.0))
        self.sigma_gamma = float(schedule.get("sigma_gamma", 1.0))
        self.sigma0 = float(renderer.sigma)
        self.val_metric = val_metric
        self.val_color_metric = val_color_metric if net.color is not None else None
        self.log_images_every_n_steps = log_images_every_n_steps
        self.num_logged_samples = num_logged_samples
        nv = net.decoder.num_vertices
        self.laplacian_loss = LaplacianLoss(nv, net.faces)
        self.flatten_loss = FlattenLoss(net.faces)
        self.run_config: dict[str, Any] | None = None  # set by train.py; saved in checkpoints
        if str(net_precision) not in NET_PRECISIONS:
            raise ValueError(f"net_precision must be one of {list(NET_PRECISIONS)}, "
                             f"got {net_precision!r}")  # fmt: skip
        self.net_dtype = NET_PRECISIONS[str(net_precision)]
        if int(finite_check_every_n_steps) < 1:
            raise ValueError("finite_check_every_n_steps must be >= 1")
        self.finite_check_every_n_steps = int(finite_check_every_n_steps)
        # compiled forward kept outside the module tree: checkpoints keep the plain keys
        if compile_net:
            mode = {} if compile_mode is None else {"mode": compile_mode}
            net_forward = torch.compile(net, backend=compile_backend, **mode)
        self.__dict__["_net_forward"] = net_forward if compile_net else net

    def run_net(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The network on ``images`` with the configured precision (float32 outputs)."""
        with torch.autocast(self.device.type, dtype=self.net_dtype or torch.float32,
                            enabled=self.net_dtype is not None):  # fmt: skip
            return self.__dict__["_net_forward"](images)

    # ---------------------------------------------------------------- schedules
    def sigma_at(self, step: int) -> float:
        """σ of the renderer at global step ``step``."""
        return self.sigma0 * step_factor(step, self.milestones, self.sigma_gamma)

    def lr_factor(self, step: int) -> float:
        """Learning-rate multiplier at global step ``step``."""
        return step_factor(step, self.milestones, self.lr_gamma)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self.renderer.sigma = self.sigma_at(self.global_step)

    # ---------------------------------------------------------------- forward
    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, 4, S, S) → (B, V, 3) vertices, (B, F, 3) colors or ``None``."""
        return self.net(images)

    def render_views(
        self,
        vertices: torch.Tensor,
        colors: torch.Tensor | None,
        eyes_a: torch.Tensor,
        eyes_b: torch.Tensor,
    ) -> torch.Tensor:
        """Render meshes a and b (each (B, V, 3)) from cameras at ``eyes_a`` and
        ``eyes_b`` (each (B, 3)).

        ``vertices`` is (2B, V, 3) = [mesh_a; mesh_b]; returns (4B, 4, S, S) ordered
        ``[a@view_a, b@view_a, a@view_b, b@view_b]``.
        """
        eyes = torch.cat([eyes_a, eyes_a, eyes_b, eyes_b]).to(vertices)
        verts4 = torch.cat([vertices, vertices])
        tex = None
        if colors is not None:
            tex = torch.cat([colors, colors])[:, :, None, :]  # (4B, F, 1, 3)
        return self.renderer(verts4, self.net.faces, tex, eyes=eyes)

    def compute_losses(
        self, batch: Mapping[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The multi-view step's losses.

        Returns ``({term: value, 'loss': total}, renders (4B, 4, S, S), vertices (2B, V, 3),
        colors (2B, F, 3) | None)``.
        """
        ia, ib = batch["images_a"], batch["images_b"]
        vertices, colors = self.run_net(torch.cat([ia, ib]))
        renders = self.render_views(vertices, colors, batch["eye_a"], batch["eye_b"])
        if renders.shape[-1] != ia.shape[-1]:  # renderer smaller than the data: area-resize
            ia = nn.functional.adaptive_avg_pool2d(ia, renders.shape[-1])
            ib = nn.functional.adaptive_avg_pool2d(ib, renders.shape[-1])
        terms = {"iou": multiview_iou_loss(renders[:, 3], ia[:, 3], ib[:, 3])}
        if self.loss_weights["laplacian"]:
            terms["laplacian"] = self.laplacian_loss(vertices)
        if self.loss_weights["flatten"]:
            terms["flatten"] = self.flatten_loss(vertices)
        if colors is not None and self.loss_weights["color"]:
            terms["color"] = color_l1_loss(renders, torch.cat([ia, ib, ia, ib]))
        total = sum(self.loss_weights[k] * v for k, v in terms.items())
        terms["loss"] = total
        return terms, renders, vertices, colors

    # ---------------------------------------------------------------- training
    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        terms, renders, vertices, colors = self.compute_losses(batch)
        bs = batch["images_a"].shape[0]
        self.log_dict({f"train/{k}": v.detach() for k, v in terms.items()}, batch_size=bs,
                      prog_bar=False)  # fmt: skip
        self.log("train/loss_step", terms["loss"].detach(), prog_bar=True, batch_size=bs)
        self.log("train/sigma", self.renderer.sigma, batch_size=bs)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], batch_size=bs)
        every = self.log_images_every_n_steps
        if every and self.global_step % every == 0 and self.global_rank == 0:
            self._log_visuals(batch, renders.detach(), vertices.detach(),
                              None if colors is None else colors.detach())  # fmt: skip
        if self.global_step % self.finite_check_every_n_steps == 0 and not bool(
            torch.isfinite(terms["loss"])
        ):
            raise FloatingPointError(f"non-finite loss at step {self.global_step}: {terms}")
        return terms["loss"]

    def _tensorboard(self):
        from torch.utils.tensorboard import SummaryWriter

        for lg in self.loggers:
            if isinstance(getattr(lg, "experiment", None), SummaryWriter):
                return lg.experiment
        return None

    @torch.no_grad()
    def _log_visuals(
        self,
        batch: Mapping[str, torch.Tensor],
        renders: torch.Tensor,
        vertices: torch.Tensor,
        colors: torch.Tensor | None,
    ) -> None:
        """Image grid (input | target mask | 4 renders), for models with colors the color
        grid of mesh A in both views, and the first predicted mesh.

        Uses the step's own outputs (no extra forward pass: with SyncBatchNorm under DDP an
        extra rank-0-only forward would deadlock)."""
        tb = self._tensorboard()
        if tb is None:
            return
        ia = batch["images_a"]
        if renders.shape[-1] != ia.shape[-1]:
            ia = nn.functional.adaptive_avg_pool2d(ia, renders.shape[-1])
        b, n = ia.shape[0], min(self.num_logged_samples, ia.shape[0])
        rows = []
        for i in range(n):
            rgb = stored_over_white(ia[i])
            mask = ia[i, 3:4].expand(3, -1, -1)
            rows.append([rgb, mask] + [renders[k * b + i, 3:4].expand(3, -1, -1) for k in range(4)])
        tb.add_image(IMAGE_GRID_TAG, image_grid(rows), self.global_step)
        if colors is not None:
            targets = torch.stack([batch["images_a"][:n], batch["images_b"][:n]], 1)
            mesh_a = torch.stack([renders[:n], renders[2 * b : 2 * b + n]], 1)  # A@a, A@b
            grid = prediction_grid(batch["images_a"][:n], targets, mesh_a, colors=True)
            tb.add_image(COLOR_GRID_TAG, grid, self.global_step)
        vertices = vertices[:1]
        colors = None if colors is None else colors[:1]
        faces = self.net.faces[None].int()
        kwargs = {}
        if colors is not None:
            vc = face_to_vertex_colors(colors[0], self.net.faces, vertices.shape[1])
            kwargs["colors"] = (vc[None] * 255).to(torch.uint8).cpu()
        tb.add_mesh("train/mesh", vertices.cpu(), faces=faces.cpu(), global_step=self.global_step,
                    **kwargs)  # fmt: skip

    # ---------------------------------------------------------------- validation
    def validation_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        color = self.val_color_metric is not None and "images_all" in batch
        if self.val_metric is None and not color:
            return
        vertices, colors = self.run_net(batch["images"])
        if self.val_metric is not None:
            self.val_metric.update(vertices, self.net.faces, batch["voxels"], batch["class_id"])
        if color:
            self.val_color_metric.update(self.renderer, vertices, self.net.faces, colors,
                                         batch["images_all"], batch["eyes_all"], batch["view"],
                                         batch["class_id"])  # fmt: skip

    def on_validation_epoch_end(self) -> None:
        if self.val_color_metric is not None and self.val_color_metric.update_called:
            # category means first, then their unweighted mean, as in the tables
            for key, values in self.val_color_metric.compute().items():
                seen = [float(v) for v in values if not math.isnan(float(v))]
                if seen:
                    self.log(f"val/color/{key}", sum(seen) / len(seen), sync_dist=False)
            self.val_color_metric.reset()
        if self.val_metric is None:
            return
        means = self.val_metric.compute()  # summed over processes first in DDP runs
        self.val_metric.reset()
        seen = [k for k in range(len(means)) if not math.isnan(float(means[k]))]
        names = self.val_metric.class_names
        for k in seen:
            self.log(f"val/iou/{names[k]}", float(means[k]), sync_dist=False, rank_zero_only=False)
        mean = sum(float(means[k]) for k in seen) / len(seen) if seen else math.nan
        self.log("val/iou_mean", mean, prog_bar=True, sync_dist=False)

    # ---------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["softrec_config"] = self.run_config
        checkpoint["softrec_sigma"] = self.sigma_at(self.global_step)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.run_config = checkpoint.get("softrec_config", self.run_config)

    def configure_optimizers(self) -> dict[str, Any]:
        opt = self.optimizer_factory(params=self.parameters())
        sched = torch.optim.lr_scheduler.LambdaLR(opt, StepSchedule(self.milestones, self.lr_gamma))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

"""The training task: build everything from a composed ``train.yaml`` config and fit.

Resuming (``ckpt_path=<run>/checkpoints/last.ckpt``) restores weights, optimizer, step,
learning-rate and σ schedules and the training loader's position, so the resumed run
sees the same batches and computes the same updates as an uninterrupted one. It writes
into the checkpoint's run folder (TensorBoard events from after the checkpoint's step are
superseded there), unless ``resume_in_place=false``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .common import build, build_datamodule, flatten_dict, plain, read_checkpoint
from .errors import ConfigError, TrainingInterrupted
from .evaluation import evaluate_from_config

log = logging.getLogger(__name__)
#: Metrics shown beside the hyper-parameters in TensorBoard's HParams tab.
HPARAM_METRICS = ("val/iou_mean", "eval/iou_mean")


def _instantiate_loggers(cfg: DictConfig, resume_step: int | None) -> list[Any]:
    from hydra.utils import get_class
    from pytorch_lightning.loggers import TensorBoardLogger

    from .loggers import ResumableCSVLogger

    loggers = []
    for key, c in (cfg.get("logger") or {}).items():
        if not c:
            continue
        extra = {}
        if resume_step is not None and issubclass(
            get_class(c._target_), (TensorBoardLogger, ResumableCSVLogger)
        ):
            # records past the checkpoint's step (logged before a kill) are superseded
            extra["purge_step"] = resume_step
        loggers.append(build(c, f"logger.{key}", **extra))
    return loggers


def _log_hparams(loggers: list[Any], config: dict[str, Any]) -> None:
    """The resolved config as hyper-parameters (TensorBoard: HParams tab, with the IoU
    metrics as columns; other loggers: their own format)."""
    from pytorch_lightning.loggers import TensorBoardLogger
    from torch.utils.tensorboard.summary import hparams

    flat = flatten_dict(config)
    for lg in loggers:
        if isinstance(lg, TensorBoardLogger):
            writer = lg.experiment.file_writer
            for summary in hparams(flat, {m: float("nan") for m in HPARAM_METRICS}):
                writer.add_summary(summary)
        else:
            lg.log_hyperparams(flat)


def _resume_command(ckpt: str) -> str:
    """``python train.py <this run's overrides> ckpt_path=<ckpt>``."""
    overrides: list[str] = []
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("ckpt_path=")]
    except (ImportError, ValueError):
        pass  # not run through Hydra
    return " ".join(["python train.py", *overrides, f"ckpt_path={ckpt}"])


def check_optimizer(model: Any) -> None:
    """Build the optimizer once now, so that bad settings fail before training starts."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        model.configure_optimizers()
    except (TypeError, ValueError, IndexError, KeyError, OmegaConfBaseException) as exc:
        # settings the optimizer rejects, e.g. betas=[0.9] where two values are expected
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise ConfigError(f"model.optimizer: {type(exc).__name__}: {reason}") from exc


def check_camera(datamodule: Any, renderer: Any) -> None:
    """The renderer must use the camera the dataset's images were rendered with (the
    data module's ``viewing_angle``); eye positions arrive with each batch."""
    want = getattr(datamodule, "viewing_angle", None)
    have = getattr(renderer, "viewing_angle", None)
    if want is not None and have is not None and abs(float(have) - float(want)) > 1e-6:
        raise ConfigError(
            f"renderer.viewing_angle={have} but the data were rendered with a viewing angle "
            f"of {want} degrees: set renderer.viewing_angle={want}"
        )


def _checkpoint_dir(cfg: DictConfig) -> Path:
    for c in (cfg.get("callbacks") or {}).values():
        if c and str(c.get("_target_", "")).endswith("ModelCheckpoint") and c.get("dirpath"):
            return Path(str(c.dirpath))
    return Path(str(cfg.paths.output_dir)) / "checkpoints"


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train (and optionally evaluate) from a composed ``train.yaml`` config.

    Returns ``{"best_ckpt", "last_ckpt", "global_step", "train_seconds", "eval": {...} |
    None}``. Raises :class:`ConfigError` for unusable settings or inputs and
    :class:`TrainingInterrupted` after SIGINT/SIGTERM (a resumable ``last.ckpt`` saved).
    """
    import pytorch_lightning as pl

    from .callbacks import AtomicCheckpointIO, GracefulInterrupt

    ckpt_path = cfg.get("ckpt_path")
    resume_step = int(read_checkpoint(ckpt_path).get("global_step", 0)) if ckpt_path else None
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    t0 = time.time()
    out_dir = Path(str(cfg.paths.output_dir))
    dm = build_datamodule(cfg.data)
    model = build(cfg.model, "model")
    check_camera(dm, model.renderer)
    # the color metric compares renders with every view of each validation object
    dm.eval_all_views = getattr(model, "val_color_metric", None) is not None
    check_optimizer(model)
    model.run_config = OmegaConf.to_container(cfg, resolve=True)
    callbacks = [build(c, f"callbacks.{k}") for k, c in (cfg.get("callbacks") or {}).items() if c]
    if not cfg.trainer.get("enable_progress_bar", True):
        callbacks = [c for c in callbacks if not isinstance(c, pl.callbacks.ProgressBar)]
    interrupt = GracefulInterrupt(_checkpoint_dir(cfg) / "last.ckpt")
    loggers = _instantiate_loggers(cfg, resume_step)
    trainer = build(
        cfg.trainer, "trainer", callbacks=[*callbacks, interrupt], logger=loggers or False,
        plugins=[AtomicCheckpointIO()],
    )  # fmt: skip
    if trainer.global_rank == 0:
        _log_hparams(loggers, model.run_config)
    if cfg.get("train", True):
        trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    best = last = None
    for cb in callbacks:
        if isinstance(cb, pl.callbacks.ModelCheckpoint):
            if cb.monitor and cb.best_model_path:
                best = cb.best_model_path
            if cb.last_model_path:
                last = cb.last_model_path
    if interrupt.received is not None:
        exc = TrainingInterrupted(interrupt.received, interrupt.saved or last, trainer.global_step)
        log.info("%s; checkpoint saved: %s\nresume with:\n  %s", exc, exc.checkpoint,
                 _resume_command(str(exc.checkpoint)))  # fmt: skip
        raise exc
    result: dict[str, Any] = {
        "best_ckpt": best, "last_ckpt": last, "global_step": int(trainer.global_step),
        "train_seconds": time.time() - t0, "eval": None,
    }  # fmt: skip
    if cfg.get("evaluate", True) and trainer.global_rank == 0:
        ev = plain(cfg.eval)
        ckpt = best if (ev.get("checkpoint", "best") == "best" and best) else last
        if ckpt is None:
            raise ConfigError("evaluate=true needs a checkpoint callback (callbacks=default)")
        result["eval"] = evaluate_from_config(
            ckpt, cfg.data, {**ev, "device": str(model.device)}, str(out_dir)
        )
        for lg in loggers:
            lg.log_metrics({"eval/iou_mean": result["eval"]["mean_iou"]}, trainer.global_step)
            lg.finalize("success")
    if trainer.global_rank == 0:
        lines = [f"run folder: {out_dir}"]
        lines += [f"{k} checkpoint: {p}" for k, p in (("best", best), ("last", last)) if p]
        if result["eval"]:
            lines += [f"results: {p}" for p in result["eval"]["paths"].values()]
        log.info("\n".join(lines))
    return result

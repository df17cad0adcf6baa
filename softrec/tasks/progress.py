"""A progress bar in training steps, the unit step-scheduled runs are measured in."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.callbacks.progress.tqdm_progress import convert_inf


class StepProgressBar(TQDMProgressBar):
    """Shows ``step k / max_steps`` with the ETA of the whole run, across epochs and
    validations (Lightning's default counts batches of an epoch, ``Epoch 23/-2``)."""

    def _step_total(self, trainer: pl.Trainer) -> int | float:
        if trainer.max_steps and trainer.max_steps > 0:
            return trainer.max_steps
        return convert_inf(self.total_train_batches)

    def on_train_epoch_start(self, trainer: pl.Trainer, *_: Any) -> None:
        bar = self.train_progress_bar
        if bar.total != self._step_total(trainer):  # once per run, not per epoch
            bar.reset(total=self._step_total(trainer))
            bar.n = bar.initial = trainer.global_step  # a resumed run starts where it was
            bar.set_description("train steps")
            bar.refresh()

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any, **kwargs: Any
    ) -> None:
        n = trainer.global_step
        bar = self.train_progress_bar
        if bar is not None and self._should_update(n, bar.total):
            bar.n = n
            bar.set_postfix(self.get_metrics(trainer, pl_module))
            bar.refresh()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.train_progress_bar.disable:
            self.train_progress_bar.set_postfix(self.get_metrics(trainer, pl_module))

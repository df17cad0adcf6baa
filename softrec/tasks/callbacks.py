"""Lightning pieces of the training task: atomic checkpoints and graceful interruption."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from ..files import atomic_torch_save, remove_stale_temporaries

#: Signals that stop training gracefully: Ctrl-C, and what schedulers send before a kill.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoint I/O that never leaves a half-written ``.ckpt``: it writes a temporary
    file next to the target, fsyncs it and renames it into place."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO does not take storage_options")
        remove_stale_temporaries(path)  # left by a writer killed mid-write (never complete)
        atomic_torch_save(checkpoint, path)


class GracefulInterrupt(pl.Callback):
    """Stop on SIGINT/SIGTERM at the next step boundary with a resumable checkpoint.

    The first signal is only recorded; when the training step in flight has finished,
    the full training state (weights, optimizer, schedules, loader position) is saved to
    ``checkpoint_path`` (``saved`` holds its path) and the trainer is asked to stop after
    logging that step. The training task then raises :class:`TrainingInterrupted`, which
    the entry point turns into a non-zero exit status and the command that resumes. A
    second SIGINT aborts at once. In data-parallel runs the processes agree on stopping
    at every step (one small collective), so all of them save and stop together.
    """

    def __init__(self, checkpoint_path: str | os.PathLike) -> None:
        self.checkpoint_path = Path(checkpoint_path)
        self.received: int | None = None
        self.saved: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.received = signum

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        stop = self.received is not None
        if trainer.world_size > 1:
            flag = torch.tensor(float(stop), device=trainer.strategy.root_device)
            stop = bool(trainer.strategy.reduce(flag, reduce_op="max") > 0)
        if not stop or self.saved is not None:
            return
        if self.received is None:  # another process of the run was signalled
            self.received = signal.SIGTERM
        trainer.save_checkpoint(self.checkpoint_path)
        self.saved = str(self.checkpoint_path)
        trainer.should_stop = True  # after this step's metrics are logged

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: pl.Trainer, pl_module: Any, exception: BaseException) -> None:
        self._restore()

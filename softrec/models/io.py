"""Atomic file writes (temp file + ``os.replace``) for checkpoints, tables and images."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO


def _atomic(path: str | os.PathLike, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; use the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) so that ``path`` is either the old or the complete new file."""
    return _atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` through a temporary file in the same folder + ``os.replace``."""
    return _atomic(path, lambda fh: torch.save(obj, fh))


def save_png(path: str | os.PathLike, image: torch.Tensor) -> Path:
    """Save a (C, H, W) float image in [0, 1] (C = 1, 3 or 4) as PNG, atomically."""
    from PIL import Image

    arr = (image.detach().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
    arr = arr[0] if arr.shape[0] == 1 else np.transpose(arr, (1, 2, 0))
    return _atomic(path, lambda fh: Image.fromarray(arr).save(fh, format="PNG"))


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O that never leaves a half-written ``.ckpt``: it writes a
    temporary file next to the target, fsyncs it and renames it into place."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO does not take storage_options")
        path = Path(path)
        # temp files orphaned by a killed writer of this same checkpoint (never complete)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        atomic_torch_save(checkpoint, path)

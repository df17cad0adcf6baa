"""Atomic file writes: every output file is either absent, the old version or complete.

Writers get a temporary path next to the target; the target is replaced by it only when
the writer finishes without an exception. The file gets the usual permissions
(``0o666`` less the umask) rather than the temporary file's private ``0o600``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

#: Prefix/suffix of temporary files, so that stale ones can be recognised.
TMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; rename it to ``path`` on success.

    For writers that need a file name (h5py, PIL). On an exception the temporary file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(binary file)`` on a temporary file, fsync it and rename it to ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) so that ``path`` is either the old or the complete new file."""
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def remove_stale_temporaries(path: str | os.PathLike) -> None:
    """Remove temporary files left next to ``path`` by a writer that was killed."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*{TMP_SUFFIX}"):
        stale.unlink(missing_ok=True)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's contents."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` through a temporary file in the same folder + rename."""
    import torch

    return atomic_write(path, lambda fh: torch.save(obj, fh))


def save_png(path: str | os.PathLike, image: Any) -> Path:
    """Save a (C, H, W) float tensor in [0, 1] (C = 1, 3 or 4) as PNG, atomically."""
    import numpy as np
    from PIL import Image

    arr = (image.detach().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
    arr = arr[0] if arr.shape[0] == 1 else np.transpose(arr, (1, 2, 0))
    return atomic_write(path, lambda fh: Image.fromarray(arr).save(fh, format="PNG"))


def save_gif(path: str | os.PathLike, frames: Any, duration_ms: int = 80) -> Path:
    """Save (N, 4, H, W) RGBA frames in [0, 1] as the renderer returns them (colors over a
    black background, i.e. already weighted by coverage) as a looping GIF, atomically.
    GIF has no alpha channel: frames are composited over white."""
    from PIL import Image

    rgb = frames[:, :3] + (1.0 - frames[:, 3:4])
    arr = (rgb.detach().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255).round()
    images = [Image.fromarray(a.astype("uint8")) for a in arr]

    def write(fh: IO[bytes]) -> None:
        images[0].save(fh, format="GIF", save_all=True, append_images=images[1:],
                       duration=duration_ms, loop=0)  # fmt: skip

    return atomic_write(path, write)

"""What the entry points share: Hydra resolvers and turning task errors into exit codes.

Light on purpose (no torch, no Lightning): it is imported before Hydra composes the
configuration, so that logging is set up before Lightning is first imported.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from omegaconf import OmegaConf

from .errors import ConfigError, TrainingInterrupted

T = TypeVar("T")
log = logging.getLogger("softrec")


def run_folder(default: str, ckpt_path: str | None, resume_in_place: bool) -> str:
    """The run folder: the one a resumed checkpoint came from (``<run>/checkpoints/x.ckpt``)
    when resuming in place, else ``default``."""
    if ckpt_path and resume_in_place:
        ckpt = Path(str(ckpt_path)).resolve()
        if ckpt.parent.name == "checkpoints":
            return str(ckpt.parent.parent)
    return default


def config_subfolder(ckpt_path: str | None, resume_in_place: bool) -> str:
    """Where Hydra saves the composed config in the run folder: ``.hydra``, or a
    subfolder of it for a run resumed in place (the original's config is kept)."""
    if run_folder("", ckpt_path, resume_in_place):
        return f".hydra/resumed_{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    return ".hydra"


def register_resolvers() -> None:
    """Resolvers the configs use (``${softrec_run_folder:...}``, ...)."""
    OmegaConf.register_new_resolver("softrec_run_folder", run_folder, replace=True)
    OmegaConf.register_new_resolver("softrec_config_subfolder", config_subfolder, replace=True)


def check_command_line(config_dir: str | os.PathLike, config_name: str) -> None:
    """Check the command line's overrides of ``config_name`` before the entry point imports
    anything heavy (:mod:`softrec.tasks.config_check`); a mistake ends the process with one
    ``error:`` line and status 2."""
    from .config_check import check_overrides

    run_task(lambda: check_overrides(config_dir, config_name, sys.argv[1:]))


def _error_line(exc: BaseException) -> str:
    """One line for a user-facing error. An error raised in a data-loading worker arrives
    with the worker's traceback in its message: its last line is the original message."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].startswith("Caught "):
        last = lines[-1]
        name, sep, message = last.partition(": ")
        return message if sep and " " not in name else last
    return " ".join(lines)


def run_task(task: Callable[[], T]) -> T:
    """Run ``task``; a :class:`ConfigError` or a damaged data file
    (:class:`~softrec.errors.DataFileError`) ends the process with one ``error:`` line
    and status 2, an interruption with ``128 + signal`` (130 for Ctrl-C, 143 for SIGTERM).
    ``HYDRA_FULL_ERROR=1`` shows the traceback instead."""
    from ..errors import DataFileError

    try:
        return task()
    except (ConfigError, DataFileError) as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {_error_line(exc)}", file=sys.stderr, flush=True)
        sys.exit(2)
    except TrainingInterrupted as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        sys.exit(130)

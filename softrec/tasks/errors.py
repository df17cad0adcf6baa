"""The two ways a task ends early that the entry points report without a traceback."""

from __future__ import annotations

import signal


class ConfigError(RuntimeError):
    """A bad override or a missing or unusable input file: reported as one line
    (``error: ...``) with exit status 2."""


class TrainingInterrupted(BaseException):
    """Training stopped on SIGINT/SIGTERM after saving a resumable checkpoint.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that no ``except Exception`` on
    the way up swallows it. The entry point exits with ``128 + signum``.
    """

    def __init__(self, signum: int, checkpoint: str | None, step: int) -> None:
        self.signum, self.checkpoint, self.step = int(signum), checkpoint, int(step)
        name = signal.Signals(self.signum).name
        super().__init__(f"training interrupted by {name} at step {step}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

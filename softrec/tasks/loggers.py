"""Loggers that continue a resumed run's records instead of replacing them."""

from __future__ import annotations

import csv
import io
from typing import Any

from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter

from ..files import atomic_write_text


class _ContinuingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes an existing ``metrics.csv``; this one keeps its rows
    from before ``purge_step`` (those after it were logged by the interrupted run past its
    last checkpoint and are logged again) and appends."""

    def __init__(self, log_dir: str, purge_step: int | None) -> None:
        self._purge_step = purge_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        if not self._fs.isfile(self.metrics_file_path):
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as fh:
            reader = csv.DictReader(fh)
            keys, rows = list(reader.fieldnames or []), list(reader)
        if self._purge_step is not None:
            rows = [r for r in rows if not r.get("step") or int(r["step"]) < self._purge_step]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.metrics_file_path, buf.getvalue())
        self.metrics_keys = keys


class ResumableCSVLogger(CSVLogger):
    """:class:`~pytorch_lightning.loggers.CSVLogger` that, in an existing run folder, keeps
    the metrics logged before ``purge_step`` (the step a resumed run restarts from)."""

    def __init__(self, *args: Any, purge_step: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._purge_step = purge_step

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(self.log_dir, self._purge_step)
        return self._experiment

"""What the entry points do, as functions usable from tests and scripts.

* :mod:`softrec.tasks.cli`: the entry points' error handling and Hydra resolvers (light:
  imported before the configuration is composed).
* :mod:`softrec.tasks.common`: :class:`ConfigError`, building data modules, loading
  checkpoints, choosing devices.
* :mod:`softrec.tasks.training`: :func:`train` (with interruption handling and exact
  resume); :mod:`softrec.tasks.evaluation`: :func:`evaluate` (the 3D IoU table).
* :mod:`softrec.tasks.callbacks`: Lightning callbacks and checkpoint I/O of these tasks.
"""

from .errors import ConfigError, TrainingInterrupted

__all__ = ["ConfigError", "TrainingInterrupted"]

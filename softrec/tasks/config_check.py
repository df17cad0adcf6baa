"""Checking an entry point's command line before anything heavy is imported.

``python train.py <overrides>`` composes the configuration here first (Hydra's compose
API, well under a second) and turns every mistake an override can make into one
:class:`ConfigError` line naming the key and what it expects:

* unparsable overrides, unknown keys, unknown group options (with the available ones);
* a value whose type differs from the default's (``lr=abc`` where a number stands;
  ``max_steps=1.5`` where an integer stands; a string where a group of settings stands);
* a value outside its range (:data:`RANGES`; e.g. ``trainer.max_steps=-5``);
* a checkpoint or data folder that does not exist.

Only the light libraries (Hydra, OmegaConf) are imported, so a bad override costs well under a
second, not the start-up of torch and Lightning. Command lines with Hydra flags (``-m``,
``--cfg``, ``--help``...) are left to Hydra. ``HYDRA_FULL_ERROR=1`` shows tracebacks.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from .errors import ConfigError

_UNSET = object()


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _integer(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _int_at_least(low: int, *also: int) -> tuple[Callable[[Any], bool], str]:
    extra = "".join(f" or {v}" for v in also)
    return (lambda x: _integer(x) and (x >= low or x in also)), f"an integer >= {low}{extra}"


def _positive() -> tuple[Callable[[Any], bool], str]:
    return (lambda x: _number(x) and math.isfinite(x) and x > 0), "a number > 0"


def _non_negative() -> tuple[Callable[[Any], bool], str]:
    return (lambda x: _number(x) and math.isfinite(x) and x >= 0), "a number >= 0"


def _optional(rule: tuple[Callable[[Any], bool], str]) -> tuple[Callable[[Any], bool], str]:
    check, what = rule
    return (lambda x: x is None or check(x)), f"null or {what}"


def _workers() -> tuple[Callable[[Any], bool], str]:
    return (lambda x: x == "auto" or (_integer(x) and x >= 0)), "'auto' or an integer >= 0"


def _one_of(*choices: Any) -> tuple[Callable[[Any], bool], str]:
    return (lambda x: x in choices), "one of " + ", ".join(map(str, choices))


#: Ranges of the settings users change most, checked on the composed configuration
#: (keys absent from a configuration are skipped). Types are checked for every override.
RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": _int_at_least(0),
    "trainer.max_steps": _int_at_least(1, -1),
    "trainer.devices": (
        lambda x: x == "auto" or (_integer(x) and x >= 1) or isinstance(x, ListConfig),
        "'auto', an integer >= 1 or a list of device ids",
    ),
    "trainer.log_every_n_steps": _int_at_least(1),
    "trainer.val_check_interval": _optional(_positive()),
    "data.batch_size": _int_at_least(1),
    "data.eval_batch_size": _int_at_least(1),
    "data.num_workers": _workers(),
    "data.val_objects_per_category": _optional(_int_at_least(1)),
    "model.optimizer.lr": _positive(),
    "model.schedule.lr_gamma": _positive(),
    "model.schedule.sigma_gamma": _positive(),
    "model.loss_weights.iou": _non_negative(),
    "model.loss_weights.laplacian": _non_negative(),
    "model.loss_weights.flatten": _non_negative(),
    "model.loss_weights.color": _non_negative(),
    "renderer.image_size": _int_at_least(1),
    "renderer.sigma": _positive(),
    "renderer.gamma": _positive(),
    "eval.split": _one_of("train", "val", "test"),
    "eval.batch_size": _int_at_least(1),
    "eval.num_examples": _int_at_least(0),
    "eval.max_batches": _optional(_int_at_least(1)),
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean (true/false)"
    if _integer(value):
        return "an integer"
    if _number(value):
        return "a number"
    if isinstance(value, (DictConfig, dict)):
        return "a group of settings"
    if isinstance(value, (ListConfig, list, tuple)):
        return "a list"
    return "a string"


def _compatible(default: Any, value: Any) -> bool:
    """Whether ``value`` may replace ``default`` (strings and nulls accept anything)."""
    if default is None or isinstance(default, str) or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if _integer(default):
        return _integer(value)
    if _number(default):
        return _number(value)
    if isinstance(default, DictConfig):
        return isinstance(value, DictConfig)
    if isinstance(default, ListConfig):
        return isinstance(value, ListConfig)
    return True


def _raw(cfg: DictConfig, key: str) -> Any:
    """The value at dotted ``key`` without resolving it: ``_UNSET`` if absent, the
    interpolation string if it is one, else the (resolved) value."""
    parent_key, _, leaf = key.rpartition(".")
    try:
        parent = OmegaConf.select(cfg, parent_key, default=_UNSET) if parent_key else cfg
        if parent is _UNSET or not isinstance(parent, DictConfig) or leaf not in parent:
            return _UNSET
        if OmegaConf.is_interpolation(parent, leaf):
            return "${interpolation}"
        return parent[leaf]
    except Exception:  # noqa: BLE001 - unresolvable values are checked where they are used
        return _UNSET


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(ln for ln in lines if not ln.startswith("See https://"))


def _compose(config_dir: Path, config_name: str, overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            return compose(config_name, overrides=overrides)
    except MissingConfigException as exc:
        missing = str(getattr(exc, "missing_cfg_file", "") or "")
        group, _, option = missing.rpartition("/")
        options = list(getattr(exc, "options", None) or [])
        if group and options:
            raise ConfigError(
                f"{group}={option}: no such option (choose one of: {', '.join(options)})"
            ) from exc
        raise ConfigError(_one_line(exc)) from exc
    except ConfigCompositionException as exc:
        cause = exc.__cause__
        text = _one_line(exc)
        if text.startswith("Multiple values for "):
            group = text.removeprefix("Multiple values for ").split(".")[0]
            raise ConfigError(
                f"{group}: chosen twice; to change the choice write {group}=<option> "
                "(without '+')"
            ) from exc
        if cause is not None and "not in struct" in str(cause):
            key = getattr(cause, "full_key", None) or text
            raise ConfigError(
                f"{key}: no such setting (check the spelling; '+{key}=...' adds a new one)"
            ) from exc
        raise ConfigError(text) from exc
    except OmegaConfBaseException as exc:
        raise ConfigError(_one_line(exc)) from exc


def check_overrides(
    config_dir: str | os.PathLike, config_name: str, overrides: Sequence[str]
) -> DictConfig | None:
    """Compose ``config_name`` with ``overrides`` and check them (see the module doc).

    Returns the composed configuration (without Hydra's own node), or ``None`` when the
    command line holds Hydra flags or multirun sweeps (left to Hydra). Raises
    :class:`ConfigError` naming the first problem.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    args = list(overrides)
    if any(a.startswith("-") for a in args):
        return None
    try:
        parsed = OverridesParser.create().parse_overrides(args)
    except OverrideParseException as exc:
        raise ConfigError(f"cannot parse the override: {_one_line(exc)}") from exc
    if any(o.is_sweep_override() for o in parsed):
        return None
    config_dir = Path(config_dir)

    def is_group(o: Any) -> bool:
        return (config_dir / o.key_or_group).is_dir()

    def is_hydra(o: Any) -> bool:
        return o.key_or_group.split(".")[0].split("/")[0] == "hydra"

    own = [o for o in parsed if not is_hydra(o)]
    cfg = _compose(config_dir, config_name, [o.input_line for o in own])
    values = [o for o in own if not is_group(o) and not o.is_delete()]
    if values:
        base = _compose(config_dir, config_name, [o.input_line for o in own if is_group(o)])
        for o in values:
            key = o.key_or_group
            default, value = _raw(base, key), _raw(cfg, key)
            if key in RANGES or default is _UNSET or value is _UNSET or "${" in str(value):
                continue  # keys with a range rule are checked by it (it may allow more types)
            if isinstance(default, str) and "${" in default:
                continue
            if not _compatible(default, value):
                hint = "" if isinstance(default, (DictConfig, ListConfig)) else f" like {default!r}"
                raise ConfigError(f"{key}: expected {_kind(default)}{hint}, got {value!r}")
    check_ranges(cfg)
    check_files(cfg)
    return cfg


def check_ranges(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first setting of :data:`RANGES` out of range."""
    for key, (ok, what) in RANGES.items():
        value = _select(cfg, key, _UNSET)
        if value is _UNSET:
            continue
        if not ok(value):
            raise ConfigError(f"{key}: expected {what}, got {value!r}")


def _select(cfg: DictConfig, key: str, default: Any = None) -> Any:
    """The resolved value at dotted ``key``; ``default`` when absent or when it needs
    Hydra's runtime (such values are checked where they are used)."""
    try:
        return OmegaConf.select(cfg, key, default=default)
    except Exception:  # noqa: BLE001 - see the doc
        return default


def check_files(cfg: DictConfig) -> None:
    """A given checkpoint must be a file; a data root without a synthetic generator (the
    release converted to HDF5) must be a folder."""
    ckpt = _select(cfg, "ckpt_path")
    if ckpt and not Path(str(ckpt)).is_file():
        raise ConfigError(f"ckpt_path: checkpoint not found: {ckpt}")
    data = _select(cfg, "data")
    if isinstance(data, DictConfig) and "synthetic" not in data:
        root = _select(cfg, "data.root")
        if root and not Path(str(root)).is_dir():
            raise ConfigError(
                f"data.root: data root not found: {root} (set data.root=<folder with .h5 files>)"
            )

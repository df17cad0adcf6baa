"""Which files in a synthetic-data folder the generator may (re)write, and why.

The generator writes only into a folder that does not exist, is empty, or holds files it
wrote itself. What it wrote is recorded in ``softrec_synthetic.json`` (one entry per split
file: generation parameters, size and SHA-256), so that its own files can be told apart
from anybody else's even when they are damaged. Any other file in the folder stops the
generator with :class:`ForeignDataError`; nothing in the folder is touched then.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py

from ...files import TMP_SUFFIX, atomic_write_text, sha256_file
from ..conventions import SPLITS
from ..h5format import split_path

#: The generator's record of the files it wrote.
MANIFEST_NAME = "softrec_synthetic.json"
#: ``source`` attribute of the files the generator writes.
SOURCE = "softrec synthetic (softrec.data.synthetic)"


class ForeignDataError(ValueError):
    """The folder holds files the synthetic generator did not write."""


@dataclass(frozen=True)
class SplitSpec:
    """What one split file must hold."""

    format_version: int
    generator: int
    seed: int
    objects_per_category: int
    synsets: tuple[str, ...]


def _read_manifest(root: Path) -> dict[str, dict]:
    path = root / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        files = json.loads(path.read_text())["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not a mapping")
        return files
    except (ValueError, KeyError, TypeError) as exc:
        raise ForeignDataError(
            f"{path}: unreadable record of generated files ({exc}); delete the folder "
            f"{root} to regenerate the synthetic set"
        ) from exc


def _legacy_spec(path: Path) -> SplitSpec | None:
    """The spec of a file written by the generator before it kept a manifest, or ``None``
    when ``path`` is not such a file (unreadable, or written by something else)."""
    try:
        with h5py.File(path, "r") as f:
            if str(f.attrs.get("source", "")) != SOURCE:
                return None
            synsets = tuple(k for k in f.keys())
            counts = {int(f[s]["images"].shape[0]) for s in synsets}
            return SplitSpec(
                int(f.attrs.get("format_version", -1)),
                int(f.attrs.get("synthetic_generator", -1)),
                int(f.attrs.get("synthetic_seed", -1)),
                counts.pop() if len(counts) == 1 else -1,
                synsets,
            )
    except (OSError, KeyError, ValueError):
        return None


def _foreign(root: Path, what: str) -> ForeignDataError:
    return ForeignDataError(
        f"{what}: not written by softrec's synthetic generator, which writes only into a new "
        f"or empty folder or one it made; nothing was changed. To train or evaluate on "
        f"converted ShapeNet files use data=shapenet data.root={root}; for synthetic data "
        f"choose another data.root"
    )


def plan(root: str | Path, specs: Mapping[str, SplitSpec]) -> dict[str, str]:
    """The split files of ``specs`` that must be written, each with the reason.

    Raises :class:`ForeignDataError` (and changes nothing) if ``root`` holds any file the
    generator did not write. Missing files are reported as ``"missing"``; the generator's
    own files as ``"damaged: ..."`` or ``"outdated: ..."`` when they must be rewritten.
    """
    root = Path(root)
    if not root.exists():
        return {split: "missing" for split in specs}
    if not root.is_dir():
        raise _foreign(root, f"{root} is a file")
    manifest = _read_manifest(root)
    split_names = {split_path(root, s).name for s in SPLITS}
    for entry in sorted(root.iterdir()):
        own_tmp = entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX)
        if entry.name not in split_names | {MANIFEST_NAME} and not own_tmp:
            raise _foreign(root, f"{entry}")
    todo: dict[str, str] = {}
    adopt: list[str] = []
    for split, spec in specs.items():
        path = split_path(root, split)
        written = manifest.get(path.name)
        if not path.exists():
            todo[split] = "missing"
            continue
        if written is None:  # written before the manifest existed, or by someone else
            found = _legacy_spec(path)
            if found is None:
                raise _foreign(root, f"{path}")
            adopt.append(split)
        else:
            if path.stat().st_size != written.get("bytes") or sha256_file(path) != written.get(
                "sha256"
            ):
                todo[split] = "damaged: its contents changed after it was written"
                continue
            found = SplitSpec(**{**written["spec"], "synsets": tuple(written["spec"]["synsets"])})
        if found != spec:
            diff = [
                f"{k} {getattr(found, k)!r} instead of {getattr(spec, k)!r}"
                for k in ("format_version", "generator", "seed", "objects_per_category", "synsets")
                if getattr(found, k) != getattr(spec, k)
            ]
            todo[split] = "outdated: " + "; ".join(diff)
    for split in adopt:  # complete files of an earlier softrec: checksum them from now on
        if split not in todo:
            record(root, split, specs[split])
    return todo


def record(root: str | Path, split: str, spec: SplitSpec) -> None:
    """Add the just-written file of ``split`` to the manifest (atomically)."""
    root = Path(root)
    path = split_path(root, split)
    files = _read_manifest(root)
    files[path.name] = {
        "spec": {**asdict(spec), "synsets": list(spec.synsets)},
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }
    atomic_write_text(root / MANIFEST_NAME, json.dumps({"files": files}, indent=1) + "\n")

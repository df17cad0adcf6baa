"""Property-based fault tests: damaged dataset and release files.

Random byte overwrites, zeroed blocks and truncations of a split's ``.h5`` file and of the
release's ``.npz`` files. Reading or converting must either succeed (the converter then
reproduces the original arrays exactly) or raise one of the documented errors naming the
file, leaving no partial output; never crash the process or hang. Each case runs in a
forked child process, so that a crash inside a C library fails the test instead of
killing the test session.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import traceback
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softrec.data.h5format import IMAGE_SHAPE, VOXEL_SHAPE
from softrec.data.release import release_paths

CHILD_TIMEOUT_S = 60
#: Deterministic runs of a fixed size (each example forks one child process).
FUZZ = settings(
    max_examples=80, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
METADATA_BYTES = 8192  # superblock, object headers and chunk indexes live near the start


@st.composite
def damage(draw) -> tuple[str, list[tuple[float, bytes]] | float]:
    """A truncation (fraction kept) or a list of (relative offset, bytes) overwrites."""
    kind = draw(st.sampled_from(["truncate", "overwrite", "overwrite_head", "zero_block"]))
    if kind == "truncate":
        return kind, draw(st.floats(0.0, 0.999))
    if kind == "zero_block":
        return kind, [(draw(st.floats(0, 1)), bytes(draw(st.integers(16, 4096))))]
    edits = draw(st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=16)),
                          min_size=1, max_size=8))  # fmt: skip
    return kind, edits


def apply_damage(path: Path, spec) -> None:
    kind, what = spec
    data = bytearray(path.read_bytes())
    if kind == "truncate":
        del data[int(len(data) * what) :]
    else:
        span = min(len(data), METADATA_BYTES) if kind == "overwrite_head" else len(data)
        for rel, payload in what:
            at = min(int(rel * span), len(data) - 1)
            data[at : at + len(payload)] = payload[: len(data) - at]
    path.write_bytes(bytes(data))


def _in_child(fn, *args) -> tuple[str, str]:
    """Run ``fn(*args)`` in a forked process: ``("ok", "")``, ``(error type, message)``,
    ``("crash", exit code)`` or ``("hang", "")``."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def target() -> None:
        try:
            fn(*args)
            child.send(("ok", ""))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            child.send((type(exc).__name__, f"{exc}\n{traceback.format_exc()}"))

    proc = ctx.Process(target=target)
    proc.start()
    proc.join(CHILD_TIMEOUT_S)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return "hang", ""
    if parent.poll():
        return parent.recv()
    return "crash", str(proc.exitcode)


# ------------------------------------------------------------------ split files (.h5)
def read_everything(path: Path) -> None:
    from softrec.data.datasets import TwoViewDataset, ViewVoxelDataset

    views = ViewVoxelDataset(path)
    for start in range(0, len(views), 24):
        views.__getitems__(list(range(start, min(start + 24, len(views)))))
    pairs = TwoViewDataset(path)
    pairs.__getitems__([(i, 0, 23) for i in range(len(pairs))])


@pytest.fixture(scope="module")
def split_file(smoke_data) -> Path:
    return smoke_data / "val.h5"


@FUZZ
@given(spec=damage())
def test_damaged_split_file_fails_clearly(split_file, tmp_path_factory, spec):
    path = tmp_path_factory.mktemp("h5") / "val.h5"
    shutil.copy(split_file, path)
    apply_damage(path, spec)
    outcome, message = _in_child(read_everything, path)
    assert outcome in ("ok", "DataFileError"), f"{outcome}: {message}"
    if outcome == "DataFileError":
        first = message.splitlines()[0]
        assert str(path) in first, first


# ------------------------------------------------------------------ release files (.npz)
SYNSETS = ["02691156", "03001627"]


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, dict]:
    src = tmp_path_factory.mktemp("release")
    rng = np.random.default_rng(0)
    arrays = {}
    for synset in SYNSETS:
        images = rng.integers(0, 256, (2, *IMAGE_SHAPE), dtype=np.uint8)
        voxels = rng.random((2, *VOXEL_SHAPE)) < 0.3
        img_path, vox_path = release_paths(src, synset, "val")
        np.savez_compressed(img_path, images)
        np.savez_compressed(vox_path, voxels)
        arrays[synset] = (images, voxels)
    return src, arrays


def convert_and_compare(src: Path, out: Path, arrays: dict) -> None:
    import h5py

    from softrec.data.release import convert_release

    convert_release(src, out, splits=["val"], progress=False)
    with h5py.File(out / "val.h5", "r") as f:
        for synset, (images, voxels) in arrays.items():
            if not np.array_equal(f[synset]["images"][:], images) or not np.array_equal(
                f[synset]["voxels"][:].astype(bool), voxels
            ):
                raise AssertionError(f"converted {synset} differs from the release")


@FUZZ
@given(spec=damage(), which=st.sampled_from([(s, k) for s in SYNSETS for k in (0, 1)]))
def test_damaged_release_file_fails_clearly(release, tmp_path_factory, spec, which):
    clean, arrays = release
    src = tmp_path_factory.mktemp("src")
    for p in clean.iterdir():
        shutil.copy(p, src / p.name)
    bad = release_paths(src, which[0], "val")[which[1]]
    apply_damage(bad, spec)
    out = tmp_path_factory.mktemp("out")
    outcome, message = _in_child(convert_and_compare, src, out, arrays)
    assert outcome in ("ok", "DataFileError"), f"{outcome}: {message}"
    if outcome == "DataFileError":
        assert bad.name in message.splitlines()[0], message
        assert not (out / "val.h5").exists()
    assert not [p.name for p in out.iterdir() if p.name != "val.h5"]  # no temporaries

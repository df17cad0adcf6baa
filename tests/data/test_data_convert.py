"""Release (npz) → HDF5 conversion: round trip, bad files, interruption, re-runs."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from softrec.data.h5format import IMAGE_SHAPE, IMAGES, VOXEL_SHAPE, VOXELS, open_split
from softrec.data.release import convert_release, release_paths
from tests.conftest import run_py

SYNSETS = ["02691156", "03001627"]  # airplane, chair
SIZES = {"train": 5, "val": 3, "test": 2}


def _write_release(src: Path, sizes=SIZES, synsets=SYNSETS, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    arrays = {}
    for s in synsets:
        for split, n in sizes.items():
            images = rng.integers(0, 256, (n, *IMAGE_SHAPE), dtype=np.uint8)
            voxels = rng.random((n, *VOXEL_SHAPE)) < 0.3
            img_path, vox_path = release_paths(src, s, split)
            np.savez_compressed(img_path, images)
            np.savez_compressed(vox_path, voxels)
            arrays[(s, split)] = (images, voxels)
    return arrays


def test_round_trip_is_bit_exact(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    arrays = _write_release(src)
    # Small chunks so that streaming crosses chunk boundaries.
    convert_release(src, out, categories=["airplane", "chair"], progress=False, objects_per_chunk=2)
    for split in SIZES:
        f, synsets = open_split(out / f"{split}.h5")
        with f:
            assert synsets == SYNSETS
            assert f.attrs["format_version"] == 1 and "voxel_layout" in f.attrs
            for s in SYNSETS:
                images, voxels = arrays[(s, split)]
                assert f[s].attrs["name"] in ("airplane", "chair")
                assert f[s][IMAGES].chunks[0] == 1 and f[s][IMAGES].compression == "gzip"
                np.testing.assert_array_equal(f[s][IMAGES][:], images)
                np.testing.assert_array_equal(f[s][VOXELS][:].astype(bool), voxels)
    assert not list(out.glob(".*.tmp"))


def test_rerun_skips_complete_files(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    _write_release(src)
    convert_release(src, out, categories=SYNSETS, progress=False)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.h5")}
    # Delete the sources: a re-run must not need them for completed splits.
    for p in src.glob("*.npz"):
        p.unlink()
    convert_release(src, out, categories=SYNSETS, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.h5")} == mtimes


def _break(src: Path, kind: str) -> Path:
    img_path, _ = release_paths(src, "03001627", "val")
    if kind == "missing":
        img_path.unlink()
    elif kind == "truncated":
        data = img_path.read_bytes()
        img_path.write_bytes(data[: len(data) // 2])
    elif kind == "wrong_shape":
        np.savez_compressed(img_path, np.zeros((3, 24, 3, 64, 64), np.uint8))
    elif kind == "wrong_dtype":
        np.savez_compressed(img_path, np.zeros((3, *IMAGE_SHAPE), np.float32))
    elif kind == "count_mismatch":
        np.savez_compressed(img_path, np.zeros((4, *IMAGE_SHAPE), np.uint8))
    elif kind == "not_npz":
        img_path.write_bytes(b"this is not a zip file")
    return img_path


@pytest.mark.parametrize(
    ("kind", "error", "message"),
    [
        ("truncated", ValueError, "truncated"),
        ("wrong_shape", ValueError, "expected uint8"),
        ("wrong_dtype", ValueError, "float32"),
        ("count_mismatch", ValueError, "4 objects"),
        ("not_npz", ValueError, "not a readable .npz"),
    ],
)
def test_bad_files_fail_clearly_and_leave_no_file(tmp_path, kind, error, message):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    _write_release(src)
    bad = _break(src, kind)
    with pytest.raises(error, match=message) as info:
        convert_release(src, out, categories=SYNSETS, progress=False)
    assert bad.name in str(info.value)
    assert not (out / "val.h5").exists()
    assert not list(out.glob(".*.tmp"))
    assert (out / "train.h5").exists()  # splits before the bad one are complete


def test_converts_what_the_folder_holds(tmp_path):
    # A common subset: one category, validation split only, plus a half pair.
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    arrays = _write_release(src, sizes={"val": 3}, synsets=["03001627"])
    lone_images, _ = release_paths(src, "02691156", "val")
    np.savez_compressed(lone_images, np.zeros((1, *IMAGE_SHAPE), np.uint8))
    report = convert_release(src, out, progress=False)
    assert report.written == [out / "val.h5"] and report.converted == {"val": ["03001627"]}
    assert {"train: no release files", "test: no release files"} <= set(report.skipped)
    assert any("02691156" in s and "voxels.npz missing" in s for s in report.skipped)
    f, synsets = open_split(out / "val.h5")
    with f:
        assert synsets == ["03001627"]
        np.testing.assert_array_equal(f["03001627"][IMAGES][:], arrays[("03001627", "val")][0])
    assert not (out / "train.h5").exists()


def test_no_release_file_at_all_is_an_error(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "notes.txt").write_text("not the release")
    with pytest.raises(FileNotFoundError, match="no release files"):
        convert_release(src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [["--categories", "chair,airplane"],
                                  ["--categories", "chair", "airplane"]])  # fmt: skip
def test_script_accepts_both_list_forms(tmp_path, argv):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    _write_release(src, sizes={"test": 2})
    res = run_py("scripts/prepare_shapenet.py", str(src), str(out), "--quiet", *argv, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "skipped: train: no release files" in res.stdout
    f, synsets = open_split(out / "test.h5")
    with f:
        assert synsets == ["02691156", "03001627"]  # paper order


def test_script_reports_a_bad_file_in_one_line(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    _write_release(src, sizes={"val": 3})
    bad = _break(src, "not_npz")
    res = run_py("scripts/prepare_shapenet.py", str(src), str(out), "--quiet", cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and bad.name in lines[0]


def test_truncated_data_inside_a_valid_header(tmp_path):
    # Keep the zip directory intact but make the stored array shorter than its header says.
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    _write_release(src)
    img_path, _ = release_paths(src, "03001627", "val")
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (3, *IMAGE_SHAPE)}
    )
    with zipfile.ZipFile(img_path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("arr_0.npy", header.getvalue() + bytes(1000))
    with pytest.raises(ValueError, match="truncated") as info:
        convert_release(src, out, categories=SYNSETS, progress=False)
    assert img_path.name in str(info.value)
    assert not (out / "val.h5").exists()


def test_interrupted_conversion_leaves_no_final_file(tmp_path, monkeypatch):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    _write_release(src)
    import softrec.data.release as release

    calls = {"n": 0}
    original = release.create_category

    def interrupt_on_second_category(f, synset, n):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(f, synset, n)

    monkeypatch.setattr(release, "create_category", interrupt_on_second_category)
    with pytest.raises(KeyboardInterrupt):
        convert_release(src, out, categories=SYNSETS, progress=False)
    assert not (out / "train.h5").exists()
    assert not list(out.glob(".*.tmp"))
    # A partial file left by a killed process is never taken for a complete one.
    (out / ".train.h5.killed.tmp").write_bytes(b"junk")
    monkeypatch.setattr(release, "create_category", original)
    convert_release(src, out, categories=SYNSETS, progress=False)
    with h5py.File(out / "train.h5") as f:
        assert all(f[s][IMAGES].shape[0] == SIZES["train"] for s in SYNSETS)

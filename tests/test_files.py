"""Output files: atomic, with the user's permissions; build caches keyed by content."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import torch

import softrec
from softrec.files import atomic_write_text, save_gif, save_png
from softrec.render import _ext
from tests.conftest import ROOT, entry_env


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_outputs_get_the_umask_permissions_and_no_temp_files(tmp_path, umask_022):
    v, f = softrec.icosphere(1, 0.5)
    softrec.save_obj(tmp_path / "mesh.obj", v, f)
    atomic_write_text(tmp_path / "table.md", "x")
    save_png(tmp_path / "img.png", torch.rand(4, 8, 8))
    save_gif(tmp_path / "turn.gif", torch.rand(3, 4, 8, 8))
    for name in ("mesh.obj", "table.md", "img.png", "turn.gif"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["mesh.obj", "table.md", "img.png", "turn.gif"]
    )


def test_failed_write_leaves_the_old_file(tmp_path):
    from softrec.files import atomic_write

    target = tmp_path / "keep.txt"
    target.write_text("old")

    def broken(fh):
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_extension_builds_are_keyed_by_source_content(tmp_path):
    src = tmp_path / "k.cpp"
    inc = tmp_path / "inc"
    inc.mkdir()
    src.write_text("int f() { return 1; }")
    (inc / "h.h").write_text("#define A 1")
    h1 = _ext.source_hash([src], [inc], "-O3")
    assert _ext.source_hash([src], [inc], "-O3") == h1
    assert _ext.source_hash([src], [inc], "-O2") != h1
    (inc / "h.h").write_text("#define A 2")
    assert _ext.source_hash([src], [inc], "-O3") != h1
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "k.cpp").write_text(src.read_text())
    (moved / "inc").mkdir()
    (moved / "inc" / "h.h").write_text("#define A 2")
    # the same sources anywhere (a checkout, an installed wheel) share one build
    assert _ext.source_hash([moved / "k.cpp"], [moved / "inc"], "-O3") == _ext.source_hash(
        [src], [inc], "-O3"
    )


def test_first_build_says_what_it_compiles(tmp_path):
    probe = "from softrec.render import _ext; assert _ext.load('cpu') is not None"
    env = entry_env(tmp_path, TORCH_EXTENSIONS_DIR=str(tmp_path / "ext"))
    first = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                           text=True, timeout=600)  # fmt: skip
    assert first.returncode == 0, first.stderr[-2000:]
    assert "softrec: compiling the CPU rasterizer (first use, ~40 s)" in first.stderr
    again = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                           text=True, timeout=600)  # fmt: skip
    assert again.returncode == 0 and "compiling" not in again.stderr


def test_render_demo_writes_into_the_out_folder(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "render_demo.py"), "--size", "16",
         "--frames", "2", "--out", str(out)],
        env=entry_env(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["icosphere.gif", "icosphere.png"]

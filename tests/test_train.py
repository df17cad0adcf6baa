"""End-to-end: smoke training + evaluation, SIGKILL + resume, DDP (2 gloo ranks), and
bad overrides failing with one clear line. Tiny template, 16-px renders, a few steps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def run_py(script: str, *overrides: str, cwd: Path, timeout: float = 300, env_extra=None):
    env = dict(os.environ, SOFTREC_ROOT=str(cwd), PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, str(ROOT / script), *overrides],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def smoke_args(run_dir: Path, *extra: str) -> list[str]:
    return ["experiment=smoke", f"hydra.run.dir={run_dir}", *extra]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One smoke training run (4 steps, then evaluation of the test split)."""
    root = tmp_path_factory.mktemp("smoke")
    run_dir = root / "run"
    proc = run_py("train.py", *smoke_args(run_dir), cwd=root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root, run_dir, proc


def test_smoke_train_and_evaluate(smoke_run):
    root, run_dir, proc = smoke_run
    ckpts = run_dir / "checkpoints"
    assert (ckpts / "last.ckpt").is_file() and (ckpts / "best.ckpt").is_file()
    assert not list(ckpts.glob("*.tmp"))
    ck = torch.load(ckpts / "last.ckpt", map_location="cpu", weights_only=False)
    assert ck["global_step"] == 4 and ck["softrec_config"]["task_name"] == "smoke"
    for ext in ("md", "csv", "json"):
        assert (run_dir / f"results_test.{ext}").is_file()
    md = (run_dir / "results_test.md").read_text()
    assert "| **mean** |" in md and "template sphere" in md and "mean shape" in md
    assert "paper SoftRas (sil.)" in md
    assert "| **mean** |" in proc.stdout  # the table is printed
    assert list((run_dir / "examples_test").glob("*.obj"))
    assert list((run_dir / "examples_test").glob("*_input.png"))
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents*"))


def test_evaluate_cli_on_smoke_checkpoint(smoke_run):
    root, run_dir, _ = smoke_run
    out = root / "eval"
    proc = run_py("evaluate.py", f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}",
                  f"data.root={root / 'data' / 'synthetic_smoke'}", "split=val",
                  f"hydra.run.dir={out}", "num_examples=1", cwd=root)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "results_val.json").is_file() and "| **mean** |" in proc.stdout


def test_sigkill_then_resume_continues_schedules(tmp_path, smoke_run):
    data_root = f"data.root={smoke_run[0] / 'data' / 'synthetic_smoke'}"
    run_dir = tmp_path / "run"
    args = smoke_args(run_dir, data_root, "trainer.max_steps=10", "trainer.val_check_interval=100",
                      "callbacks.model_checkpoint_last.every_n_train_steps=1",
                      "model.schedule.milestones=[3]", "evaluate=false")  # fmt: skip
    env = dict(os.environ, SOFTREC_ROOT=str(tmp_path), PYTHONWARNINGS="ignore",
               OMP_NUM_THREADS="1")  # fmt: skip
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=tmp_path,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        if last.is_file():
            try:
                step = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
            except Exception:  # noqa: BLE001 - must never happen: writes are atomic
                pytest.fail("last.ckpt was readable as a file but not as a checkpoint")
            if step >= 4:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed_at = step
                break
        time.sleep(0.05)
    assert killed_at is not None, "training finished or stalled before it could be killed"
    ck = torch.load(last, map_location="cpu", weights_only=False)
    assert 4 <= ck["global_step"] < 10
    res = run_py("train.py", *smoke_args(tmp_path / "resumed", data_root, "trainer.max_steps=10",
                 "trainer.val_check_interval=100", "model.schedule.milestones=[3]",
                 "evaluate=false", f"ckpt_path={last}"), cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    final = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", map_location="cpu",
                       weights_only=False)  # fmt: skip
    assert final["global_step"] == 10
    sigma0 = final["softrec_config"]["renderer"]["sigma"]
    assert final["softrec_sigma"] == pytest.approx(sigma0 * 0.3)
    lr = final["optimizer_states"][0]["param_groups"][0]["lr"]
    assert lr == pytest.approx(final["softrec_config"]["model"]["optimizer"]["lr"] * 0.3)
    # a SIGKILL may orphan a temp file, but every file named *.ckpt is complete
    for f in (run_dir / "checkpoints").glob("*.ckpt"):
        torch.load(f, map_location="cpu", weights_only=True)


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path, smoke_run):
    run_dir = tmp_path / "run"
    data_root = f"data.root={smoke_run[0] / 'data' / 'synthetic_smoke'}"
    proc = run_py("train.py", *smoke_args(run_dir, data_root, "trainer=ddp", "trainer.devices=2",
                  "trainer.accelerator=cpu", "trainer.max_steps=2"), cwd=tmp_path,
                  timeout=400)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ck = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ck["global_step"] == 2
    assert (run_dir / "results_test.json").is_file()


@pytest.mark.parametrize(
    "script,overrides,message",
    [
        ("train.py", ["data=shapenet", "data.root=/nonexistent/shapenet"], "data root not found"),
        ("train.py", ["experiment=smoke", "ckpt_path=/nonexistent/last.ckpt"],
         "checkpoint not found"),
        ("evaluate.py", ["ckpt_path=/nonexistent/model.ckpt"], "checkpoint not found"),
        ("evaluate.py", [], "ckpt_path is required"),
    ],
)
def test_bad_overrides_fail_with_one_line(tmp_path, script, overrides, message):
    proc = run_py(script, *overrides, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: ") and message in lines[-1]
    assert "Traceback" not in proc.stderr

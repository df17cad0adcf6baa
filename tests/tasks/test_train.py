"""End-to-end: smoke training + evaluation, SIGKILL + resume, DDP (2 gloo ranks), and
bad overrides failing with one clear line. Tiny template, 16-px renders, a few steps."""

from __future__ import annotations

import csv
import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
import torch

from tests.conftest import ROOT, entry_env, run_py


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
                  f"data.root={root / 'data' / 'synthetic_smoke'}", "eval.split=val",
                  f"hydra.run.dir={out}", "eval.num_examples=1", cwd=root)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "results_val.json").is_file() and "| **mean** |" in proc.stdout


def test_sigkill_then_resume_continues_schedules(tmp_path, smoke_run):
    data_root = f"data.root={smoke_run[0] / 'data' / 'synthetic_smoke'}"
    run_dir = tmp_path / "run"
    args = smoke_args(run_dir, data_root, "trainer.max_steps=60", "trainer.val_check_interval=100",
                      "callbacks.model_checkpoint_last.every_n_train_steps=1",
                      "model.schedule.milestones=[3]", "evaluate=false")  # fmt: skip
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=tmp_path,
                            env=entry_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
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
        time.sleep(0.02)
    assert killed_at is not None, "training finished or stalled before it could be killed"
    ck = torch.load(last, map_location="cpu", weights_only=False)
    assert 4 <= ck["global_step"] < 60
    res = run_py("train.py", *smoke_args(tmp_path / "resumed", data_root, "trainer.max_steps=60",
                 "trainer.val_check_interval=100", "model.schedule.milestones=[3]",
                 "evaluate=false", f"ckpt_path={last}"), cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    final = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", map_location="cpu",
                       weights_only=False)  # fmt: skip
    assert final["global_step"] == 60
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
        ("evaluate.py", ["eval.baselines.template=false", "eval.baselines.mean_shape=false"],
         "nothing to evaluate"),
        ("train.py", ["experiment=smoke", "renderer.viewing_angle=30"],
         "renderer.viewing_angle=30 but the data were rendered"),
        ("train.py", ["experiment=smoke", "trainer.max_steps=-5"], "trainer.max_steps: "),
        ("train.py", ["experiment=smoke", "model.optimizer.lr=abc"], "model.optimizer.lr: "),
        ("train.py", ["experiment=smoke", "model.optimizer.betas=[0.9]"], "model.optimizer: "),
        ("train.py", ["experiment=smoke", "model.net.decoder.hidden=[-3]"], "model: "),
    ],
)
def test_bad_overrides_fail_with_one_line(tmp_path, script, overrides, message):
    proc = run_py(script, *overrides, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: ") and message in lines[-1]
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------- interruption and resume
def _csv_losses(run_dir: Path) -> dict[int, str]:
    """step → logged ``train/loss_step`` (as written) from the CSV logger's file."""
    out: dict[int, str] = {}
    with open(run_dir / "csv" / "metrics.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("train/loss_step"):
                step = int(row["step"])
                assert step not in out, f"step {step} logged twice"
                out[step] = row["train/loss_step"]
    return out


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def test_sigterm_saves_exits_nonzero_and_resume_equals_straight_run(tmp_path, smoke_data):
    """SIGTERM mid-run: exit 143, last.ckpt at the step reached, the resume command printed;
    resuming (into the same run folder) ends bitwise equal to an uninterrupted run, with
    the same logged losses, each step logged once."""
    steps = 60
    common = [f"data.root={smoke_data}", f"trainer.max_steps={steps}", "evaluate=false",
              "trainer.val_check_interval=25", "logger=many", "model.schedule.milestones=[20]",
              "callbacks.model_checkpoint_last.every_n_train_steps=1"]  # fmt: skip
    straight = tmp_path / "straight"
    proc = run_py("train.py", *smoke_args(straight, *common), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]

    run_dir = tmp_path / "interrupted"
    args = smoke_args(run_dir, *common)
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=tmp_path,
                            env=entry_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not last.is_file():
        time.sleep(0.02)
    assert proc.poll() is None, "training ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    step = _state(last)["global_step"]
    assert 1 <= step < steps
    assert f"interrupted by SIGTERM at step {step}" in out
    assert "resume with:" in out and f"ckpt_path={last}" in out

    # resume as printed, without naming a run folder: it continues in the checkpoint's
    resume = [a for a in args if not a.startswith("hydra.run.dir=")] + [f"ckpt_path={last}"]
    res = run_py("train.py", *resume, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert list((run_dir / ".hydra").glob("resumed_*/config.yaml"))
    a, b = _state(straight / "checkpoints" / "last.ckpt"), _state(last)
    assert a["global_step"] == b["global_step"] == steps
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
    for sa, sb in zip(a["optimizer_states"][0]["state"].values(),
                      b["optimizer_states"][0]["state"].values(), strict=True):  # fmt: skip
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert _csv_losses(run_dir) == _csv_losses(straight)
    assert len(_csv_losses(straight)) == steps


def test_resume_defaults_to_new_folder_when_asked(tmp_path, smoke_run):
    root, run_dir, _ = smoke_run
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    before = sorted(p.name for p in run_dir.iterdir())
    res = run_py("train.py", "experiment=smoke", f"data.root={root / 'data' / 'synthetic_smoke'}",
                 f"ckpt_path={ckpt}", "resume_in_place=false", "trainer.max_steps=5",
                 "evaluate=false", cwd=root)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(p.name for p in run_dir.iterdir()) == before
    runs = list((root / "outputs" / "smoke").iterdir())
    assert len(runs) == 1 and _state(runs[0] / "checkpoints" / "last.ckpt")["global_step"] == 5


def test_run_reports_its_outputs_and_logs_hparams(smoke_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root, run_dir, proc = smoke_run
    for line in (f"run folder: {run_dir}", f"best checkpoint: {run_dir / 'checkpoints'}",
                 f"results: {run_dir / 'results_test.md'}"):  # fmt: skip
        assert line in proc.stdout
    log = (run_dir / "train.log").read_text()
    assert "max_steps=4" in log and f"run folder: {run_dir}" in log
    ea = EventAccumulator(str(run_dir / "tensorboard"))
    ea.Reload()
    hp = ea.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in hp
    start = hp["_hparams_/session_start_info"].decode("latin-1")
    assert "model/optimizer/lr" in start and "data/batch_size" in start
    assert "val/iou_mean" in hp["_hparams_/experiment"].decode("latin-1")
    assert any("target mask" in t for t in ea.Tags()["images"])


# ---------------------------------------------------------------- never touch foreign data
def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _foreign_split_files(folder: Path) -> None:
    """A folder of converted-release files (a foreign ``source``; one object each)."""
    from softrec.data.h5format import atomic_h5, create_category, split_path
    from softrec.data.release import SOURCE

    for split in ("train", "val", "test"):
        with atomic_h5(split_path(folder, split), SOURCE) as f:
            create_category(f, "02691156", 1)


@pytest.mark.parametrize("damage", ["intact", "truncated"])
def test_foreign_data_is_never_overwritten(tmp_path, smoke_run, damage):
    folder = tmp_path / "shapenet_h5"
    _foreign_split_files(folder)
    if damage == "truncated":
        data = (folder / "train.h5").read_bytes()
        (folder / "train.h5").write_bytes(data[: len(data) // 2])
    before = {p.name: _sha(p) for p in folder.iterdir()}
    ckpt = smoke_run[1] / "checkpoints" / "last.ckpt"
    entry_points = (("train.py", ["experiment=smoke"]), ("evaluate.py", [f"ckpt_path={ckpt}"]))
    for script, extra in entry_points:
        proc = run_py(script, *extra, f"data.root={folder}", f"hydra.run.dir={tmp_path / 'r'}",
                      cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 2, proc.stderr[-3000:]
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert lines[-1].startswith("error: ") and "Traceback" not in proc.stderr
        assert "train.h5" in lines[-1] and "data=shapenet" in lines[-1]
        assert {p.name: _sha(p) for p in folder.iterdir()} == before


def test_own_damaged_file_is_regenerated_with_a_message(tmp_path, smoke_data, smoke_run):
    import shutil

    folder = tmp_path / "synthetic_smoke"
    shutil.copytree(smoke_data, folder)
    original = _sha(folder / "train.h5")
    data = (folder / "train.h5").read_bytes()
    (folder / "train.h5").write_bytes(data[:1000])
    ckpt = smoke_run[1] / "checkpoints" / "last.ckpt"
    proc = run_py("evaluate.py", f"ckpt_path={ckpt}", f"data.root={folder}",
                  "data.categories=[airplane,car,chair]", "data.synthetic.n_train=2",
                  "data.synthetic.n_val=1", "data.synthetic.n_test=1", "eval.num_examples=0",
                  f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"regenerating {folder / 'train.h5'} (damaged" in proc.stderr
    assert _sha(folder / "train.h5") == original  # the generator is deterministic
    with h5py.File(folder / "val.h5") as f:  # intact files are left alone
        assert f.attrs["synthetic_seed"] == 0


def test_progress_bar_counts_steps_of_the_run(tmp_path, smoke_data):
    proc = run_py("train.py", *smoke_args(tmp_path / "run", f"data.root={smoke_data}",
                  "trainer.enable_progress_bar=true", "trainer.max_steps=5", "evaluate=false"),
                  cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    frames = proc.stdout.replace("\r", "\n")
    assert "train steps: 100%" in frames and " 5/5 [" in frames
    assert "Epoch " not in frames  # the smoke set has 3 batches an epoch: 2 epochs ran


@pytest.mark.parametrize("script", ["train.py", "evaluate.py"])
def test_truncated_data_file_is_one_line(tmp_path, smoke_data, script):
    import shutil

    root = tmp_path / "release_h5"
    shutil.copytree(smoke_data, root)
    (root / "softrec_synthetic.json").unlink()  # a converted release, not the synthetic set
    for split in ("train", "val", "test"):
        path = root / f"{split}.h5"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    args = ["experiment=smoke", "trainer.max_steps=2"] if script == "train.py" else []
    proc = run_py(script, *args, "data=shapenet", f"data.root={root}",
                  f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: ") and "Traceback" not in proc.stderr
    assert ".h5" in lines[-1] and "truncated" in lines[-1]

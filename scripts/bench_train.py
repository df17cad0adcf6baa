"""Time training iterations: a bare step with a per-stage breakdown, and the real loop.

    python scripts/bench_train.py [--iters 10] [--warmup 2] [--data synthetic|random] \
        [--device cpu|cuda] [--loop STEPS] \
        [hydra overrides, default: experiment=paper_sil_cpu; experiment=none: the quickstart]

    python scripts/bench_train.py --device cuda --loop 300 experiment=paper_sil   # on a GPU

``--loop N`` also runs Lightning's ``Trainer.fit`` for N steps on the same model and data
(no validation, checkpoints or loggers), times the steps after the first ``--warmup`` and
prints its iterations/s beside the bare step's and their ratio.

Stages of one iteration (seconds, mean over the timed iterations): data (next batch from the
real DataModule, or random tensors), net forward (encoder + decoder + color), render
forward (4 renders per object), losses forward, losses backward (to renders/vertices),
render backward, net backward, optimizer step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from softrec.data import images_to_float, view_eyes
from softrec.tasks.cli import register_resolvers

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("data", "net_fwd", "render_fwd", "loss_fwd", "loss_bwd", "render_bwd", "net_bwd",
          "optimizer")  # fmt: skip


def random_batches(batch_size: int, size: int = 64):
    g = torch.Generator().manual_seed(0)
    while True:
        img = torch.zeros(batch_size, 4, size, size)
        img[:, :, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1.0
        view_a = torch.randint(0, 24, (batch_size,), generator=g)
        view_b = torch.randint(0, 24, (batch_size,), generator=g)
        yield {"images_a": img, "images_b": img.clone(), "view_a": view_a, "view_b": view_b,
               "eye_a": view_eyes(view_a), "eye_b": view_eyes(view_b)}  # fmt: skip


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="training-iteration benchmark")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--data", choices=("synthetic", "random"), default="synthetic")
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    ap.add_argument("--loop", type=int, default=0, metavar="STEPS",
                    help="also time Trainer.fit for this many steps (0: skip)")
    ap.add_argument("--json", type=Path, default=None, help="write the numbers here")
    ap.add_argument("overrides", nargs="*", default=[])
    args = ap.parse_args(argv)
    overrides = list(args.overrides)
    if not any(o.startswith("experiment=") for o in overrides):
        overrides.insert(0, "experiment=paper_sil_cpu")
    # experiment=none: train.yaml's own defaults (the quickstart run)
    overrides = [o for o in overrides if o != "experiment=none"]
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    register_resolvers()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    torch.manual_seed(0)
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    module = instantiate(model_cfg).to(device)
    bs = int(cfg.data.batch_size)
    if args.data == "synthetic":
        from softrec.tasks.common import build_datamodule

        data_cfg = OmegaConf.to_container(_synthetic_data_cfg(cfg, bs), resolve=True)
        dm = build_datamodule(data_cfg)
        dm.setup("fit")
        it = iter(dm.train_dataloader())
    else:
        it = random_batches(bs)
    opt = module.configure_optimizers()["optimizer"]
    module.train()
    from softrec.render.rasterize import resolve_backend

    backend = resolve_backend(device, model_cfg["renderer"].get("backend"))
    times = {k: [] for k in STAGES}
    total = []
    for i in range(args.warmup + args.iters):
        t = {}
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            it = iter(dm.train_dataloader())
            batch = next(it)
        batch = images_to_float(_to(batch, device))  # as on_after_batch_transfer does
        sync()
        t["data"] = time.perf_counter() - t0
        s = time.perf_counter()
        ia, ib = batch["images_a"], batch["images_b"]
        vertices, colors = module.run_net(torch.cat([ia, ib]))
        sync()
        t["net_fwd"] = time.perf_counter() - s
        s = time.perf_counter()
        v_leaf = vertices.detach().requires_grad_(True)
        c_leaf = colors.detach().requires_grad_(True) if colors is not None else None
        renders = module.render_views(v_leaf, c_leaf, batch["eye_a"], batch["eye_b"])
        sync()
        t["render_fwd"] = time.perf_counter() - s
        s = time.perf_counter()
        r_leaf = renders.detach().requires_grad_(True)
        loss = _losses(module, r_leaf, v_leaf, ia, ib)
        sync()
        t["loss_fwd"] = time.perf_counter() - s
        s = time.perf_counter()
        loss.backward()
        sync()
        t["loss_bwd"] = time.perf_counter() - s
        s = time.perf_counter()
        renders.backward(r_leaf.grad)
        sync()
        t["render_bwd"] = time.perf_counter() - s
        s = time.perf_counter()
        outs, grads = [vertices], [v_leaf.grad]
        if colors is not None and c_leaf.grad is not None:
            outs.append(colors)
            grads.append(c_leaf.grad)
        torch.autograd.backward(outs, grads)
        sync()
        t["net_bwd"] = time.perf_counter() - s
        s = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        t["optimizer"] = time.perf_counter() - s
        if i >= args.warmup:
            for k in STAGES:
                times[k].append(t[k])
            total.append(time.perf_counter() - t0)
    mean = {k: sum(v) / len(v) for k, v in times.items()}
    it_s = sum(total) / len(total)
    print(f"experiment overrides: {' '.join(overrides)}")
    print(f"batch {bs} objects, {4 * bs} renders of {cfg.renderer.image_size}px, template "
          f"{module.net.decoder.num_vertices} verts / {module.net.faces.shape[0]} faces, "
          f"raster backend {backend}, device {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    for k in STAGES:
        print(f"  {k:<11s} {mean[k] * 1000:8.1f} ms  ({100 * mean[k] / it_s:4.1f} %)")
    print(f"  {'total':<11s} {it_s * 1000:8.1f} ms / iteration ({1 / it_s:.1f} it/s)")
    result = {"stages_s": mean, "iteration_s": it_s, "overrides": overrides, "backend": backend,
              "device": str(device)}  # fmt: skip
    if args.loop:
        loop_s = time_lightning_loop(cfg, args, device)
        result["loop_iteration_s"] = loop_s
        print(f"Lightning loop (Trainer.fit, {args.loop} steps, {args.warmup} warm-up): "
              f"{loop_s * 1000:.1f} ms / iteration ({1 / loop_s:.1f} it/s); "
              f"loop / bare step = {loop_s / it_s:.2f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


class _StepTimer:
    """Lightning callback: wall time of each training step, end to end."""

    def __init__(self, device: torch.device) -> None:
        import pytorch_lightning as pl

        outer = self

        class Timer(pl.Callback):
            def on_train_batch_end(self, *args, **kwargs) -> None:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                outer.stamps.append(time.perf_counter())

        self.stamps: list[float] = []
        self.callback = Timer()


def time_lightning_loop(cfg, args, device: torch.device) -> float:
    """Seconds per iteration of ``Trainer.fit`` (after ``args.warmup`` steps) on the same
    config, with the real data module and without validation, checkpoints or loggers."""
    import pytorch_lightning as pl

    from softrec.tasks.common import build_datamodule

    torch.manual_seed(0)
    module = instantiate(OmegaConf.to_container(cfg.model, resolve=True))
    if args.data != "synthetic":
        raise SystemExit("--loop runs on the synthetic set: use --data synthetic")
    data_cfg = OmegaConf.to_container(_synthetic_data_cfg(cfg, int(cfg.data.batch_size)))
    for key in ("num_workers", "prefetch_factor", "class_balanced", "pin_memory"):
        if key in cfg.data:  # the experiment's loader settings, on the synthetic files
            data_cfg[key] = cfg.data[key]
    dm = build_datamodule(data_cfg)
    timer = _StepTimer(device)
    benchmark = cfg.trainer.get("benchmark")
    trainer = pl.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu", devices=1,
        max_steps=args.loop, limit_val_batches=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[timer.callback],
        benchmark=benchmark, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(module, datamodule=dm)
    stamps = timer.stamps[args.warmup :]
    if len(stamps) < 2:
        raise SystemExit(f"--loop {args.loop} leaves too few steps after {args.warmup} warm-up")
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def _synthetic_data_cfg(cfg, batch_size: int):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        base = compose(config_name="train", overrides=["data=synthetic"],
                       return_hydra_config=False)  # fmt: skip
    d = OmegaConf.to_container(base.data, resolve=False)
    d["root"] = str(ROOT / "data" / "synthetic")
    d["batch_size"] = batch_size
    d["seed"] = 0
    return OmegaConf.create(d)


def _losses(module, renders, vertices, ia, ib):
    from softrec.losses import color_l1_loss, multiview_iou_loss

    if renders.shape[-1] != ia.shape[-1]:
        ia = torch.nn.functional.adaptive_avg_pool2d(ia, renders.shape[-1])
        ib = torch.nn.functional.adaptive_avg_pool2d(ib, renders.shape[-1])
    w = module.loss_weights
    loss = w["iou"] * multiview_iou_loss(renders[:, 3], ia[:, 3], ib[:, 3])
    if w["laplacian"]:
        loss = loss + w["laplacian"] * module.laplacian_loss(vertices)
    if w["flatten"]:
        loss = loss + w["flatten"] * module.flatten_loss(vertices)
    if w["color"] and module.net.color is not None:
        loss = loss + w["color"] * color_l1_loss(renders, torch.cat([ia, ib, ia, ib]))
    return loss


if __name__ == "__main__":
    sys.exit(main())

"""Evaluate a checkpoint: per-category 3D IoU table beside the paper's numbers.

    python evaluate.py ckpt_path=outputs/train/<run>/checkpoints/best.ckpt
    python evaluate.py ckpt_path=... data=shapenet data.root=/data/shapenet_h5 split=val

Writes results_<split>.{md,csv,json} and a few predicted meshes (.obj) with their input
images into the run folder, and reports the template-sphere and mean-training-shape
baselines on the same split.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from softrec.models.pipeline import ConfigError, evaluate


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> float:
    try:
        if not cfg.get("ckpt_path"):
            raise ConfigError("ckpt_path is required: python evaluate.py ckpt_path=<file.ckpt>")
        result = evaluate(
            ckpt_path=str(cfg.ckpt_path),
            data_cfg=cfg.data,
            split=str(cfg.split),
            out_dir=str(cfg.out_dir),
            batch_size=int(cfg.batch_size),
            baselines=bool(cfg.baselines),
            num_examples=int(cfg.num_examples),
            device=str(cfg.device),
            max_batches=cfg.max_batches,
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    return float(result["mean_iou"])


if __name__ == "__main__":
    main()

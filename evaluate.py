"""Evaluate a checkpoint: per-category 3D IoU table beside the paper's numbers.

    python evaluate.py ckpt_path=outputs/train/<run>/checkpoints/best.ckpt   # split=val
    python evaluate.py ckpt_path=... data=shapenet data.root=/data/shapenet_h5 eval.split=test

Evaluates ``eval.split`` (default ``val``, the paper's protocol; ``train.py`` ends with
``eval.split=test`` on the synthetic set). Writes results_<split>.{md,csv,json} and a few
predicted meshes (.obj) with their input images into the run folder, and reports the
template-sphere and mean-training-shape baselines on the same split.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from softrec.tasks.cli import register_resolvers, run_task

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> float:
    from softrec.tasks.errors import ConfigError
    from softrec.tasks.evaluation import evaluate_from_config

    def task() -> float:
        if not cfg.get("ckpt_path"):
            raise ConfigError("ckpt_path is required: python evaluate.py ckpt_path=<file.ckpt>")
        result = evaluate_from_config(str(cfg.ckpt_path), cfg.data, cfg.eval,
                                      str(cfg.paths.output_dir))  # fmt: skip
        return float(result["mean_iou"])

    return run_task(task)


if __name__ == "__main__":
    main()

"""Evaluate a checkpoint: per-category 3D IoU table beside the paper's numbers.

    python evaluate.py ckpt_path=outputs/train/<run>/checkpoints/best.ckpt   # split=val
    python evaluate.py ckpt_path=... data=shapenet data.root=/data/shapenet_h5 eval.split=test
    python evaluate.py data=shapenet data.root=...        # the no-training baselines alone

Evaluates ``eval.split`` (default ``val``, the paper's protocol; ``train.py`` ends with
``eval.split=test`` on the synthetic set). Writes results_<split>.{md,csv,json}, a few
predicted meshes (.obj, .ply, .glb) with their input images and an image grid into the run
folder; models with colors also get the color metric. Reports the no-training baselines on
the same split, each switched on its own (``eval.baselines.template``,
``eval.baselines.mean_shape``).
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from softrec.tasks.cli import check_command_line, register_resolvers, run_task

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> float:
    from hydra import compose

    from softrec.tasks.evaluation import evaluate_from_config, template_of_model_config

    def task() -> float:
        ckpt = str(cfg.ckpt_path) if cfg.get("ckpt_path") else None
        template = None
        if ckpt is None and cfg.eval.baselines.get("template"):
            # without a checkpoint, the template a model of this config starts from
            name = cfg.eval.baselines.template_model
            template = template_of_model_config(compose("train", [f"model={name}"]).model)
        result = evaluate_from_config(ckpt, cfg.data, cfg.eval, str(cfg.paths.output_dir),
                                      template=template)  # fmt: skip
        return float(result["mean_iou"])

    return run_task(task)


if __name__ == "__main__":
    # one error line for a bad override, before torch and Lightning are imported
    check_command_line(Path(__file__).parent / "configs", "eval")
    main()

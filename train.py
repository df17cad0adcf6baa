"""Train the SoftRas reconstruction model: ``python train.py [hydra overrides]``.

Default: synthetic data (made on first use), silhouette model sized for a 2-core CPU,
TensorBoard logs, checkpoints (last + best val IoU), then evaluation and the IoU table.
Examples::

    python train.py                                  # quickstart
    python train.py experiment=paper_sil data.root=/data/shapenet_h5 trainer=gpu
    python train.py ckpt_path=outputs/train/<run>/checkpoints/last.ckpt   # resume
    python train.py experiment=smoke trainer=ddp trainer.devices=2       # 2 gloo ranks
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from softrec.tasks.cli import check_command_line, register_resolvers, run_task

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns the evaluated mean IoU (for sweepers)."""
    from softrec.tasks.training import train

    result = run_task(lambda: train(cfg))
    ev = result.get("eval")
    return None if not ev else ev.get("mean_iou")


if __name__ == "__main__":
    # one error line for a bad override, before torch and Lightning are imported
    check_command_line(Path(__file__).parent / "configs", "train")
    main()

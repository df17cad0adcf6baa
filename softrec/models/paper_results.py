"""Published 3D IoU numbers (SoftRas, ICCV 2019, Table 1; ShapeNet val, 13 categories).

Rows are keyed by ShapeNet synset id, in the paper's row order. Columns: retrieval, voxel
and NMR baselines, SoftRas silhouette-only and full (silhouette + color) models. The
"full" figure was trained on the authors' own shaded renderings (docs/conventions.md §6).
"""

from __future__ import annotations

PAPER_COLUMNS: tuple[str, ...] = ("retrieval", "voxel", "NMR", "SoftRas (sil.)", "SoftRas (full)")

#: synset → (retrieval, voxel, NMR, SoftRas sil., SoftRas full)
PAPER_IOU: dict[str, tuple[float, float, float, float, float]] = {
    "02691156": (0.5564, 0.5556, 0.6172, 0.6419, 0.6670),  # airplane
    "02828884": (0.4875, 0.4924, 0.4998, 0.5080, 0.5429),  # bench
    "02933112": (0.5713, 0.6823, 0.7143, 0.7116, 0.7382),  # cabinet (dresser)
    "02958343": (0.6519, 0.7123, 0.7095, 0.7697, 0.7876),  # car
    "03001627": (0.3512, 0.4494, 0.4990, 0.5270, 0.5470),  # chair
    "03211117": (0.3958, 0.5395, 0.5831, 0.6156, 0.6298),  # display
    "03636649": (0.2905, 0.4223, 0.4126, 0.4628, 0.4580),  # lamp
    "03691459": (0.4600, 0.5868, 0.6536, 0.6654, 0.6807),  # loudspeaker (speaker)
    "04090263": (0.5133, 0.5987, 0.6322, 0.6811, 0.6702),  # rifle
    "04256520": (0.5314, 0.6221, 0.6735, 0.6878, 0.7220),  # sofa
    "04379243": (0.3097, 0.4938, 0.4829, 0.4487, 0.5325),  # table
    "04401088": (0.6696, 0.7504, 0.7777, 0.7895, 0.8127),  # telephone (phone)
    "04530566": (0.4078, 0.5507, 0.5645, 0.5953, 0.6145),  # watercraft (vessel)
}

#: the paper's reported means (unweighted over the 13 categories)
PAPER_MEAN: tuple[float, float, float, float, float] = (0.4766, 0.5736, 0.6015, 0.6234, 0.6464)

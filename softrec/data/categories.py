"""The 13 ShapeNet categories of the NMR rendering release, in the paper's row order."""

from __future__ import annotations

from collections.abc import Iterable

#: ``(synset_id, shapenet_name, paper_name)`` in the row order of the SoftRas paper's table.
CATEGORIES: list[tuple[str, str, str]] = [
    ("02691156", "airplane", "airplane"),
    ("02828884", "bench", "bench"),
    ("02933112", "cabinet", "dresser"),
    ("02958343", "car", "car"),
    ("03001627", "chair", "chair"),
    ("03211117", "display", "display"),
    ("03636649", "lamp", "lamp"),
    ("03691459", "loudspeaker", "speaker"),
    ("04090263", "rifle", "rifle"),
    ("04256520", "sofa", "sofa"),
    ("04379243", "table", "table"),
    ("04401088", "telephone", "phone"),
    ("04530566", "watercraft", "vessel"),
]

SYNSET_IDS: list[str] = [c[0] for c in CATEGORIES]
SYNSET_TO_NAME: dict[str, str] = {c[0]: c[1] for c in CATEGORIES}
_ALIASES: dict[str, str] = {}
for _sid, _name, _paper in CATEGORIES:
    _ALIASES[_sid] = _ALIASES[_name] = _ALIASES[_paper] = _sid


def resolve_categories(categories: Iterable[str] | str | None) -> list[str]:
    """Synset ids for a selection given by synset id, ShapeNet name or paper name.

    ``None`` selects all 13 (paper order); comma-separated strings are accepted, alone or
    as items of the list (``["chair,car", "lamp"]``). Order of the selection is kept and
    duplicates are dropped. Unknown names raise ``ValueError``.
    """
    if categories is None:
        return list(SYNSET_IDS)
    if isinstance(categories, str):
        categories = [categories]
    categories = [c for item in categories for c in str(item).split(",") if c.strip()]
    out: list[str] = []
    for c in categories:
        key = str(c).strip().lower()
        if key not in _ALIASES:
            raise ValueError(
                f"unknown category {c!r}; use a synset id or one of "
                f"{sorted({n for _, n, _ in CATEGORIES} | {p for _, _, p in CATEGORIES})}"
            )
        if _ALIASES[key] not in out:
            out.append(_ALIASES[key])
    if not out:
        raise ValueError("categories selects no category")
    return out

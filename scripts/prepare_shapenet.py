#!/usr/bin/env python
"""Convert the NMR ShapeNet rendering release (npz files) into softrec's HDF5 layout.

    python scripts/prepare_shapenet.py SRC_DIR OUT_DIR [--categories chair,car | chair car]
                                       [--splits val test]

Converts what SRC_DIR holds (all of the release, one category, one split...): every
requested split and category whose images and voxels files are both present, and
reports what it found and skipped. Streams a chunk of objects at a time, checks every
file's shape and dtype first, writes each split under a temporary name and renames it when
complete, and keeps split files that are already complete. See data/README.md.
"""

from __future__ import annotations

import argparse
import resource
import sys

from softrec.data.categories import SYNSET_TO_NAME
from softrec.data.conventions import SPLITS
from softrec.data.release import OBJECTS_PER_CHUNK, convert_release


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("src", help="directory with <synset>_<split>_{images,voxels}.npz")
    p.add_argument("out", help="output directory for train.h5 / val.h5 / test.h5")
    p.add_argument(
        "--categories", nargs="+", default=None,
        help="synset ids or names, comma- or space-separated (default: all 13 present)",
    )  # fmt: skip
    p.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    p.add_argument("--objects-per-chunk", type=int, default=OBJECTS_PER_CHUNK)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    try:
        report = convert_release(
            args.src,
            args.out,
            args.categories,
            args.splits,
            progress=not args.quiet,
            objects_per_chunk=args.objects_per_chunk,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for split, synsets in report.converted.items():
        names = ", ".join(SYNSET_TO_NAME.get(s, s) for s in synsets)
        print(f"{split}: {len(synsets)} categories ({names})")
    for reason in report.skipped:
        print(f"skipped: {reason}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"wrote {', '.join(map(str, report.written)) or 'nothing new'}"
          f"{'; kept ' + ', '.join(map(str, report.complete)) if report.complete else ''}"
          f"; peak RSS {peak_mib:.0f} MiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

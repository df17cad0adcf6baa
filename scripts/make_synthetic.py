#!/usr/bin/env python
"""Generate the synthetic ShapeNet-like dataset (train/val/test HDF5 files).

    python scripts/make_synthetic.py OUT_DIR [--train 80 --val 16 --test 16] [--scale 10]

``--scale k`` multiplies the three split sizes (a larger set for benchmarks).
"""

from __future__ import annotations

import argparse
import sys
import time

from softrec.data.synthetic import DEFAULT_SPLIT_SIZES, make_synthetic_dataset


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("out", help="output directory")
    p.add_argument("--train", type=int, default=DEFAULT_SPLIT_SIZES["train"])
    p.add_argument("--val", type=int, default=DEFAULT_SPLIT_SIZES["val"])
    p.add_argument("--test", type=int, default=DEFAULT_SPLIT_SIZES["test"])
    p.add_argument("--scale", type=int, default=1, help="multiply every split size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--categories", nargs="*", default=None, help="synset ids or names")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    try:
        root = make_synthetic_dataset(
            args.out,
            args.train * args.scale,
            args.val * args.scale,
            args.test * args.scale,
            seed=args.seed,
            categories=args.categories,
            num_workers=args.workers,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"dataset in {root} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Benchmark: random slices per second from synthetic filler structures.

Generates one structure per class (M-SBR, n-SBR, Rnd) in a periodic box
(1000 nm by default; generation time reported per class), then times
`keras_geo.datasets.filler.slice_structure` for 64x64 slices at FOVs of
250, 500 and 1000 nm and prints a Markdown report with the machine, the
date and the goal of >= 1,000 slices/s at FOV 500 nm.

Usage::

    python benchmarks/bench_filler_slices.py            # full run (~1 min)
    python benchmarks/bench_filler_slices.py --quick    # smoke run (~15 s)
    python benchmarks/bench_filler_slices.py --output report.md --check

Timings are wall-clock and best-of-`--repeats`, because slicing is meant to
feed training loops; on a shared machine the load average printed in the
header tells how busy it was.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

try:
    from keras_geo.datasets import filler
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from keras_geo.datasets import filler

GOAL_SLICES_PER_S = 1000.0
GOAL_FOV_NM = 500.0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer slices and repeats (smoke test)")
    parser.add_argument("--box-nm", type=float, default=1000.0, help="structure box edge (default 1000)")
    parser.add_argument("--fov-nm", type=float, nargs="+", default=[250.0, 500.0, 1000.0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--n-slices", type=int, default=None, help="slices per timing (default 4096, quick 512)")
    parser.add_argument("--repeats", type=int, default=None, help="timings per cell, best kept (default 3, quick 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None, help="also write the Markdown report here")
    parser.add_argument("--check", action="store_true", help="exit with status 1 if the goal is not met")
    return parser.parse_args(argv)


def _machine() -> str:
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"- machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPU cores (load average {load})\n"
        f"- Python {platform.python_version()}, numpy {np.__version__}\n"
        f"- date: {_dt.datetime.now().astimezone().isoformat(timespec='seconds')}"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    n = args.n_slices or (512 if args.quick else 4096)
    repeats = args.repeats or (1 if args.quick else 3)

    lines = ["# keras-geo filler slicing benchmark", "", _machine(), ""]
    lines += [f"Box {args.box_nm:g} nm, volume fraction 0.15, particle radius 10 nm (defaults).", ""]

    structures = {}
    gen_rows = ["| class | particles | generation (s) |", "|---|---:|---:|"]
    for i, kind in enumerate(filler.CLASSES):
        t0 = time.perf_counter()
        s = filler.generate_structure(kind, box_nm=args.box_nm, seed=args.seed + i)
        dt = time.perf_counter() - t0
        structures[kind] = s
        gen_rows.append(f"| {kind} | {s.n_particles:,} | {dt:.2f} |")
        print(f"generated {kind}: {s.n_particles} particles in {dt:.2f} s", file=sys.stderr)
    lines += ["## Structure generation", ""] + gen_rows + [""]

    size = args.image_size
    header = "| FOV (nm) | " + " | ".join(filler.CLASSES) + " | min |"
    rows = [header, "|---:|" + "---:|" * (len(filler.CLASSES) + 1)]
    at_goal_fov: list[float] = []
    for fov in args.fov_nm:
        if fov > args.box_nm:
            print(f"skipping FOV {fov:g} nm > box", file=sys.stderr)
            continue
        rates = []
        for kind, s in structures.items():
            filler.slice_structure(s, 8, fov_nm=fov, image_size=size, seed=1)  # warm-up
            best = 0.0
            for r in range(repeats):
                t0 = time.perf_counter()
                imgs = filler.slice_structure(s, n, fov_nm=fov, image_size=size, seed=100 + r)
                best = max(best, n / (time.perf_counter() - t0))
            assert imgs.shape == (n, size, size)
            rates.append(best)
            print(f"FOV {fov:g} nm {kind}: {best:,.0f} slices/s", file=sys.stderr)
        if fov == GOAL_FOV_NM:
            at_goal_fov = rates
        rows.append(f"| {fov:g} | " + " | ".join(f"{v:,.0f}" for v in rates) + f" | {min(rates):,.0f} |")
    lines += [
        f"## Slicing: {size}x{size} slices per second ({n} slices per timing, best of {repeats}, "
        "wall clock, all cores)",
        "",
        *rows,
        "",
    ]

    if at_goal_fov:
        worst = min(at_goal_fov)
        verdict = "PASS" if worst >= GOAL_SLICES_PER_S else "FALL SHORT"
        lines.append(
            f"Goal: >= {GOAL_SLICES_PER_S:,.0f} slices/s of {size}x{size} at FOV {GOAL_FOV_NM:g} nm: "
            f"**{verdict}** (slowest class {worst:,.0f} slices/s)."
        )
    else:
        verdict = "NOT MEASURED"
        lines.append(f"Goal not measured (FOV {GOAL_FOV_NM:g} nm not in --fov-nm).")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output is not None:
        args.output.write_text(report)
    return 1 if args.check and verdict != "PASS" else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Benchmark: time and peak memory to build one FIB-SEM-like class stack, per voxel size.

Generates one n-SBR structure (the slowest class to generate) in a periodic box
(1000 nm, the default FOV of ``filler_fibsem``), then for each voxel size builds
`keras_geo.datasets.filler.fibsem_volume` with its default effects ``--repeats``
times in a fresh process (so the peak resident memory is that voxel size's) and
times 100 slices of 64x64 pixels at FOV 1000 nm. Prints a Markdown table: the
first build in a process (fresh memory is mapped then), the best later one, the
peak RSS beside `estimate_fibsem_gib`, and the slicing time.

Usage::

    python benchmarks/bench_fibsem_volume.py                  # 2 and 4 nm (~1 min)
    python benchmarks/bench_fibsem_volume.py --voxel-nm 4 --repeats 1 --quick

On a shared machine the load average printed in the header tells how busy it was.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    from keras_geo.datasets import filler
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from keras_geo.datasets import filler


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voxel-nm", type=float, nargs="+", default=[2.0, 4.0])
    parser.add_argument("--box-nm", type=float, default=1000.0, help="structure box edge (default 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="builds per voxel size (default 3)")
    parser.add_argument("--quick", action="store_true", help="a 500 nm box (smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs=2, metavar=("STRUCTURE_NPZ", "VOXEL_NM"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _worker(path: str, voxel: float, repeats: int) -> dict:
    data = np.load(path)
    structure = filler.Structure(
        centers=data["centers"], radii=data["radii"], box_nm=float(data["box_nm"]), kind="n-SBR"
    )
    times, stack = [], None
    for r in range(repeats):
        del stack  # one stack in memory at a time, as in make_fibsem_dataset
        t = time.perf_counter()
        stack = filler.fibsem_volume(structure, voxel_nm=voxel, seed=r, max_memory_gib=64.0)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    filler.slice_volume(stack, 100, voxel_nm=voxel, fov_nm=structure.box_nm, image_size=64, seed=0)
    slicing = time.perf_counter() - t
    return {
        "voxel_nm": voxel,
        "shape": list(stack.shape),
        "first_s": times[0],
        "best_later_s": min(times[1:]) if len(times) > 1 else None,
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "estimate_gib": filler.estimate_fibsem_gib(structure.box_nm, voxel),
        "slices_100_s": slicing,
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker[0], float(args.worker[1]), args.repeats)))
        return 0
    box = 500.0 if args.quick else args.box_nm
    t = time.perf_counter()
    structure = filler.generate_structure("n-SBR", box_nm=box, seed=args.seed)
    generation = time.perf_counter() - t
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "structure.npz"
        np.savez(path, centers=structure.centers, radii=structure.radii, box_nm=structure.box_nm)
        for voxel in args.voxel_nm:
            cmd = [sys.executable, __file__, "--worker", str(path), str(voxel), "--repeats", str(args.repeats)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"- machine: {platform.platform()}, {os.cpu_count()} CPUs, load average {load}")
    print(f"- date: {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"- n-SBR structure, box {box:g} nm, {structure.n_particles:,} particles, generated in {generation:.1f} s\n")
    print(
        "| voxel (nm) | stack | first build (s) | later builds, best (s) | peak RSS (GiB) | estimate (GiB) | 100 slices (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        later = "-" if r["best_later_s"] is None else f"{r['best_later_s']:.1f}"
        shape = "x".join(map(str, r["shape"]))
        print(
            f"| {r['voxel_nm']:g} | {shape} | {r['first_s']:.1f} | {later} | {r['peak_gib']:.2f} | "
            f"{r['estimate_gib']:.2f} | {r['slices_100_s']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

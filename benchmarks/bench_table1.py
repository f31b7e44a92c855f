"""Reproduce the direction of the filler study's Table 1 at reduced size.

The study (seed 004) trained a CNN on slices of 3-D filler structures and counted
correct answers per class out of 1000 evaluation images: accuracy rose with the
field of view (250 -> 500 -> 1000 nm) and with the number of training images per
class. We train the default filler CNN on our generated structures over the same
grid (fewer images, smaller images) and print both tables side by side.

    python benchmarks/bench_table1.py            # 100/400/1600 images per class
    python benchmarks/bench_table1.py --quick    # 100/400 (about 15 min on 2 cores with 2 repeats)
    python benchmarks/bench_table1.py --full     # the study's 500/2000/8000
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Correct answers out of 1000 per class (M-SBR, n-SBR, Rnd) from the study's Table 1.
SEED_TABLE = {
    (250, 8000): (434, 925, 516),
    (500, 500): (981, 663, 925),
    (500, 2000): (965, 791, 950),
    (500, 8000): (908, 889, 993),
    (1000, 500): (914, 915, 1000),
    (1000, 2000): (978, 974, 1000),
    (1000, 8000): (940, 995, 1000),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="100 and 400 images per class")
    size.add_argument("--full", action="store_true", help="the study's 500, 2000 and 8000 per class")
    parser.add_argument("--fov", type=float, nargs="+", default=[250.0, 500.0, 1000.0])
    parser.add_argument("--eval", type=int, default=300, help="evaluation images per class (study: 1000)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=4, help="early-stopping patience (default 4)")
    parser.add_argument("--seeds", type=int, default=2, help="independent repeats per cell, pooled (default 2)")
    parser.add_argument("--plot", default="benchmarks/results/table1.png")
    parser.add_argument("--replot", metavar="JSON", help="only redraw the plot from a results JSON file")
    args = parser.parse_args()
    if args.replot:
        plot(json.loads(Path(args.replot).read_text()), args.plot)
        return
    counts = [500, 2000, 8000] if args.full else [100, 400] if args.quick else [100, 400, 1600]

    from keras_geo import training
    from keras_geo.datasets import filler
    from keras_geo.training import ClassReport

    rows = []
    started = time.perf_counter()
    for fov in args.fov:
        for n in counts:
            t0 = time.perf_counter()
            confusion = 0
            for seed in range(args.seeds):
                # The study split its images into training and test halves ("500+500");
                # we keep a quarter of n for validation (early stopping) and evaluate apart.
                # Each repeat has its own structures, slices and initial weights.
                data = filler.make_splits(
                    n, max(n // 4, 25), args.eval, fov_nm=fov, image_size=args.image_size, seed=seed
                )
                result = training.train(
                    "filler_cnn",
                    data,
                    {"epochs": args.epochs, "patience": args.patience},
                    seed=seed,
                    class_names=filler.CLASSES,
                )
                confusion = confusion + result.reports["test"].confusion
            report = ClassReport(tuple(filler.CLASSES), confusion)
            rows.append((fov, n, report))
            print(
                f"FOV {fov:6.0f} nm, {n:5d}/class: {report.accuracy:6.1%} "
                f"({', '.join(f'{c}/{t}' for c, t in zip(report.correct, report.totals))}) "
                f"in {time.perf_counter() - t0:.0f} s",
                flush=True,
            )

    print(
        f"\nMachine: {platform.platform()}, {os.cpu_count()} CPUs; date {datetime.date.today()}; "
        f"images {args.image_size}x{args.image_size}, evaluation {args.eval}/class, "
        f"{args.seeds} repeat(s) pooled per cell, {time.perf_counter() - started:.0f} s in all\n"
    )
    print("| FOV | images/class | ours M-SBR | ours n-SBR | ours Rnd | ours acc. | study (of 1000) |")
    print("|---|---|---|---|---|---|---|")
    for fov, n, report in rows:
        seed_row = SEED_TABLE.get((int(fov), n))
        seed_text = " / ".join(map(str, seed_row)) if seed_row else "-"
        cells = [f"{c}/{t}" for c, t in zip(report.correct, report.totals)]
        print(f"| {fov:.0f} nm | {n} | {' | '.join(cells)} | {report.accuracy:.1%} | {seed_text} |")

    if args.plot:
        results = [
            {"fov_nm": fov, "images_per_class": n, "correct": report.correct.tolist(), "totals": report.totals.tolist()}
            for fov, n, report in rows
        ]
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        Path(args.plot).with_suffix(".json").write_text(json.dumps(results, indent=1))
        plot(results, args.plot)
        print(f"\nplot: {args.plot} (numbers: {Path(args.plot).with_suffix('.json')})")


def plot(results: list[dict], path: str) -> None:
    """Accuracy against field of view, ours (from ``results``) beside the study's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fovs = sorted({r["fov_nm"] for r in results})
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for n in sorted({r["images_per_class"] for r in results}):
        points = [(r["fov_nm"], sum(r["correct"]) / sum(r["totals"])) for r in results if r["images_per_class"] == n]
        ax.plot(*zip(*points), marker="o", label=f"ours, {n}/class")
    for n, style in ((500, ":"), (2000, "--"), (8000, "-.")):
        points = [(f, sum(v) / 3000) for (f, m), v in sorted(SEED_TABLE.items()) if m == n]
        if points:
            ax.plot(*zip(*points), linestyle=style, color="grey", marker="x", label=f"study, {n}/class")
    ax.set_xscale("log")
    ax.set_xticks(fovs, [f"{f:.0f}" for f in fovs])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("field of view (nm)")
    ax.set_ylabel("evaluation accuracy")
    ax.axhline(1 / 3, color="k", linewidth=0.5)
    ax.set_ylim(0.3, 1.0)
    ax.legend(fontsize=7)
    ax.set_title("Filler classification: accuracy against field of view")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()

"""``keras-geo-hpo train``: generate filler slices, train the default filler CNN, print the per-class table."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from keras_geo.cli._common import _positive


def _cmd_train(args: argparse.Namespace) -> int:
    from keras_geo import training
    from keras_geo.datasets import filler

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(
        f"Filler slices: FOV {args.fov:g} nm, {args.image_size}x{args.image_size} px, "
        f"{args.train} train + {args.val} validation per class, evaluation {args.test} per class"
    )
    data = filler.make_splits(
        args.train, args.val, args.test, fov_nm=args.fov, image_size=args.image_size, seed=args.seed, progress=True
    )
    print(f"Training the default filler CNN ({args.epochs} epochs at most, early stopping)")
    result = training.train(
        "filler_cnn",
        data,
        {"epochs": args.epochs},
        seed=args.seed,
        class_names=filler.CLASSES,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    path = out / "filler_cnn.keras"
    result.model.save(path)
    print("\nCorrect answers per class on the evaluation set (the form of the study's Table 1):\n")
    print(result.reports["test"].table(f"{args.fov:g} nm, {args.train}+{args.val}"))
    print(
        f"\n{int(result.metrics['n_params']):,} parameters, {int(result.metrics['epochs'])} epochs, "
        f"{time.perf_counter() - started:.0f} s in all. Model saved to {path}"
    )
    return 0


def add_parser(commands) -> None:
    """Registers ``train``."""
    train = commands.add_parser(
        "train", help="generate filler slices, train the default filler CNN, print the per-class table"
    )
    train.add_argument("--fov", type=float, default=1000.0, help="field of view in nm (default 1000)")
    train.add_argument("--image-size", type=_positive, default=64, help="pixels per side (default 64)")
    train.add_argument("--train", type=_positive, default=500, help="training images per class (default 500)")
    train.add_argument("--val", type=_positive, default=200, help="validation images per class (default 200)")
    train.add_argument("--test", type=_positive, default=1000, help="evaluation images per class (default 1000)")
    train.add_argument("--epochs", type=_positive, default=15, help="maximum epochs (default 15)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--out", default="runs/train", help="output folder (default runs/train)")
    train.set_defaults(run=_cmd_train)

"""``keras-geo-hpo``: the command line.

    keras-geo-hpo models            # the registered model builders
    keras-geo-hpo demo              # filler data -> default filler CNN -> per-class table

Errors a user can fix (bad arguments, bad values) print one line and exit with
status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path


class UsageError(Exception):
    """An error in what the user asked for: printed as one line, exit status 2."""


def _cmd_models(args: argparse.Namespace) -> int:
    from keras_geo import models

    width = max(len(name) for name in models.available())
    for name in models.available():
        print(f"{name:<{width}}  {models.describe(name)}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _cmd_demo(args: argparse.Namespace) -> int:
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
        args.train,
        args.val,
        args.test,
        fov_nm=args.fov,
        image_size=args.image_size,
        seed=args.seed,
        progress=True,
    )
    params = {"epochs": args.epochs}
    print(f"Training the default filler CNN ({args.epochs} epochs at most, early stopping)")
    result = training.train(
        "filler_cnn",
        data,
        params,
        seed=args.seed,
        class_names=filler.CLASSES,
        verbose=2 if not sys.stdout.isatty() else 1,
    )
    path = out / "filler_cnn.keras"
    result.model.save(path)
    title = f"{args.fov:g} nm, {args.train}+{args.val}"
    print("\nCorrect answers per class on the evaluation set (the form of the study's Table 1):\n")
    print(result.reports["test"].table(title))
    print(
        f"\n{int(result.metrics['n_params']):,} parameters, {int(result.metrics['epochs'])} epochs, "
        f"{time.perf_counter() - started:.0f} s in all. Model saved to {path}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``keras-geo-hpo`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="keras-geo-hpo",
        description="keras-geo: scientific image recognition with parallel hyperparameter search.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("models", help="list the registered model builders")
    listing.set_defaults(run=_cmd_models)

    demo = commands.add_parser(
        "demo", help="generate filler slices, train the default filler CNN, print the per-class table"
    )
    demo.add_argument("--fov", type=float, default=1000.0, help="field of view in nm (default 1000)")
    demo.add_argument("--image-size", type=_positive, default=64, help="pixels per side (default 64)")
    demo.add_argument("--train", type=_positive, default=500, help="training images per class (default 500)")
    demo.add_argument("--val", type=_positive, default=200, help="validation images per class (default 200)")
    demo.add_argument("--test", type=_positive, default=1000, help="evaluation images per class (default 1000)")
    demo.add_argument("--epochs", type=_positive, default=15, help="maximum epochs (default 15)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    demo.set_defaults(run=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``keras-geo-hpo`` console script."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (UsageError, ValueError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"keras-geo-hpo {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

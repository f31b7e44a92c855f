"""``keras-geo-hpo restore``: an image-to-image model over image files of any size, tile by tile."""

from __future__ import annotations

import argparse
from pathlib import Path

from keras_geo.cli._common import UsageError, _load_model, _positive


def _cmd_restore(args: argparse.Namespace) -> int:
    if not Path(args.model).is_file():
        raise UsageError(f"no such model file: {args.model}")
    from keras_geo import restoration
    from keras_geo.datasets.folders import ImageFolderError

    try:
        files = restoration.image_files(args.inputs)
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    if not files:
        raise UsageError(f"no image file ({', '.join(args.inputs)}) to restore")
    model = _load_model(args.model)
    try:
        written = restoration.restore_files(
            model, files, args.out, tile=args.tile, overlap=args.overlap, progress=not args.quiet
        )
    except (ValueError, ImageFolderError, OSError) as error:
        raise UsageError(str(error).splitlines()[0]) from None
    for item in written:
        print(f"{item.source} -> {item.out} ({item.shape[1]}x{item.shape[0]}, {item.dtype})")
    print(f"{len(written)} images restored into {args.out}")
    return 0


def add_parser(commands) -> None:
    """Registers ``restore``."""
    restore = commands.add_parser(
        "restore",
        help="restore images with an image-to-image model (any size: tiled; 16-bit in, 16-bit out)",
    )
    restore.add_argument("model", help="a .keras image-to-image model (e.g. exported from a restoration search)")
    restore.add_argument("inputs", nargs="+", metavar="IMAGES", help="image files or folders of images")
    restore.add_argument("--out", required=True, help="output folder: the restored images under their own names")
    restore.add_argument("--tile", type=_positive, help="tile size (default: the model's input size, else 256)")
    restore.add_argument(
        "--overlap", type=int, help="overlap of neighbouring tiles in pixels (default: a quarter of the tile)"
    )
    restore.add_argument("--quiet", action="store_true", help="no progress bar")
    restore.set_defaults(run=_cmd_restore)

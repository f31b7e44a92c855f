"""``keras-geo-hpo explain``: Grad-CAM / Grad-CAM++ / CAM overlays of a model on images."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from keras_geo.cli._common import UsageError, _load_model, _read_images


def _explain_inputs(paths: Sequence[str], size: tuple[int, int], channels: int):
    """Images (resized, [0, 1]) from files and folders: (x, names, true labels or None, folder classes)."""
    import numpy as np

    from keras_geo.datasets import folders

    color_mode = "grayscale" if channels == 1 else "rgb"
    images, names, labels, classes = [], [], [], None
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise UsageError(f"no such image or folder: {path}")
        subfolders = [p for p in path.iterdir() if p.is_dir()] if path.is_dir() else []
        if subfolders:  # a class-per-sub-folder tree: the true classes are known
            try:
                found = folders.load_image_folder(path, size, color_mode=color_mode)
            except folders.ImageFolderError as error:
                raise UsageError(str(error)) from error
            images += list(found.x)
            names += [f"{Path(p).parent.name}_{Path(p).stem}" for p in found.paths]
            labels += found.y.tolist()
            classes = found.class_names
            continue
        files = (
            sorted(p for p in path.iterdir() if p.suffix.lower() in folders.IMAGE_SUFFIXES) if path.is_dir() else [path]
        )
        read, stems = _read_images(files, size, color_mode, "explain")
        images += read
        names += stems
        labels += [None] * len(read)
    if not images:
        raise UsageError("no readable image among the inputs")
    true = None if any(label is None for label in labels) else labels
    return np.stack(images), names, true, classes


def _cmd_explain(args: argparse.Namespace) -> int:
    if not Path(args.model).is_file():
        raise UsageError(f"no such model file: {args.model}")
    from keras_geo import explain

    model = _load_model(args.model)
    if len(model.inputs[0].shape) != 4 or len(model.output_shape) != 2:
        raise UsageError(
            f"{args.model} maps {tuple(model.inputs[0].shape)[1:]} to {tuple(model.output_shape)[1:]}: Grad-CAM explains "
            "models from images to one score per class (or per regression target)"
        )
    _, height, width, channels = model.inputs[0].shape
    x, names, true, folder_classes = _explain_inputs(args.inputs, (int(height), int(width)), int(channels))
    n_classes = int(model.output_shape[-1])
    class_names = args.class_names.split(",") if args.class_names else folder_classes
    if class_names is not None and len(class_names) != n_classes:
        raise UsageError(f"{len(class_names)} class names for a model with {n_classes} outputs")
    target = None
    if args.class_ is not None:
        if args.class_.isdigit():
            target = int(args.class_)
        elif class_names is not None and args.class_ in class_names:
            target = list(class_names).index(args.class_)
        else:
            raise UsageError(f"--class {args.class_!r}: give a class index 0..{n_classes - 1} or a class name")
        if not 0 <= target < n_classes:
            raise UsageError(f"--class {target}: the model has classes 0..{n_classes - 1}")
    try:
        explained = explain.explain_to_files(
            model,
            x,
            args.out,
            method=args.method,
            class_index=target,
            layer=args.layer,
            class_names=class_names,
            true_labels=true,
            names=names,
        )
    except ValueError as error:  # e.g. cam() on a model without a GAP + dense ending, an unknown layer
        raise UsageError(str(error)) from error
    for name, predicted, confidence in zip(names, explained.predicted, explained.confidence):
        label = class_names[predicted] if class_names is not None else str(predicted)
        print(f"{name}: {label} ({confidence:.0%})")
    print(f"{len(names)} overlays and {explained.grid} written to {args.out}")
    return 0


def add_parser(commands) -> None:
    """Registers ``explain``."""
    explain = commands.add_parser("explain", help="Grad-CAM / Grad-CAM++ / CAM overlays of a model on images")
    explain.add_argument("model", help="a .keras model file")
    explain.add_argument(
        "inputs",
        nargs="+",
        metavar="IMAGES_OR_FOLDER",
        help="image files, folders of images, or a folder with one sub-folder per class",
    )
    explain.add_argument("--out", required=True, help="output folder for the overlays and grid.png")
    explain.add_argument("--method", choices=("gradcam", "gradcam++", "cam"), default="gradcam", help="default gradcam")
    explain.add_argument(
        "--class",
        dest="class_",
        metavar="C",
        help="class to explain, index or name (default: each image's predicted class)",
    )
    explain.add_argument("--layer", help="feature layer (default: the last 4-D layer, nested models included)")
    explain.add_argument("--class-names", help="comma-separated class names, in the model's output order")
    explain.set_defaults(run=_cmd_explain)

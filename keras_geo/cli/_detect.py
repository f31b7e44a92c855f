"""``keras-geo-hpo detect``: a trained detector on images of any size: boxes drawn, COCO JSON written."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from keras_geo.cli._common import UsageError, _load_model


def _files(paths: list[str]) -> list[Path]:
    """The image files named, and those of the folders named (not recursive), in order."""
    from keras_geo.datasets import folders

    files: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise UsageError(f"no such image or folder: {path}")
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in folders.IMAGE_SUFFIXES)
        else:
            files.append(path)
    return files


def _cmd_detect(args: argparse.Namespace) -> int:
    if not Path(args.model).is_file():
        raise UsageError(f"no such model file: {args.model}")
    if not 0.0 <= args.score <= 1.0:
        raise UsageError(f"--score must be in [0, 1]; received {args.score}")
    files = _files(args.inputs)
    if not files:
        raise UsageError("no image among the inputs (" + ", ".join(args.inputs) + ")")

    import cv2
    import numpy as np
    from tqdm import tqdm  # a console bar (tqdm.auto would want widgets in a notebook)

    from keras_geo.datasets import folders
    from keras_geo.detection import annotations
    from keras_geo.detection.draw import draw_boxes
    from keras_geo.detection.model import TwoStageDetector
    from keras_geo.tasks.detection import predict_detections

    model = _load_model(args.model)
    if not isinstance(model, TwoStageDetector):
        raise UsageError(
            f"{args.model} is not a detector (a keras_geo TwoStageDetector, e.g. exported from a detection search)"
        )
    height, width = model.image_size
    channels = int(model.features.inputs[0].shape[-1])
    mode = "grayscale" if channels == 1 else "rgb"
    names = list(model.class_names or [str(k) for k in range(model.n_classes)])
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the output folder {out}: {error.strerror or error}") from None

    kept, sizes, written = [], [], []
    bar = tqdm(files, desc="detect", unit="image", disable=args.quiet)
    for file in bar:
        try:
            raw = folders.read_raw(file)
            image = folders.convert_pixels(raw, None, mode)
        except folders.ImageFolderError as error:
            bar.write(f"keras-geo-hpo detect: skipped {error}", file=sys.stderr)
            continue
        rows, cols = image.shape[:2]
        resized = folders.convert_pixels(raw, (height, width), mode)  # the model's size, stretched
        found = predict_detections(model, resized[None])[0]
        keep = found["scores"] >= args.score
        # Back to the file's pixels: continuous coordinates scale exactly.
        scale = np.array([cols / width, rows / height, cols / width, rows / height], dtype=np.float32)
        found = {
            "boxes": found["boxes"][keep] * scale,
            "scores": found["scores"][keep],
            "classes": found["classes"][keep],
        }
        drawn = draw_boxes(image, found, class_names=names, scale=max(1, 512 // max(rows, cols)))
        target = out / f"{file.stem}_detections.png"
        cv2.imwrite(str(target), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
        kept.append((file, found))
        sizes.append((rows, cols))
        written.append(target.name)
        if not args.quiet:
            counts = ", ".join(f"{int(n)} {names[c]}" for c, n in zip(*np.unique(found["classes"], return_counts=True)))
            bar.write(f"{file.name}: {len(found['classes'])} object(s){': ' + counts if counts else ''}")
    if not kept:
        raise UsageError("no readable image among the inputs")
    objects = [found for _, found in kept]
    paths = [str(file) for file, _ in kept]
    results = annotations.to_coco_dict(objects, names, paths, sizes, detections=True)
    (out / "detections.json").write_text(json.dumps(results) + "\n")
    # The same boxes as COCO ground truth: review them, then train on them (read_coco).
    annotations.write_coco(out / "annotations.json", objects, names, paths, sizes)
    total = sum(len(found["classes"]) for found in objects)
    print(
        f"{total} object(s) with a score of at least {args.score:g} in {len(kept)} image(s): "
        f"{len(written)} drawings, detections.json (COCO results) and annotations.json (COCO, to review and train on) "
        f"in {out}"
    )
    return 0


def add_parser(commands) -> None:
    """Registers ``detect``."""
    command = commands.add_parser(
        "detect",
        help="run a trained detector on images: boxes drawn, COCO JSON of the detections",
        description="Each image is resized to the detector's input size, its detections scaled back to the image's "
        "own pixels, drawn (<stem>_detections.png) and written as COCO results (detections.json) and as COCO "
        "annotations (annotations.json), which keras_geo.detection.annotations.read_coco reads back for training.",
    )
    command.add_argument("model", help="a .keras detector (e.g. exported from a detection search)")
    command.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER", help="image files and folders of images")
    command.add_argument("--out", required=True, help="output folder")
    command.add_argument(
        "--score", type=float, default=0.5, help="the lowest score of a detection kept, in [0, 1] (default 0.5)"
    )
    command.add_argument("--quiet", action="store_true", help="no progress bar, no line per image")
    command.set_defaults(run=_cmd_detect)

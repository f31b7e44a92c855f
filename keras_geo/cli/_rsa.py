"""``keras-geo-hpo rsa``: which layers of a model represent stimuli as the references do (representational similarity)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keras_geo.cli._common import UsageError, _load_model, _read_images

# At most this many layer RDMs in rdms.png (evenly spaced, first and last included); the CSV has all.
_SHOWN_LAYERS = 24
# keras_geo.explain.PROFILE_RDM_METHODS and COMPARISONS, spelled out: importing keras_geo.explain imports
# Keras, which the parser must not (the tests check that they agree).
_RDM_METHODS = ("correlation", "euclidean", "cosine")
_COMPARISONS = ("spearman", "tau_a", "pearson", "cosine")
# The built-in stimuli: 8 generated texture categories x 8, as report 001 (keras_geo.datasets.textures).
_TEXTURES_PER_CLASS = 8
_TEXTURES_SEED = 0


def _reference_specs(given: list[str]) -> list[tuple[str, Path]]:
    """``NAME=PATH`` pairs, each file present, names distinct."""
    specs: list[tuple[str, Path]] = []
    for text in given:
        name, sep, path = text.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise UsageError(f"--reference {text!r}: give NAME=PATH, e.g. --reference V4=v4_rdm.npy")
        if name in (n for n, _ in specs) or name in ("V1-like", "IT-like"):
            raise UsageError(f"--reference {text!r}: the name {name!r} is taken; give each reference its own name")
        if not Path(path).expanduser().is_file():
            raise UsageError(f"no such reference file: {path} (--reference {name})")
        specs.append((name, Path(path).expanduser()))
    return specs


def _image_size(model, path: str) -> tuple[int | None, int | None, int]:
    """``(height, width, channels)`` of the model's images (sizes None when the model takes any)."""
    shapes = [tuple(tensor.shape) for tensor in model.inputs]
    if len(shapes) != 1 or len(shapes[0]) != 4 or shapes[0][-1] not in (1, 3):
        raise UsageError(
            f"{path} takes inputs of shape {', '.join(str(s[1:]) for s in shapes)}: rsa needs a model of grey "
            "(height, width, 1) or RGB (height, width, 3) images"
        )
    _, height, width, channels = shapes[0]
    return height, width, int(channels)


def _textures(height: int | None, width: int | None, channels: int):
    """The 64 built-in textures at the model's size: (images, category per stimulus, stimulus names)."""
    import cv2
    import numpy as np

    from keras_geo.datasets.textures import texture_stimuli

    side = max(48, height or 64, width or 64)  # texture_stimuli draws at least 48 pixels a side
    images, labels, categories = texture_stimuli(_TEXTURES_PER_CLASS, side, seed=_TEXTURES_SEED)
    height, width = height or side, width or side
    if (height, width) != (side, side):  # by area, as image folders are shrunk
        images = np.stack([cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA) for image in images])
        images = images.reshape(len(images), height, width, 1)
    if channels == 3:
        images = np.repeat(images, 3, axis=-1)
    names = [f"{categories[label]}_{k % _TEXTURES_PER_CLASS}" for k, label in enumerate(labels)]
    return images, [categories[label] for label in labels], names


def _folder(root: Path, height: int | None, width: int | None, channels: int):
    """Images of a folder (one sub-folder per category, or images only), resized: (images, categories or None, names)."""
    import warnings

    import numpy as np

    from keras_geo.datasets import folders

    if not root.is_dir():
        raise UsageError(f"no such stimulus folder: {root} (give a folder of images, or 'textures')")
    mode = "grayscale" if channels == 1 else "rgb"
    subfolders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if subfolders:
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in folders.IMAGE_SUFFIXES)
    else:
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in folders.IMAGE_SUFFIXES)
    size = (height, width)
    if height is None or width is None:  # a model of any size: every image at the size of the first
        for file in files:
            try:
                raw = folders.read_raw(file)
            except folders.ImageFolderError:
                continue
            size = (height or int(raw.shape[0]), width or int(raw.shape[1]))
            break
    if None in size:
        raise UsageError(f"{root}: no readable image (RSA needs at least 3 stimuli)")
    if subfolders:
        with warnings.catch_warnings(record=True) as caught:  # junk files: one line on stderr, not a traceback
            warnings.simplefilter("always")
            try:
                found = folders.load_image_folder(root, size, color_mode=mode)
            except folders.ImageFolderError as error:
                raise UsageError(str(error)) from None
        for warning in caught:
            print(f"keras-geo-hpo rsa: {warning.message}", file=sys.stderr)
        names = [f"{Path(p).parent.name}/{Path(p).stem}" for p in found.paths]
        return found.x, [found.class_names[label] for label in found.y], names
    images, names = _read_images(files, size, mode, "rsa")
    if len(images) < 3:
        raise UsageError(f"RSA needs at least 3 stimuli; {root} holds {len(images)} readable image(s)")
    return np.stack(images), None, names


def _references(args: argparse.Namespace, specs, x, categories, names) -> dict:
    """Every reference's RDMs, each of the stimuli's number; a UsageError for the first that is not."""
    from keras_geo import explain

    n = len(x)
    references: dict = {}
    for name, path in specs:
        try:
            rdms = explain.load_reference(path, kind=args.reference_kind, method=args.rdm)
        except (ValueError, OSError) as error:
            raise UsageError(f"--reference {name}: {str(error).splitlines()[0]}") from None
        counts = sorted({r.n_stimuli for r in rdms})
        if counts != [n]:
            raise UsageError(
                f"--reference {name}: {path} describes {', '.join(map(str, counts))} stimuli, but --stimuli "
                f"{args.stimuli} holds {n}; a reference must describe the same stimuli in the same order"
            )
        references[name] = rdms
    if args.v1:
        height, width = x.shape[1:3]
        try:
            settings = {} if args.v1_frequencies is None else {"frequencies": tuple(args.v1_frequencies)}
            references["V1-like"] = explain.v1_reference(
                x, method=args.rdm, pool_size=min(16, height, width), **settings
            )
        except ValueError as error:
            raise UsageError(f"--v1: {error}") from None
    if args.it:  # categories known: textures, or a folder of sub-folders (checked before reading it)
        try:
            references["IT-like"] = explain.it_reference(categories, names=names)
        except ValueError as error:
            raise UsageError(f"--it: {error}") from None
    return references


def _shown(layers: tuple[str, ...]) -> list[str]:
    import numpy as np

    if len(layers) <= _SHOWN_LAYERS:
        return list(layers)
    return [layers[int(i)] for i in np.unique(np.linspace(0, len(layers) - 1, _SHOWN_LAYERS).round().astype(int))]


def _cmd_rsa(args: argparse.Namespace) -> int:
    if not Path(args.model).is_file():
        raise UsageError(f"no such model file: {args.model}")
    specs = _reference_specs(args.reference or [])
    if args.v1_frequencies is not None and not args.v1:
        raise UsageError("--v1-frequencies sets the V1-like reference: add --v1")
    if not specs and not args.v1 and not args.it:
        raise UsageError("no reference: give --reference NAME=PATH (a file of RDMs or responses), --v1 or --it")
    if args.stimuli != "textures":
        root = Path(args.stimuli).expanduser()
        if not root.is_dir():
            raise UsageError(f"no such stimulus folder: {args.stimuli} (give a folder of images, or 'textures')")
        if args.it and not any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir()):
            raise UsageError(
                f"--it needs the stimuli's categories: give a folder with one sub-folder per category "
                f"({args.stimuli} holds images only)"
            )
    model = _load_model(args.model)
    height, width, channels = _image_size(model, args.model)
    if args.stimuli == "textures":
        x, categories, names = _textures(height, width, channels)
    else:
        x, categories, names = _folder(Path(args.stimuli).expanduser(), height, width, channels)
    if len(x) < 3:
        raise UsageError(f"RSA needs at least 3 stimuli; {args.stimuli} holds {len(x)}")
    references = _references(args, specs, x, categories, names)

    import numpy as np

    from keras_geo import explain

    try:
        profile = explain.layer_profile(
            model,
            x,
            references,
            layers=args.layers,
            rdm_method=args.rdm,
            compare_method=args.compare,
            n_bootstrap=args.bootstrap,
            n_permutations=args.permutations,
            seed=args.seed,
            progress=not args.quiet,
        )
    except ValueError as error:  # in the command's terms: a dead layer's hint names --rdm, not the argument
        message = str(error).splitlines()[0].replace("use method='euclidean'", "use --rdm euclidean")
        raise UsageError(message) from None
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the output folder {out}: {error.strerror or error}") from None
    shown = _shown(profile.layers)
    pictures = {name: profile.rdms[name] for name in shown}
    for name, rdms in profile.reference_rdms.items():  # a reference of several RDMs: their mean
        pictures[name] = rdms[0] if len(rdms) == 1 else explain.RDM.from_matrix(np.mean([r.square() for r in rdms], 0))
    source = "the built-in textures" if args.stimuli == "textures" else args.stimuli
    explain.plot_profile(profile, out / "profile.png", title=f"{Path(args.model).name} on {len(x)} stimuli ({source})")
    explain.plot_rdms(pictures, out / "rdms.png", labels=categories, rank=True)
    profile.to_csv(out / "rsa.csv")
    profile.to_json(out / "rsa.json", model=str(args.model), stimuli=str(args.stimuli), stimulus_names=names)
    print(profile.to_text())
    for name in profile.references:
        print(f"most similar to {name}: {profile.best_layer(name)}")
    note = f" (rdms.png shows {len(shown)} of {len(profile.layers)} layers)" if len(shown) < len(profile.layers) else ""
    print(f"profile.png, rdms.png, rsa.csv and rsa.json written to {out}{note}")
    return 0


def _count(text: str) -> int:
    value = int(text)
    if value < 0 or value == 1:
        raise argparse.ArgumentTypeError(f"must be 0 (none) or >= 2, got {value}")
    return value


def add_parser(commands) -> None:
    """Registers ``rsa``."""
    command = commands.add_parser(
        "rsa",
        help="representational similarity analysis: each layer's similarity to reference RDMs, with CIs and p-values",
        description="Each layer's responses to the stimuli give an RDM, compared with each reference's RDM; "
        "bootstrap intervals resample the stimuli, p-values permute them (one-sided, uncorrected), references of "
        "several RDMs (subjects, repeats) get a noise ceiling. Writes profile.png, rdms.png, rsa.csv, rsa.json.",
    )
    command.add_argument("model", help="a .keras model of images (functional or Sequential; nested models allowed)")
    command.add_argument(
        "--stimuli",
        required=True,
        metavar="DIR|textures",
        help="a folder of images (one sub-folder per category gives categories) or 'textures' "
        "(64 generated textures, 8 categories; a folder called textures: ./textures); images are resized to the "
        "model's input size",
    )
    command.add_argument(
        "--reference",
        action="append",
        metavar="NAME=PATH",
        help="a reference from a .npy/.npz/.csv file: an (n, n) RDM, a (k, n, n) stack (noise ceiling), or "
        "(n, units) responses; repeatable",
    )
    command.add_argument(
        "--reference-kind",
        choices=("auto", "rdm", "responses"),
        default="auto",
        help="how to read the reference files: auto (square: RDMs, else responses; default), rdm, responses",
    )
    command.add_argument("--v1", action="store_true", help="add the V1-like reference (a Gabor-energy model)")
    command.add_argument(
        "--v1-frequencies",
        nargs="+",
        type=float,
        metavar="F",
        help="the V1-like model's spatial frequencies in cycles per pixel, each in (0, 0.5) (default 1/16 1/8 1/4); "
        "0.25 alone puts it at the scale of a first layer of 3x3 convolutions",
    )
    command.add_argument("--it", action="store_true", help="add the IT-like reference (the category model)")
    command.add_argument("--layers", nargs="+", metavar="L", help="layers to profile (default: conv, pooling, dense)")
    command.add_argument(
        "--rdm", choices=_RDM_METHODS, default="correlation", help="the RDMs' distance (default correlation)"
    )
    command.add_argument(
        "--compare", choices=_COMPARISONS, default="spearman", help="the comparison of RDMs (default spearman)"
    )
    command.add_argument(
        "--bootstrap", type=_count, default=1000, metavar="N", help="bootstrap samples, 0 for no CIs (default 1000)"
    )
    command.add_argument(
        "--permutations", type=_count, default=1000, metavar="N", help="permutations, 0 for no p (default 1000)"
    )
    command.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and permutations (default 0)")
    command.add_argument("--out", required=True, help="output folder")
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.set_defaults(run=_cmd_rsa)

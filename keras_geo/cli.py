"""``keras-geo-hpo``: the command line.

    keras-geo-hpo search CONFIG.yaml [--store PATH] [--strategy S] [--workers N] [--trials N] [--seed S]
                                     [--warm-start OLD_STORE] [--backend serial|local|mpi|horovod]
    keras-geo-hpo resume STORE [--backend B] [--workers N]
    mpiexec -n 4 keras-geo-hpo search CONFIG.yaml --backend mpi          # one rank per GPU, any nodes
    horovodrun -np 4 keras-geo-hpo search CONFIG.yaml --backend horovod
    keras-geo-hpo status STORE [--json]
    keras-geo-hpo report STORE [--out DIR]
    keras-geo-hpo export STORE --out BEST.keras
    keras-geo-hpo models
    keras-geo-hpo explain MODEL.keras IMAGES_OR_FOLDER... --out DIR [--method gradcam|gradcam++|cam] [--class C]
    keras-geo-hpo train [--fov NM] [--train N] ...     # one filler CNN, per-class table

Errors a user can fix (a bad config key, a missing file, a store that is not a
store) print one line and exit with status 2, never a traceback. A search that
stops on a fatal trial error exits 1; Ctrl-C exits 130 and says how to resume.

Under a launcher every rank runs the same command: rank 0 drives the search and
prints, the other ranks train their share of each round and exit quietly
(:mod:`hpo.distributed`). Each rank is pinned to its device before TensorFlow is
imported, which is why the backend is settled before the configuration is read.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from keras_geo import _console


class UsageError(Exception):
    """An error in what the user asked for: printed as one line, exit status 2."""


class LaunchError(UsageError):
    """A launch that every rank refuses alike: rank 0 prints it and exits 2, the others exit quietly.

    The others exit with status 0: a rank ending non-zero makes the launcher kill the job,
    possibly before rank 0 has printed why.
    """


def _store(path: str, *, must_exist: bool = True):
    from hpo.store import TrialStore

    if must_exist and not Path(path).is_file():
        raise UsageError(f"no such store: {path}")
    store = TrialStore(path)
    if store.get_search() is None:
        raise UsageError(f"{path} holds no search yet")
    return store


DISTRIBUTED = ("mpi", "horovod")


def _launched_backend(flag: str | None) -> str | None:
    """The backend fixed before any configuration is read: ``--backend``, or the launcher's.

    A process started by ``mpiexec``/``srun``/``horovodrun`` as one of several ranks
    joins that job even without ``--backend``; asking such a rank for a one-process
    backend is refused, since every rank would then write the same store.
    """
    from hpo.distributed import launcher_world

    launched, _, size = launcher_world()
    if size > 1 and flag in ("serial", "local"):
        raise LaunchError(
            f"started as one of {size} ranks by a launcher, but --backend {flag} runs in one process; "
            f"use --backend {launched}, or start keras-geo-hpo without the launcher"
        )
    if flag is None and size > 1:
        return launched
    return flag


def _spmd(backend: str, drive) -> int:
    """Runs ``drive(executor)`` on rank 0 of a distributed job; the other ranks serve trials."""
    from hpo import distributed
    from hpo.executors import join

    try:
        collective = distributed.connect(backend)
    except RuntimeError as error:
        raise UsageError(str(error)) from error
    # Pinned before TensorFlow is imported (the configuration's validation imports it).
    executor = join(collective)
    if executor is None:  # a rank other than 0: it served its trials until rank 0 stopped
        return 0
    try:
        return drive(executor)
    finally:
        executor.close()  # releases the other ranks on every way out, errors included


def _run_search(store, config: dict, warm_start=None, executor=None) -> int:
    from hpo.loop import SearchAborted
    from keras_geo import search

    if executor is None:
        executor = search.make_executor(config)
    kind = "rank(s)" if config["executor"]["name"] in DISTRIBUTED else "worker(s)"
    print(
        f"Search {config['name']!r}: {config['strategy']['name']} over {len(config['space'])} parameters, "
        f"{executor.n_workers} {config['executor']['name']} {kind}, {config['mode']} mode, "
        f"budget {config['budget']['trials']} trials, seed {config['seed']}\nstore: {store.path}",
        flush=True,
    )
    try:
        summary = search.run(store, progress=True, warm_start=warm_start, executor=executor)
    except SearchAborted as error:
        print(f"keras-geo-hpo: search stopped: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\nkeras-geo-hpo: interrupted; running trials are marked interrupted. "
            f"Resume with: keras-geo-hpo resume {store.path}",
            file=sys.stderr,
        )
        return 130
    best = summary.best
    print(
        f"{summary.stopped}: {summary.done} done ({summary.cache_hits} cache hits, {summary.replayed} taken "
        f"from the store), {summary.failed} failed, in {summary.elapsed_s:.0f} s"
    )
    if best is not None:
        print(f"best of this search: trial {best.id}, {config['objective']['metric']} = {best.value:.4f}, params {best.params}")
    return 0


def _on_backend(args: argparse.Namespace, body, backend: str | None = None) -> int:
    """Runs ``body(args, backend, executor)``: on rank 0 of a job for mpi/horovod, else as is."""
    backend = backend or _launched_backend(args.backend)
    if backend in DISTRIBUTED:
        return _spmd(backend, lambda executor: body(args, backend, executor))
    return body(args, backend, None)


def _cmd_search(args: argparse.Namespace) -> int:
    return _on_backend(args, _search)


def _search(args: argparse.Namespace, backend: str | None, executor=None) -> int:
    from keras_geo import config as configuration
    from keras_geo import search

    overrides = {
        "store": args.store,
        "strategy.name": args.strategy,
        "executor.name": backend,
        "executor.workers": args.workers,
        "budget.trials": args.trials,
        "seed": args.seed,
    }
    if args.strategy is not None:
        overrides["strategy.settings"] = {}  # settings belong to the YAML's strategy
    config = configuration.load_config(args.config, overrides)
    if executor is None and config["executor"]["name"] in DISTRIBUTED:
        # Named by the configuration only, and started without a launcher: one rank.
        return _on_backend(args, _search, config["executor"]["name"])
    warm_start = _store(args.warm_start) if args.warm_start else None
    store = search.open_store(config)
    try:
        return _run_search(store, config, warm_start, executor)
    finally:
        store.close()  # gives the writer lock back
        if warm_start is not None:
            warm_start.close()


def _cmd_resume(args: argparse.Namespace) -> int:
    return _on_backend(args, _resume)


def _resume(args: argparse.Namespace, backend: str | None, executor=None) -> int:
    store = _store(args.store)
    store.acquire_lock()  # refused at once if a search still runs on it
    config = store.get_search().config
    # Any backend resumes any store: this run's executor may differ from the stored one.
    config["executor"] = {**config["executor"], **({"name": backend} if backend else {}),
                          **({"workers": args.workers} if args.workers else {})}
    if executor is None and config["executor"]["name"] in DISTRIBUTED:
        store.close()  # reopened on rank 0 of the job
        return _on_backend(args, _resume, config["executor"]["name"])
    try:
        return _run_search(store, config, executor=executor)
    finally:
        store.close()


def _cmd_status(args: argparse.Namespace) -> int:
    from hpo import report

    figures = report.summary(_store(args.store))
    print(json.dumps(figures, indent=2) if args.json else report.format_status(figures))
    return 0


def _grad_cam_section(store, out: Path) -> tuple[str, str] | None:
    """Grad-CAM overlays of the store's best model on validation images, as a report section."""
    artifact = store.get_meta("best_artifact")
    if not artifact or not Path(artifact).is_file():
        return None
    from keras_geo import explain
    from keras_geo.search import load_data

    trial = store.get_trial(int(store.get_meta("best_trial")))
    config = (store.get_search(trial.search_id) or store.get_search()).config  # the search that trained it
    try:
        data, class_names = load_data(config["dataset"])
        model = _load_model(artifact)
        x, y = data["val"]
        chosen = explain.pick_per_class(y, per_class=2)
        explained = explain.explain_to_files(
            model, x[chosen], out, class_names=class_names, true_labels=y[chosen], grid_name="gradcam_best.png",
            grid_rows=len(chosen), overlays=False, title=f"Grad-CAM of the best model (trial {trial.id})",
        )
    except Exception as error:  # the report stands without the images; say why
        return "Grad-CAM of the best model", f"Not drawn: {type(error).__name__}: {error}"
    correct = sum(int(p == t) for p, t in zip(explained.predicted, y[chosen]))
    text = (
        f"Two validation images per class through the best model (trial {trial.id}, "
        f"`{Path(artifact).name}`), {correct} of {len(chosen)} classified correctly. Each row: the image, "
        "the Grad-CAM heatmap of the predicted class (last convolutional layer, red = the regions that raise "
        "the class score most), and the two blended.\n\n"
        f"![Grad-CAM of the best model]({explained.grid.name})"
    )
    return "Grad-CAM of the best model", text


def _cmd_report(args: argparse.Namespace) -> int:
    from hpo import report

    store = _store(args.store)
    out = Path(args.out or Path(args.store).parent / "report")
    out.mkdir(parents=True, exist_ok=True)
    section = None if args.no_gradcam else _grad_cam_section(store, out)
    if section is None:
        (out / "gradcam_best.png").unlink(missing_ok=True)  # not from an earlier report
    files = report.write_report(store, out, extra_sections=[section] if section else ())
    drawn = [*files.plots.values(), *([out / "gradcam_best.png"] if (out / "gradcam_best.png").is_file() else [])]
    print(f"report: {files.markdown} and {files.html}; plots: {', '.join(str(p) for p in drawn)}")
    return 0


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
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in folders.IMAGE_SUFFIXES) \
            if path.is_dir() else [path]
        for file in files:
            try:
                images.append(folders.read_image(file, size, color_mode=color_mode))
            except folders.ImageFolderError as error:
                print(f"keras-geo-hpo explain: skipped {error}", file=sys.stderr)
                continue
            names.append(file.stem)
            labels.append(None)
    if not images:
        raise UsageError("no readable image among the inputs")
    true = None if any(label is None for label in labels) else labels
    return np.stack(images), names, true, classes


def _load_model(path: str | Path):
    """A ``.keras`` file loaded with ``safe_mode`` (no code inside it runs); a clear error otherwise."""
    import keras

    import keras_geo  # noqa: F401  (registers custom objects before loading)

    try:
        return keras.models.load_model(path, safe_mode=True)
    except ValueError as error:
        if "safe_mode" in str(error):
            raise UsageError(
                f"refusing to load {path}: it holds Python code (a lambda) that would run on loading. "
                f"Load it with keras.models.load_model(..., safe_mode=False) only if you trust its origin"
            ) from None
        raise UsageError(f"cannot load {path} as a Keras model: {str(error).splitlines()[0]}") from None
    except (OSError, KeyError, TypeError) as error:  # a damaged zip, a foreign or truncated file
        raise UsageError(f"cannot load {path} as a Keras model ({type(error).__name__}: {error})") from None


def _cmd_explain(args: argparse.Namespace) -> int:
    if not Path(args.model).is_file():
        raise UsageError(f"no such model file: {args.model}")
    from keras_geo import explain

    model = _load_model(args.model)
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
        explained = explain.explain_to_files(model, x, args.out, method=args.method, class_index=target,
                                             layer=args.layer, class_names=class_names, true_labels=true,
                                             names=names)
    except ValueError as error:  # e.g. cam() on a model without a GAP + dense ending, an unknown layer
        raise UsageError(str(error)) from error
    for name, predicted, confidence in zip(names, explained.predicted, explained.confidence):
        label = class_names[predicted] if class_names is not None else str(predicted)
        print(f"{name}: {label} ({confidence:.0%})")
    print(f"{len(names)} overlays and {explained.grid} written to {args.out}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    store = _store(args.store)
    artifact = store.get_meta("best_artifact")
    if not artifact or not Path(artifact).is_file():
        raise UsageError(f"{args.store} has no saved best model (no trial finished, or its file was removed)")
    # safe_mode refuses any code (lambdas) inside the file; the model is checked before it is handed out.
    model = _load_model(artifact)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(artifact, out)
    trial = store.get_trial(int(store.get_meta("best_trial")))
    print(f"exported trial {trial.id} ({model.name}, {model.count_params():,} parameters, value {trial.value:.4f}) to {out}")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``keras-geo-hpo`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="keras-geo-hpo",
        description="keras-geo: scientific image recognition with parallel hyperparameter search.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help=f"show the libraries' own logging (TensorFlow's start-up lines, warnings with their source); "
             f"{_console.LOG_VARIABLE}=verbose does the same",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    search = commands.add_parser("search", help="run a search from a YAML configuration")
    search.add_argument("config", help="YAML configuration (see data/configs/)")
    search.add_argument("--store", help="trial store file (default runs/<name>/store.db)")
    search.add_argument("--strategy", help="override strategy.name (its YAML settings are dropped)")
    search.add_argument("--workers", type=_positive, help="override executor.workers")
    search.add_argument("--trials", type=_positive, help="override budget.trials")
    search.add_argument("--seed", type=int, help="override seed")
    search.add_argument(
        "--warm-start", metavar="STORE", help="an earlier store whose trained parameter sets are reused (cache)"
    )
    backend_help = ("override executor.name: serial, local (process pool), mpi or horovod (under mpiexec/srun/"
                    "horovodrun; the launcher's backend is the default there)")
    search.add_argument("--backend", choices=("serial", "local", *DISTRIBUTED), help=backend_help)
    search.set_defaults(run=_cmd_search)

    resume = commands.add_parser("resume", help="continue the latest search of a store (with any backend)")
    resume.add_argument("store")
    resume.add_argument("--backend", choices=("serial", "local", *DISTRIBUTED), help=backend_help)
    resume.add_argument("--workers", type=_positive, help="override executor.workers (local backend)")
    resume.set_defaults(run=_cmd_resume)

    status = commands.add_parser("status", help="counts, best trial and failures of a store")
    status.add_argument("store")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=_cmd_status)

    report = commands.add_parser("report", help="plots and a Markdown/HTML summary of a store")
    report.add_argument("store")
    report.add_argument("--out", help="output folder (default: report/ beside the store)")
    report.add_argument("--no-gradcam", action="store_true", help="leave out the best model's Grad-CAM images")
    report.set_defaults(run=_cmd_report)

    explain = commands.add_parser("explain", help="Grad-CAM / Grad-CAM++ / CAM overlays of a model on images")
    explain.add_argument("model", help="a .keras model file")
    explain.add_argument("inputs", nargs="+", metavar="IMAGES_OR_FOLDER",
                         help="image files, folders of images, or a folder with one sub-folder per class")
    explain.add_argument("--out", required=True, help="output folder for the overlays and grid.png")
    explain.add_argument("--method", choices=("gradcam", "gradcam++", "cam"), default="gradcam",
                         help="default gradcam")
    explain.add_argument("--class", dest="class_", metavar="C",
                         help="class to explain, index or name (default: each image's predicted class)")
    explain.add_argument("--layer", help="feature layer (default: the last 4-D layer, nested models included)")
    explain.add_argument("--class-names", help="comma-separated class names, in the model's output order")
    explain.set_defaults(run=_cmd_explain)

    export = commands.add_parser("export", help="write the best trial's model as a .keras file")
    export.add_argument("store")
    export.add_argument("--out", required=True, help="destination .keras file")
    export.set_defaults(run=_cmd_export)

    listing = commands.add_parser("models", help="list the registered model builders")
    listing.set_defaults(run=_cmd_models)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``keras-geo-hpo`` console script."""
    args = build_parser().parse_args(argv)
    # Before anything imports TensorFlow: its C++ start-up chatter (CUDA probing, oneDNN, CPU
    # features) says nothing a user can act on, here and in every worker. --verbose shows it.
    _console.configure(verbose_output=True if args.verbose else None, program="keras-geo-hpo")
    from hpo.store import StoreError
    from keras_geo.config import ConfigError

    try:
        return args.run(args)
    except (UsageError, ConfigError, StoreError) as error:
        from hpo.distributed import launcher_world

        if launcher_world()[1] == 0:  # under a launcher, rank 0 speaks for all
            print(f"keras-geo-hpo {args.command}: error: {error}", file=sys.stderr)
        elif isinstance(error, LaunchError):
            return 0
        return 2


if __name__ == "__main__":
    sys.exit(main())

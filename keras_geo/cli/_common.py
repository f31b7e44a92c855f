"""What several commands share: the errors, opening a store, loading a model, the backend and launcher."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


class UsageError(Exception):
    """An error in what the user asked for: printed as one line, exit status 2."""


class LaunchError(UsageError):
    """A launch that every rank refuses alike: rank 0 prints it and exits 2, the others exit quietly.

    The others exit with status 0: a rank ending non-zero makes the launcher kill the job,
    possibly before rank 0 has printed why.
    """


def config_path(given: str) -> Path:
    """The configuration file a command was given: a path that exists, else a shipped configuration's name.

    ``filler_ga_tpe`` (or ``filler_ga_tpe.yaml``) is the packaged ``keras_geo/configs/filler_ga_tpe.yaml``
    unless a file of that name exists here. A missing path (one with a folder or a YAML suffix) is left
    to :func:`keras_geo.config.load_config`, which says "no such file"; an unknown bare name is a
    one-line :class:`UsageError` listing the shipped names.
    """
    path = Path(given).expanduser()
    if path.exists():
        return path
    from keras_geo.config import shipped_configs

    shipped = shipped_configs()
    stem = given[: -len(".yaml")] if given.endswith(".yaml") else given
    if stem in shipped and len(path.parts) == 1:
        return shipped[stem]
    if path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        return path
    raise UsageError(f"no such configuration file or shipped configuration: {given}; shipped: {', '.join(shipped)}")


def _store(path: str, *, must_exist: bool = True):
    from hpo.store import TrialStore

    if must_exist and not Path(path).is_file():
        raise UsageError(f"no such store: {path}")
    store = TrialStore(path)
    if store.get_search() is None:
        raise UsageError(f"{path} holds no search yet")
    return store


DISTRIBUTED = ("mpi", "horovod", "mpi_async")


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
        collective = distributed.connect("mpi" if backend == "mpi_async" else backend)
    except RuntimeError as error:
        raise UsageError(str(error)) from error
    # Pinned before TensorFlow is imported (the configuration's validation imports it).
    executor = join(collective, asynchronous=backend == "mpi_async")
    if executor is None:  # a rank other than 0: it served its trials until rank 0 stopped
        return 0
    try:
        return drive(executor)
    finally:
        executor.close()  # releases the other ranks on every way out, errors included


def _launcher_chose(args: argparse.Namespace, backend: str | None) -> bool:
    """Whether ``backend`` is the launcher's default (``mpiexec`` without ``--backend``), not asked for."""
    return args.backend is None and backend == "mpi"


def _pool_if_named(executor, name: str):
    """Rank 0's executor for a configuration that names ``mpi_async`` in a job the launcher started as ``mpi``.

    The other ranks joined the lock-step rounds before rank 0 read the configuration: they are
    switched to the asynchronous pool (:meth:`hpo.executors.MPIPoolExecutor.take_over`).
    """
    from hpo.executors import CollectiveExecutor, MPIPoolExecutor

    if name == "mpi_async" and isinstance(executor, CollectiveExecutor) and executor.collective.backend == "mpi":
        return MPIPoolExecutor.take_over(executor)
    return executor


def _on_backend(args: argparse.Namespace, body, backend: str | None = None) -> int:
    """Runs ``body(args, backend, executor)``: on rank 0 of a job for mpi/horovod, else as is."""
    backend = backend or _launched_backend(args.backend)
    if backend in DISTRIBUTED:
        return _spmd(backend, lambda executor: body(args, backend, executor))
    return body(args, backend, None)


def _read_images(files, size, color_mode: str, command: str) -> tuple[list, list[str]]:
    """The images among ``files`` at ``size`` and their file stems; a file that is no image is named on stderr, skipped."""
    from keras_geo.datasets import folders

    images, names = [], []
    for file in files:
        try:
            images.append(folders.read_image(file, size, color_mode=color_mode))
        except folders.ImageFolderError as error:
            print(f"keras-geo-hpo {command}: skipped {error}", file=sys.stderr)
            continue
        names.append(file.stem)
    return images, names


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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value

"""The bridge between Keras and the search engine: a config becomes an ``hpo`` objective and a search.

:class:`KerasObjective` is what the workers run: given a params dict from the
strategy, it merges the fixed builder arguments and training settings of the
configuration, trains with :func:`keras_geo.training.train`, saves the model as
the trial's artifact (the loop keeps only the best one, so ``export`` needs no
retraining), and returns the objective metric, every scalar metric, the per-class
report and the per-epoch history.

:func:`run` wires a validated configuration into :func:`hpo.loop.run_search`:
store, strategy, executor (device pinning included) and budget.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from hpo import executors, strategies
from hpo.devices import WorkerDevice, plan_devices
from hpo.executors import FatalError
from hpo.loop import Budget, SearchSummary, run_search
from hpo.space import Space
from hpo.store import TrialStore
from keras_geo import _console
from keras_geo.config import ConfigError
from keras_geo.datasets.checks import NonFiniteData, require_finite

__all__ = ["KerasObjective", "load_data", "open_store", "run"]


def load_data(dataset: dict[str, Any]) -> tuple[dict[str, tuple], tuple[str, ...]]:
    """Loads the data set a config names: ``({"train": (x, y), "val": ..., "test": ...}, class_names)``.

    ``filler`` and ``shapes`` are generated (filler is cached on disk), ``npz`` and
    ``folder`` are read from your files.
    """
    import numpy as np

    if dataset["name"] == "filler":
        from keras_geo.datasets import filler

        args = {k: v for k, v in dataset.items() if k not in ("name", "n_train", "n_val", "n_test")}
        splits = filler.make_splits(dataset["n_train"], dataset["n_val"], dataset["n_test"], **args)
        return splits, tuple(filler.CLASSES)
    if dataset["name"] == "shapes":
        from keras_geo.datasets import shapes

        # Three independent draws (seed, seed + 1, seed + 2): no image is in two splits.
        parts = {split: shapes.make_shapes(dataset[f"n_{split}"], dataset["image_size"], seed=dataset["seed"] + i)
                 for i, split in enumerate(("train", "val", "test"))}
        return {split: (part.x, part.y) for split, part in parts.items()}, tuple(shapes.CLASSES)
    if dataset["name"] == "folder":
        from keras_geo.datasets import folders

        found = folders.load_image_folder(dataset["path"], dataset["image_size"], color_mode=dataset["color_mode"])
        return folders.split(found.x, found.y, dataset["validation_split"], seed=dataset["seed"]), found.class_names
    with np.load(dataset["path"], allow_pickle=False) as arrays:
        missing = [k for k in ("x_train", "y_train", "x_val", "y_val") if k not in arrays]
        if missing:
            raise ValueError(f"dataset.path: {dataset['path']} lacks the arrays {missing}")
        splits = {"train": (arrays["x_train"], arrays["y_train"]), "val": (arrays["x_val"], arrays["y_val"])}
        if "x_test" in arrays and "y_test" in arrays:
            splits["test"] = (arrays["x_test"], arrays["y_test"])
        n_classes = int(max(int(np.max(y)) for _, y in splits.values())) + 1
        names = tuple(str(n) for n in arrays["class_names"]) if "class_names" in arrays else tuple(
            str(i) for i in range(n_classes)
        )
    return splits, names


def _configure_framework(device: WorkerDevice, threads: int | None = None) -> None:
    """Per-worker TensorFlow set-up: threads, and GPU memory growth or a memory cap, as the device plan asks.

    Args:
        device: The worker's device; its plan set ``TF_NUM_INTRAOP_THREADS`` and
            ``TF_NUM_INTEROP_THREADS`` in the environment.
        threads: Intra-op threads every trial of the search runs on (``executor.threads``),
            over the plan's: a serial search or an MPI rank gets them too. Defaults to the plan's.
    """
    import tensorflow as tf

    wanted = {
        "intra": threads or int(os.environ.get("TF_NUM_INTRAOP_THREADS") or 0),
        "inter": min(2, threads) if threads else int(os.environ.get("TF_NUM_INTEROP_THREADS") or 0),
    }
    # The Python API makes sure TensorFlow uses them: the runtime is not initialised yet when setup runs.
    for kind, setter, getter in (
        ("intra", tf.config.threading.set_intra_op_parallelism_threads,
         tf.config.threading.get_intra_op_parallelism_threads),
        ("inter", tf.config.threading.set_inter_op_parallelism_threads,
         tf.config.threading.get_inter_op_parallelism_threads),
    ):
        if not wanted[kind]:
            continue
        try:
            setter(wanted[kind])
        except RuntimeError:  # already initialised (a serial search in a used process): keep its threads
            if threads and kind == "intra" and getter() != threads:
                warnings.warn(
                    f"trials run on TensorFlow's {getter() or 'default'} intra-op threads, not "
                    f"executor.threads={threads}: this process started TensorFlow before the search, so "
                    f"values may differ in the last digits from the same search in a fresh process",
                    stacklevel=2,
                )
    limit = os.environ.get("KERAS_GEO_GPU_MEMORY_MB")
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            if limit:
                tf.config.set_logical_device_configuration(
                    gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=int(limit))]
                )
            else:
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            # This process already used the GPU (a serial search in a notebook): its
            # configuration is fixed now, and the search runs with it.
            pass


def _intra_op_threads() -> int:
    import tensorflow as tf

    return int(tf.config.threading.get_intra_op_parallelism_threads())


class KerasObjective:
    """Trains one model per trial from a validated configuration (picklable: plain data only).

    Args:
        config: A configuration from :func:`keras_geo.config.validate_config`.
        artifact_dir: Folder for the trials' saved models.
        data: The data set already loaded (:func:`load_data`'s pair), for trials run in this
            process; it never travels to worker processes, which load their own. Defaults to
            `None`: loaded in :meth:`setup`.
    """

    def __init__(self, config: dict[str, Any], artifact_dir: str | Path,
                 data: tuple[dict[str, tuple], tuple[str, ...]] | None = None) -> None:
        self.config = config
        self.artifact_dir = str(artifact_dir)
        self._data: dict[str, tuple] | None = None
        self._class_names: tuple[str, ...] = ()
        if data is not None:
            self._data, self._class_names = data

    def __getstate__(self) -> dict[str, Any]:
        # Workers load the data themselves (from the on-disk cache), never through the pipe.
        return {"config": self.config, "artifact_dir": self.artifact_dir, "_data": None, "_class_names": ()}

    def setup(self, device: WorkerDevice) -> None:
        """Called once per worker: console, framework set-up and data loading."""
        _console.configure_worker()  # before TensorFlow is imported: quiet as its driver is
        _configure_framework(device, self.config["executor"].get("threads"))
        if self._data is not None:  # given to the constructor
            return
        try:
            # The driver loaded this data set before any worker started and showed its warnings
            # (skipped files, ...); each worker repeating them says nothing new.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._data, self._class_names = load_data(self.config["dataset"])
        except (OSError, ValueError) as error:
            raise FatalError(f"cannot load the data set: {error}") from error

    def __call__(self, params: dict[str, Any], *, seed: int, trial_id: int) -> dict[str, Any]:
        from keras_geo import training

        if self._data is None:
            self.setup(WorkerDevice(0, "local"))
        merged = {**self.config["model"]["fixed"], **self.config["training"], **params}
        result = training.train(
            self.config["model"]["builder"], self._data, merged, seed=seed, class_names=self._class_names
        )
        metric = self.config["objective"]["metric"]
        if metric not in result.metrics:
            raise FatalError(
                f"objective.metric: {metric!r} is not a metric of the training; allowed: "
                f"{', '.join(sorted(result.metrics))}"
            )
        Path(self.artifact_dir).mkdir(parents=True, exist_ok=True)
        artifact = str(Path(self.artifact_dir) / f"trial_{trial_id}.keras")
        result.model.save(artifact)
        metrics: dict[str, Any] = dict(result.metrics)
        metrics["artifact"] = artifact
        # Intra-op threads the trial ran on (0: TensorFlow's default, all cores): CPU results depend on it.
        metrics["threads"] = _intra_op_threads()
        metrics["reports"] = {split: report.to_dict() for split, report in result.reports.items()}
        return {"value": result.metrics[metric], "metrics": metrics, "history": result.history}


def open_store(config: dict[str, Any], *, new_search: bool = True) -> TrialStore:
    """Opens (creating folders as needed) the store a configuration names; adds a search if asked.

    Adding a search takes the store's writer lock (:class:`hpo.store.StoreLocked` if another
    search or resume holds it); closing the store gives it back.
    """
    path = Path(config["store"])
    path.parent.mkdir(parents=True, exist_ok=True)
    store = TrialStore(path)
    if new_search:
        try:
            store.acquire_lock()  # before the new search is written: a second driver adds nothing
        except BaseException:
            store.close()
            raise
        store.create_search(config, seed=config["seed"], name=config["name"],
                            metric=config["objective"]["metric"], direction=config["objective"]["direction"])
    return store


def make_executor(config: dict[str, Any]) -> executors.Executor:
    """The serial or local executor of a configuration, with each worker pinned to its device.

    The ``mpi`` and ``horovod`` executors belong to a launched job: the CLI builds them on
    rank 0 (:func:`keras_geo.cli.main`) and passes them to :func:`run`.
    """
    settings = config["executor"]
    if settings["name"] in ("mpi", "horovod"):
        raise ValueError(
            f"executor {settings['name']!r} runs under a launcher: "
            f"mpiexec/horovodrun ... keras-geo-hpo search CONFIG --backend {settings['name']}"
        )
    if settings["name"] == "serial":
        return executors.SerialExecutor()
    devices = plan_devices(
        settings["workers"],
        gpus=settings["gpus"],
        workers_per_gpu=settings["workers_per_gpu"],
        gpu_memory_mb=settings["gpu_memory_mb"],
        threads=settings.get("threads"),  # stores written before it existed lack the key
    )
    return executors.LocalExecutor(
        settings["workers"], devices=devices, max_trials_per_worker=settings["max_trials_per_worker"]
    )


def run(
    store: TrialStore,
    *,
    progress: bool = True,
    warm_start: TrialStore | None = None,
    executor: executors.Executor | None = None,
) -> SearchSummary:
    """Runs (or resumes) the latest search of ``store`` with the configuration stored in it.

    Args:
        store: A store holding the search (:func:`open_store`).
        progress: Show a progress bar. Defaults to `True`.
        warm_start: Another store whose trained parameter sets are reused.
        executor: Runs the trials. Defaults to :func:`make_executor` of the stored
            configuration; a resume may pass another (any backend resumes any store).

    Raises:
        keras_geo.config.ConfigError: the data set cannot be loaded, or holds NaN or infinite
            values (both checked before any trial).
    """
    info = store.get_search()
    if info is None:
        raise ValueError(f"{store.path} holds no search")
    config = info.config
    executor = executor or make_executor(config)
    if isinstance(executor, executors.CollectiveExecutor) and config["executor"]["gpu_memory_mb"]:
        executor.worker_env["KERAS_GEO_GPU_MEMORY_MB"] = str(config["executor"]["gpu_memory_mb"])
    space = Space.from_dict(config["space"])
    strategy = strategies.get(config["strategy"]["name"], space, seed=config["seed"], **config["strategy"]["settings"])
    budget = Budget(**config["budget"])
    # Load (generate and cache) the data set once here, before any worker starts: a data set that
    # cannot be read stops the search at once with one line, and workers then read the cache.
    try:
        data = load_data(config["dataset"])
    except (OSError, ValueError) as error:
        raise ConfigError(f"dataset: cannot load the data set: {error}") from error
    try:
        require_finite(data[0])
    except NonFiniteData as error:
        raise ConfigError(f"dataset: {error}") from None
    # Absolute, so that workers and later `export` find the models from any folder.
    # A serial search trains in this process: it keeps the data loaded here (workers load their own).
    objective = KerasObjective(config, Path(store.path).resolve().parent / "models",
                               data=data if isinstance(executor, executors.SerialExecutor) else None)
    return run_search(
        objective,
        strategy,
        store,
        executor,
        budget,
        seed=config["seed"],
        metric=config["objective"]["metric"],
        direction=config["objective"]["direction"],
        synchronous=config["mode"] == "sync",
        batch_size=config["batch_size"],
        progress=progress,
        warm_start=warm_start,
    )

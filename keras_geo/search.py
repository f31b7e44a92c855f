"""The bridge between Keras and the search engine: a config becomes an ``hpo`` objective and a search.

:class:`KerasObjective` is what the workers run: given a params dict from the
strategy, it merges the fixed builder arguments and training settings of the
configuration, trains with :func:`keras_geo.training.train` on the configuration's
data set and task, saves the model as the trial's artifact (the loop keeps only the
best one, so ``export`` needs no retraining), and returns the objective metric,
every scalar metric, the task's report of each split and the per-epoch history.

:func:`run` wires a validated configuration into :func:`hpo.loop.run_search`:
store, strategy, executor (device pinning included) and budget, and the search's experiment
tracking (:mod:`keras_geo.tracking`): TensorBoard logs written by each trial, MLflow runs
logged by the driver.
:func:`sample_section` draws the task's view of a store's best model for its report.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from hpo import executors, pruners, strategies
from hpo.devices import WorkerDevice, plan_devices
from hpo.executors import FatalError
from hpo.loop import Budget, SearchSummary, run_search
from hpo.space import Space
from hpo.store import TrialStore
from keras_geo import _console
from keras_geo.config import Config, ConfigError, make_pruner

__all__ = ["KerasObjective", "load_data", "make_executor", "open_store", "run", "sample_section", "stored_config"]


def load_data(config: Config):
    """The :class:`~keras_geo.datasets.Dataset` a configuration names (generated, cached or read; finite)."""
    return config.dataset.load()


def stored_config(store: TrialStore, search_id: int | None = None) -> Config:
    """The configuration a store keeps for a search (default: the latest), as a :class:`Config`."""
    info = store.get_search(search_id)
    if info is None:
        raise ValueError(f"{store.path} holds no search")
    return Config.from_dict(info.config)


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
        (
            "intra",
            tf.config.threading.set_intra_op_parallelism_threads,
            tf.config.threading.get_intra_op_parallelism_threads,
        ),
        (
            "inter",
            tf.config.threading.set_inter_op_parallelism_threads,
            tf.config.threading.get_inter_op_parallelism_threads,
        ),
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
        config: A :class:`~keras_geo.config.Config`.
        artifact_dir: Folder for the trials' saved models.
        data: The data set already loaded (:func:`load_data`), for trials run in this
            process; it never travels to worker processes, which load their own. Defaults to
            `None`: loaded in :meth:`setup`.
    """

    def __init__(self, config: Config, artifact_dir: str | Path, data: Any = None) -> None:
        self.config = config
        self.artifact_dir = str(artifact_dir)
        self._data = data

    @property
    def tensorboard_dir(self) -> Path:
        """The search's TensorBoard logs: ``tb`` beside the models' folder (the store's folder)."""
        from keras_geo.tracking import TENSORBOARD_DIR

        return Path(self.artifact_dir).parent / TENSORBOARD_DIR

    def __getstate__(self) -> dict[str, Any]:
        # Workers load the data themselves (from the on-disk cache), never through the pipe.
        return {"config": self.config, "artifact_dir": self.artifact_dir, "_data": None}

    def setup(self, device: WorkerDevice) -> None:
        """Called once per worker: console, framework set-up and data loading."""
        _console.configure_worker()  # before TensorFlow is imported: quiet as its driver is
        _configure_framework(device, self.config.search.executor.get("threads"))
        if self._data is not None:  # given to the constructor
            return
        try:
            # The driver loaded this data set before any worker started and showed its warnings
            # (skipped files, ...); each worker repeating them says nothing new.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._data = load_data(self.config)
        except (OSError, ValueError) as error:
            raise FatalError(f"cannot load the data set: {error}") from error

    def __call__(self, params: dict[str, Any], *, seed: int, trial_id: int) -> dict[str, Any]:
        from keras_geo import training

        if self._data is None:
            self.setup(WorkerDevice(0, "local"))
        config = self.config
        merged = {**config.model.fixed, **config.training, **params}
        metric = config.search.metric
        callbacks = [training.ReportToPruner(metric)]
        if config.search.tensorboard:
            from keras_geo import tracking

            callbacks += tracking.trial_callbacks(self.tensorboard_dir, trial_id, params, config.search.space)
        try:
            result = training.train(
                config.model.builder, self._data, merged, task=config.task.make(), seed=seed, callbacks=callbacks
            )
        except BaseException:
            if config.search.tensorboard:  # a failed trial ends its TensorBoard session too
                for callback in callbacks:
                    if isinstance(callback, training.HParamsSession):
                        callback.close(failed=True)
            raise
        if metric not in result.metrics:
            raise FatalError(
                f"objective.metric: {metric!r} is not a metric of the training; allowed: "
                f"{', '.join(sorted(result.metrics))}"
            )
        metrics: dict[str, Any] = dict(result.metrics)
        if any(o["metric"] == "latency_ms" for o in config.search.objectives):
            metrics["latency_ms"] = training.latency_ms(result.model, self._data)
        reporter = pruners.current()
        if reporter is None or not reporter.pruned:  # a pruned trial's model is never exported: not saved
            Path(self.artifact_dir).mkdir(parents=True, exist_ok=True)
            artifact = str(Path(self.artifact_dir) / f"trial_{trial_id}.keras")
            result.model.save(artifact)
            metrics["artifact"] = artifact
        # Intra-op threads the trial ran on (0: TensorFlow's default, all cores): CPU results depend on it.
        metrics["threads"] = _intra_op_threads()
        metrics["reports"] = {split: report.to_dict() for split, report in result.reports.items()}
        return {"value": result.metrics[metric], "metrics": metrics, "history": result.history}


def open_store(config: Config, *, new_search: bool = True) -> TrialStore:
    """Opens (creating folders as needed) the store a configuration names; adds a search if asked.

    Adding a search takes the store's writer lock (:class:`hpo.store.StoreLocked` if another
    search or resume holds it); closing the store gives it back.
    """
    path = Path(config.search.store)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = TrialStore(path)
    if new_search:
        try:
            store.acquire_lock()  # before the new search is written: a second driver adds nothing
        except BaseException:
            store.close()
            raise
        store.create_search(
            config.to_dict(),
            seed=config.search.seed,
            name=config.search.name,
            metric=config.search.metric,
            direction=config.search.direction,
        )
    return store


def make_executor(config: Config) -> executors.Executor:
    """The serial or local executor of a configuration, with each worker pinned to its device.

    The ``mpi``, ``horovod`` and ``mpi_async`` executors belong to a launched job: the CLI
    builds them on rank 0 (:func:`keras_geo.cli.main`) and passes them to :func:`run`.
    """
    settings = config.search.executor
    if settings["name"] in ("mpi", "horovod", "mpi_async"):
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
        threads=settings.get("threads"),
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
    config: Config | None = None,
) -> SearchSummary:
    """Runs (or resumes) the latest search of ``store``.

    Args:
        store: A store holding the search (:func:`open_store`).
        progress: Show a progress bar. Defaults to `True`.
        warm_start: Another store whose trained parameter sets are reused.
        executor: Runs the trials. Defaults to :func:`make_executor` of the configuration;
            a resume may pass another (any backend resumes any store).
        config: The configuration to run with. Defaults to the one stored with the search
            (a resume on another backend passes it with its executor changed).

    Raises:
        keras_geo.config.ConfigError: the data set cannot be loaded, or holds NaN or infinite
            values (both checked before any trial).
    """
    config = config or stored_config(store)
    search = config.search
    executor = executor or make_executor(config)
    distributed = (executors.CollectiveExecutor, executors.MPIPoolExecutor)
    if isinstance(executor, distributed) and search.executor["gpu_memory_mb"]:
        executor.worker_env["KERAS_GEO_GPU_MEMORY_MB"] = str(search.executor["gpu_memory_mb"])
    space = Space.from_dict(search.space)
    strategy = strategies.get(search.strategy["name"], space, seed=search.seed, **search.strategy["settings"])
    budget = Budget(**search.budget)
    # Load (generate and cache) the data set once here, before any worker starts: a data set that
    # cannot be read, or holds NaN or inf, stops the search at once with one line, and workers then
    # read the cache.
    try:
        data = load_data(config)
    except (OSError, ValueError) as error:
        raise ConfigError(f"dataset: {_data_error(error)}") from error
    task = config.task.make()
    for name in ("train", "val", "test"):  # targets the task cannot use stop the search before any trial
        if data.get(name) is not None:
            try:
                task.check_split(name, data[name])
            except ValueError as error:
                raise ConfigError(
                    f"task: {config.task.name} cannot use the data set {config.dataset.name!r}: {error}"
                ) from None
    # Absolute, so that workers and later `export` find the models from any folder.
    # A serial search trains in this process: it keeps the data loaded here (workers load their own).
    objective = KerasObjective(
        config,
        Path(store.path).resolve().parent / "models",
        data=data if isinstance(executor, executors.SerialExecutor) else None,
    )
    if search.tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError:  # a resume where the extra is missing
            raise ConfigError(
                "tensorboard: needs TensorBoard, which is not installed: pip install 'keras-geo[tensorboard]'"
            ) from None
        from keras_geo import tracking

        tracking.write_tensorboard_experiment(objective.tensorboard_dir, search.space, search.objectives)
    tracker = _mlflow_tracker(config, store)
    outcome = "FAILED"
    try:
        summary = run_search(
            objective,
            strategy,
            store,
            executor,
            budget,
            pruner=make_pruner(search.pruner),
            objectives=[(o["metric"], o["direction"]) for o in search.objectives]
            if len(search.objectives) > 1
            else None,
            seed=search.seed,
            metric=search.metric,
            direction=search.direction,
            synchronous=search.mode == "sync",
            batch_size=search.batch_size,
            progress=progress,
            warm_start=warm_start,
            on_trial=tracker.on_trial if tracker is not None else None,
        )
        outcome = "FINISHED"
        return summary
    except KeyboardInterrupt:
        outcome = "KILLED"
        raise
    finally:
        if tracker is not None:
            tracker.finish(outcome)


def _mlflow_tracker(config: Config, store: TrialStore):
    """The started :class:`~keras_geo.tracking.MlflowTracker` of a configuration with ``mlflow``, else None."""
    if config.search.mlflow is None:
        return None
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise ConfigError("mlflow: needs MLflow, which is not installed: pip install 'keras-geo[mlflow]'") from None
    from keras_geo import tracking

    tracker = tracking.MlflowTracker(config.search.mlflow, store)
    tracker.start()
    return tracker


def _data_error(error: Exception) -> str:
    from keras_geo.datasets import NonFiniteData

    return str(error) if isinstance(error, NonFiniteData) else f"cannot load the data set: {error}"


def sample_section(store: TrialStore, out_dir: str | Path) -> tuple[str, str] | None:
    """The task's report section on the store's best model: Grad-CAM, residuals or restored strips.

    Returns ``(title, markdown)``, None when the store has no saved best model; if drawing
    fails, the section says why instead (the report stands without it).
    """
    artifact = store.get_meta("best_artifact")
    if not artifact or not Path(artifact).is_file():
        return None
    import keras

    import keras_geo  # noqa: F401  (registers custom objects before loading)

    trial = store.get_trial(int(store.get_meta("best_trial")))
    config = stored_config(store, trial.search_id)  # the search that trained it
    task = config.task.make()
    try:
        model = keras.models.load_model(artifact, safe_mode=True)
        section = task.sample_section(model, load_data(config), Path(out_dir), trial=f"trial {trial.id}")
    except Exception as error:  # the report stands without the images; say why
        return f"Samples of the best model ({task.name})", f"Not drawn: {type(error).__name__}: {error}"
    return section

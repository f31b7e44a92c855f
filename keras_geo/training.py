"""Train a model from a hyperparameter dict, for any task: reset -> build -> compile -> fit -> evaluate.

One flat dict describes a trial: keys named in :data:`TRAINING_DEFAULTS` set the
training (optimizer, learning rate, batch size, epochs, early stopping ...), keys
that are settings of the task (:mod:`keras_geo.tasks`, e.g. an image-to-image
``loss``) set the task, and every other key is passed to the model builder. That is
the shape the search engine proposes, so a search is "call :func:`train` with each
proposal".

    >>> from keras_geo import datasets, training
    >>> data = datasets.load("filler", n_train=200, n_val=50, n_test=100, fov_nm=1000)
    >>> result = training.train("filler_cnn", data, {"filters": 8, "epochs": 5})
    >>> print(result.reports["test"].table())

What is learned is the task's business (:class:`keras_geo.tasks.Task`): the targets,
the head arguments the builder gets, the loss and metrics, and the evaluation of
each split. The task defaults to the data set's own (a :class:`~keras_geo.datasets.Dataset`
knows it) and else to classification.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_geo import models, tasks
from keras_geo.datasets import Dataset
from keras_geo.datasets.checks import require_finite
from keras_geo.tasks import Report, Task
from keras_geo.tasks.classification import ClassReport, evaluate_classes

__all__ = [
    "OPTIMIZERS",
    "TRAINING_DEFAULTS",
    "ClassReport",
    "HParamsSession",
    "ReportToPruner",
    "TrainingDiverged",
    "TrainingResult",
    "evaluate_classes",
    "latency_ms",
    "make_optimizer",
    "reset_state",
    "resolve_task",
    "split_params",
    "train",
]

TRAINING_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 32,
    "epochs": 10,
    "early_stopping": True,
    "patience": 3,
    # Early stopping ignores the first epochs: before batch-norm statistics settle the
    # validation loss is noise, and restoring such an epoch gives a model that predicts one class.
    "warmup_epochs": 2,
    "momentum": 0.9,  # SGD and RMSprop only
    "weight_decay": 0.0,  # decoupled weight decay (AdamW, SGD, ...): 0 disables it
    "label_smoothing": 0.0,
}
"""Training hyperparameters and their defaults; other keys of a params dict go to the task (its settings) or the builder."""

OPTIMIZERS: dict[str, type] = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "nadam": keras.optimizers.Nadam,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the trial failed, the search goes on."""


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes:
        model: The trained model as users get it (best weights when early stopping
            restored them; a regression model predicts in the targets' units).
        params: The full params dict used, defaults filled in.
        metrics: Scalar metrics: ``train_loss``, ``val_loss`` and every other metric Keras
            logged (``train_accuracy``, ``val_accuracy``, ...) at the epoch the model holds,
            the task's evaluation of each split (``val_accuracy``, ``test_accuracy`` for a
            classifier; ``val_r2``, ``val_mae``, ... for regression; ``val_ssim``,
            ``val_psnr``, ... for image-to-image), ``epochs``, ``best_epoch``,
            ``n_params`` and ``train_time_s``.
        history: Per-epoch values of every metric Keras logged.
        reports: The task's report (e.g. :class:`~keras_geo.tasks.ClassReport`) for each
            evaluated split (``"val"``, ``"test"``).
        seed: The seed the training ran with.
        task: The task, as it ended the training (class names, target scaling).
    """

    model: keras.Model
    params: dict[str, Any]
    metrics: dict[str, float]
    history: dict[str, list[float]]
    reports: dict[str, Report] = field(default_factory=dict)
    seed: int = 0
    task: Task | None = None


def split_params(
    params: Mapping[str, Any] | None, task: Task | None = None
) -> tuple[dict[str, Any], dict[str, Any]] | tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Splits a flat params dict into ``(builder_kwargs, training_hparams)``, plus task settings if asked.

    Training keys are those of :data:`TRAINING_DEFAULTS`; missing ones take their
    default. With ``task``, keys that are its settings (e.g. ``loss``) form a third dict
    ``(builder_kwargs, training_hparams, task_settings)``. Everything else is a builder argument.
    """
    params = dict(params or {})
    hparams = {key: params.pop(key, default) for key, default in TRAINING_DEFAULTS.items()}
    if task is None:
        return params, hparams
    names = task.settings  # read from the task's signature: once
    settings = {key: params.pop(key) for key in list(params) if key in names}
    return params, hparams, settings


def resolve_task(task: str | Task | None, data: Any) -> Task:
    """The task of a training: as given, else the data set's own, else classification (always a fresh instance).

    A task named (or defaulted) as the data set's own gets the data set's task settings
    (:attr:`~keras_geo.datasets.Dataset.task_settings`, e.g. ``max_val=None`` for signed fields).
    """
    if isinstance(task, Task):
        return task.fresh()
    own = getattr(data, "task", "")
    name = task or own or "classification"
    settings = (getattr(data, "task_settings", None) or {}) if name == own else {}
    return tasks.get(name, **settings)


def make_optimizer(hparams: Mapping[str, Any]) -> keras.optimizers.Optimizer:
    """Builds the optimizer named by ``hparams["optimizer"]`` with its learning rate."""
    name = str(hparams.get("optimizer", "adam")).lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"`optimizer` must be one of {sorted(OPTIMIZERS)}. Received: optimizer={name!r}")
    learning_rate = float(hparams.get("learning_rate", TRAINING_DEFAULTS["learning_rate"]))
    if not learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0. Received: learning_rate={learning_rate}")
    kwargs: dict[str, Any] = {"learning_rate": learning_rate}
    if name in ("sgd", "rmsprop"):
        kwargs["momentum"] = float(hparams.get("momentum", TRAINING_DEFAULTS["momentum"]))
    weight_decay = float(hparams.get("weight_decay", 0.0) or 0.0)
    if weight_decay:
        kwargs["weight_decay"] = weight_decay
    return OPTIMIZERS[name](**kwargs)


def _custom_gradient_registry() -> dict | None:
    """TensorFlow's global registry of graph-mode gradient functions, or None (another backend or layout)."""
    if keras.backend.backend() != "tensorflow":
        return None
    try:
        from tensorflow.python.framework import ops as tf_ops

        registry = tf_ops._gradient_registry._registry
    except (ImportError, AttributeError):
        return None
    return registry if isinstance(registry, dict) else None


# Entries that exist before any training (TensorFlow's own) are never touched.
_REGISTRY_AT_IMPORT = frozenset(_custom_gradient_registry() or ())


def _drop_dead_custom_gradients() -> None:
    """Frees the traced graphs of earlier trainings that TensorFlow's gradient registry keeps alive.

    Each traced train step registers a ``CustomGradient-N`` function in a global registry
    (``tf.custom_gradient`` in graph mode, reached through the optimizer's ``all_reduce``),
    and its closure holds the whole traced graph, so neither ``clear_session`` nor
    ``gc.collect`` can free a finished model's graphs: a worker grew by about 10 MB per
    small trial (876 MB from trial 10 to 100; ``benchmarks/bench_memory.py``). Dropping the
    entries added since import, just before the session is cleared, frees them (21 MB
    over 100 trials). It uses a private TensorFlow attribute and does nothing if that is
    absent.
    """
    registry = _custom_gradient_registry()
    if registry is None:
        return
    for key in [
        k for k in registry if isinstance(k, str) and k.startswith("CustomGradient-") and k not in _REGISTRY_AT_IMPORT
    ]:
        del registry[key]


def reset_state(seed: int, *, deterministic: bool = True) -> None:
    """Clears Keras' global state and seeds every random generator.

    Called before each training so that memory does not pile up across trials and a
    seed gives the same weights and batches every time. ``deterministic`` also turns
    on TensorFlow's op determinism (same result on every run, at some speed cost on GPU).
    """
    _drop_dead_custom_gradients()
    keras.backend.clear_session(free_memory=True)
    gc.collect()
    keras.utils.set_random_seed(int(seed))
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def latency_ms(model: keras.Model, data: Mapping[str, Any], *, batch: int = 16, repeats: int = 5) -> float:
    """Milliseconds per image of ``model`` predicting a batch of validation (else training) images.

    The median of ``repeats`` timed calls after one warm-up call, divided by the batch: what a
    multi-objective search ranks as ``latency_ms`` (it depends on the machine and its load).
    """
    split = data.get("val") if data.get("val") is not None else data["train"]
    x = np.asarray(split[0][:batch])
    model.predict_on_batch(x)  # traces the graph
    times = []
    for _ in range(int(repeats)):
        started = time.perf_counter()
        model.predict_on_batch(x)
        times.append(time.perf_counter() - started)
    return 1000.0 * float(np.median(times)) / max(len(x), 1)


def epoch_log_key(metric: str) -> str:
    """The key of ``metric`` (a name of :attr:`TrainingResult.metrics`) in Keras's per-epoch logs.

    ``val_*`` metrics keep their name; ``train_*`` metrics are logged without the prefix.
    """
    return metric[len("train_") :] if metric.startswith("train_") else metric


class ReportToPruner(keras.callbacks.Callback):
    """Reports a metric after each epoch to the search's pruner (:func:`hpo.pruners.report`); stops when told.

    Outside a search, or in a search without a pruner, it only records the values (the report's
    learning curves). Under a pruner, a metric missing from the epoch's logs stops the search with
    a :class:`hpo.executors.FatalError`: the pruner could never compare this trial.

    Args:
        metric: A name of :attr:`TrainingResult.metrics` (``val_accuracy``, ``train_loss``, ...).
    """

    def __init__(self, metric: str) -> None:
        super().__init__()
        self.metric = metric
        self.key = epoch_log_key(metric)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        from hpo import pruners
        from hpo.executors import FatalError

        reporter = pruners.current()
        if reporter is None:
            return
        logs = dict(logs or {})
        if self.key not in logs:
            if reporter.context is None:
                return
            raise FatalError(
                f"pruner: the objective metric {self.metric!r} is not logged after each epoch "
                f"(logged: {', '.join(sorted(logs)) or 'nothing'}); pruning needs a per-epoch metric"
            )
        if reporter.report(int(epoch) + 1, float(logs[self.key])):
            self.model.stop_training = True


class HParamsSession(keras.callbacks.Callback):
    """Writes a trial's TensorBoard HParams session: its params when it starts training, its end and status.

    What Keras Tuner writes (``tensorboard.plugins.hparams.api.KerasCallback``), with TensorBoard's
    own event writer (:func:`keras_geo.tracking.write_events`). A pruned trial ends with
    ``STATUS_FAILURE``, as a failed one does (:meth:`close`).

    Args:
        logdir: The trial's folder (``tb/trial_<id>``).
        hparams: The trial's params (:func:`keras_geo.tracking.session_hparams`).
        trial_id: The session's name in TensorBoard. Defaults to a hash of the params.
    """

    def __init__(self, logdir: str | Path, hparams: Mapping[str, Any], trial_id: str | None = None) -> None:
        super().__init__()
        self.logdir = Path(logdir)
        self.hparams = dict(hparams)
        self.trial_id = trial_id
        self.status: str | None = None  # "running", then the end's status

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        from tensorboard.plugins.hparams import summary_v2 as hp

        from keras_geo.tracking import write_events

        write_events(self.logdir, hp.hparams_pb(self.hparams, trial_id=self.trial_id))
        self.status = "running"

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        from hpo import pruners

        reporter = pruners.current()
        self.close(failed=reporter is not None and reporter.pruned)

    def close(self, *, failed: bool = False) -> None:
        """Ends the session (once): ``STATUS_SUCCESS``, or ``STATUS_FAILURE`` when ``failed`` (pruned or raised)."""
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

        from keras_geo.tracking import write_events

        if self.status != "running":
            return
        end = plugin_data_pb2.SessionEndInfo(
            status=api_pb2.STATUS_FAILURE if failed else api_pb2.STATUS_SUCCESS, end_time_secs=time.time()
        )
        data = plugin_data_pb2.HParamsPluginData(session_end_info=end)
        pb = summary_pb2.Summary()  # as tensorboard's summary.session_end_pb, with TensorBoard's own protos
        pb.value.add(
            tag=metadata.SESSION_END_INFO_TAG,
            metadata=metadata.create_summary_metadata(data),
            tensor=metadata.NULL_TENSOR,
        )
        write_events(self.logdir, pb)
        self.status = "failure" if failed else "success"


def _held_epoch(monitored: np.ndarray, hparams: Mapping[str, Any]) -> int:
    """The epoch whose weights the model holds: the best after the warm-up when early stopping restored it."""
    warmup = int(hparams["warmup_epochs"])
    if hparams["early_stopping"] and len(monitored) > warmup:
        return warmup + int(np.argmin(monitored[warmup:]))
    return len(monitored) - 1


def train(
    builder: str | Callable[..., keras.Model],
    data: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    *,
    task: str | Task | None = None,
    seed: int = 0,
    class_names: Sequence[str] | None = None,
    verbose: int | str = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    deterministic: bool = True,
) -> TrainingResult:
    """Builds, compiles, fits and evaluates a model from one params dict.

    Args:
        builder: A registered builder name (see :func:`keras_geo.models.available`)
            or a builder function. It is called with ``input_shape`` taken from the data,
            the task's head arguments (``n_classes`` for a classifier), and the builder
            keys of ``params``.
        data: ``{"train": (x, y), "val": (x, y), "test": (x, y)}`` or a
            :class:`~keras_geo.datasets.Dataset`; ``"val"`` and ``"test"`` are optional.
            With ``"val"``, early stopping watches ``val_loss``, otherwise the training loss.
        params: Flat hyperparameters: keys of :data:`TRAINING_DEFAULTS` set the
            training, the task's settings set the task, the rest go to the builder.
            Defaults to all defaults.
        task: A task name (:func:`keras_geo.tasks.available`) or instance. Defaults to
            the data set's task, else `"classification"`.
        seed: Seeds weights, dropout and batch order. Defaults to `0`.
        class_names: Class names in label order, for a classifier's reports. Defaults to
            the data set's, else numbers.
        verbose: Keras ``fit`` verbosity. Defaults to `0`.
        callbacks: Extra Keras callbacks.
        deterministic: Enables TensorFlow op determinism. Defaults to `True`.

    Returns:
        A :class:`TrainingResult`.

    Raises:
        TrainingDiverged: if the loss became NaN or infinite.
        keras_geo.datasets.checks.NonFiniteData: a split holds NaN or infinite values
            (refused before training: CPU kernels differ in how they treat them).
        ValueError: on bad data or hyperparameters (the message names them).
    """
    if "train" not in data:
        raise ValueError(f"`data` needs a 'train' split. Received keys: {sorted(data)}")
    build = models.get(builder) if isinstance(builder, str) else builder
    task = resolve_task(task, data)
    builder_kwargs, hparams, task_settings = split_params(params, task)
    if task_settings:
        task = task.fresh(**task_settings)
    batch_size, epochs = int(hparams["batch_size"]), int(hparams["epochs"])
    if batch_size < 1 or epochs < 1:
        raise ValueError(f"`batch_size` and `epochs` must be >= 1. Received: batch_size={batch_size}, epochs={epochs}")
    splits = {
        name: task.check_split(name, data[name]) for name in ("train", "val", "test") if data.get(name) is not None
    }
    require_finite(splits)
    source = data
    if class_names is not None:  # the caller's names win over the data set's
        source = Dataset(splits, class_names=tuple(class_names), target_names=getattr(data, "target_names", None))
    task.start(*splits["train"], dataset=source)

    reset_state(seed, deterministic=deterministic)
    model = build(input_shape=splits["train"][0].shape[1:], **task.head_arguments(), **builder_kwargs)
    task.compile(model, make_optimizer(hparams), hparams)

    val = splits.get("val")
    monitor = "val_loss" if val is not None else "loss"
    all_callbacks = [keras.callbacks.TerminateOnNaN(), *callbacks]
    if hparams["early_stopping"]:
        all_callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                patience=int(hparams["patience"]),
                restore_best_weights=True,
                start_from_epoch=int(hparams["warmup_epochs"]),
            )
        )
    started = time.perf_counter()
    history = task.fit(
        model, splits["train"], val, batch_size=batch_size, epochs=epochs, callbacks=all_callbacks, verbose=verbose
    )
    train_time = time.perf_counter() - started
    losses = np.asarray(history.get("loss", [np.nan]), dtype=float)
    if not np.all(np.isfinite(losses)):
        raise TrainingDiverged(
            f"The training loss became {losses[~np.isfinite(losses)][0]} at epoch "
            f"{int(np.argmin(np.isfinite(losses))) + 1}; params={dict(params or {})}"
        )

    held = _held_epoch(np.asarray(history[monitor], dtype=float), hparams)
    metrics: dict[str, float] = {
        "epochs": float(len(losses)),
        "best_epoch": float(held + 1),
        "n_params": float(model.count_params()),
        "train_time_s": train_time,
    }
    # Report the epoch whose weights the model holds (the best one when early stopping restored it).
    for key, values in history.items():
        name = key if key.startswith("val_") else f"train_{key}"
        metrics[name] = values[held]
    model = task.finalize(model)
    reports: dict[str, Report] = {}
    for split in ("val", "test"):
        if split in splits:
            reports[split] = task.evaluate(model, *splits[split])
            metrics.update(reports[split].scalars(split))
    return TrainingResult(
        model=model,
        params={**builder_kwargs, **hparams, **task_settings},
        metrics=metrics,
        history=history,
        reports=reports,
        seed=seed,
        task=task,
    )

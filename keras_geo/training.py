"""Compile and fit a model from a hyperparameter dict, and score it class by class.

One flat dict describes a trial: keys named in :data:`TRAINING_DEFAULTS` set the
training (optimizer, learning rate, batch size, epochs, early stopping ...), every
other key is passed to the model builder. That is the shape the search engine
proposes, so a search is "call :func:`train` with each proposal".

    >>> from keras_geo import training
    >>> from keras_geo.datasets import filler
    >>> data = filler.make_splits(200, 50, 100, fov_nm=1000)
    >>> result = training.train("filler_cnn", data, {"filters": 8, "epochs": 5})
    >>> print(result.reports["test"].table())
"""
from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from keras_geo import models
from keras_geo.datasets.checks import require_finite

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
"""Training hyperparameters and their defaults; any other key of a params dict goes to the builder."""

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
class ClassReport:
    """Correct answers per class, the form of the filler study's Table 1.

    Attributes:
        class_names: Name of each class, in label order.
        confusion: ``(n, n)`` counts; row = true class, column = predicted class.
    """

    class_names: tuple[str, ...]
    confusion: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        """Correct answers per class (the confusion matrix's diagonal)."""
        return np.diag(self.confusion)

    @property
    def totals(self) -> np.ndarray:
        """Number of images per class."""
        return self.confusion.sum(axis=1)

    @property
    def accuracy(self) -> float:
        """Overall fraction of correct answers."""
        total = int(self.confusion.sum())
        return float(self.correct.sum() / total) if total else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (for stores and reports)."""
        return {
            "class_names": list(self.class_names),
            "correct": [int(c) for c in self.correct],
            "totals": [int(t) for t in self.totals],
            "confusion": self.confusion.astype(int).tolist(),
            "accuracy": self.accuracy,
        }

    def table(self, title: str = "") -> str:
        """A Markdown table: correct answers per class out of N, and overall accuracy."""
        header = "| " + " | ".join(["", *self.class_names, "accuracy"]) + " |"
        rule = "|" + "---|" * (len(self.class_names) + 2)
        cells = [f"{c} / {t}" for c, t in zip(self.correct, self.totals)]
        row = "| " + " | ".join([title or "correct", *cells, f"{self.accuracy:.1%}"]) + " |"
        return "\n".join([header, rule, row])


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes:
        model: The trained model (best weights when early stopping restored them).
        params: The full params dict used, defaults filled in.
        metrics: Scalar metrics: ``train_loss``, ``train_accuracy``, ``val_loss``,
            ``val_accuracy``, ``test_accuracy`` (those with data), ``epochs``,
            ``best_epoch``, ``n_params`` and ``train_time_s``.
        history: Per-epoch values of every metric Keras logged.
        reports: A :class:`ClassReport` for each evaluated split (``"val"``, ``"test"``).
        seed: The seed the training ran with.
    """

    model: keras.Model
    params: dict[str, Any]
    metrics: dict[str, float]
    history: dict[str, list[float]]
    reports: dict[str, ClassReport] = field(default_factory=dict)
    seed: int = 0


def split_params(params: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Splits a flat params dict into ``(builder_kwargs, training_hparams)``.

    Training keys are those of :data:`TRAINING_DEFAULTS`; missing ones take their
    default. Everything else is a builder argument.
    """
    params = dict(params or {})
    hparams = {key: params.pop(key, default) for key, default in TRAINING_DEFAULTS.items()}
    return params, hparams


def make_optimizer(hparams: Mapping[str, Any]) -> keras.optimizers.Optimizer:
    """Builds the optimizer named by ``hparams["optimizer"]`` with its learning rate."""
    name = str(hparams.get("optimizer", "adam")).lower()
    if name not in OPTIMIZERS:
        raise ValueError(
            f"`optimizer` must be one of {sorted(OPTIMIZERS)}. Received: optimizer={name!r}"
        )
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


def compile_model(model: keras.Model, hparams: Mapping[str, Any] | None = None) -> keras.Model:
    """Compiles a classifier with cross-entropy and accuracy.

    Integer labels use sparse categorical cross-entropy. A non-zero ``label_smoothing``
    needs one-hot targets (Keras' sparse loss has no smoothing): then the loss is
    ``CategoricalCrossentropy(label_smoothing=...)`` and :func:`train` one-hot encodes the
    labels. Both are built-in losses, so a saved model loads anywhere.
    """
    hparams = {**TRAINING_DEFAULTS, **(hparams or {})}
    smoothing = float(hparams["label_smoothing"])
    if smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=make_optimizer(hparams), loss=loss, metrics=["accuracy"])
    return model


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
    for key in [k for k in registry if isinstance(k, str) and k.startswith("CustomGradient-")
                and k not in _REGISTRY_AT_IMPORT]:
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


def _arrays(split: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        x, y = split
    except (TypeError, ValueError):
        raise ValueError(
            f"data[{name!r}] must be a pair (images, labels) of arrays. Received: {type(split).__name__}"
        ) from None
    x, y = np.asarray(x), np.asarray(y).reshape(-1)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"data[{name!r}] needs as many labels as images, at least one. "
            f"Received: {len(x)} images, {len(y)} labels"
        )
    if x.ndim == 3:  # a stack of grey images without a channel axis
        x = x[..., None]
    require_finite({name: (x, y)})
    return x, y


def evaluate_classes(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str] | None = None,
    *,
    batch_size: int = 256,
) -> ClassReport:
    """Predicts ``x`` and counts correct answers per class.

    Args:
        model: A classifier with a softmax (or logits) output.
        x: Images, ``(N, H, W, C)`` (or ``(N, H, W)`` for grey images).
        y: Integer labels, ``(N,)``.
        class_names: Names in label order. Defaults to `"0"`, `"1"`, ...
        batch_size: Prediction batch size. Defaults to `256`.
    """
    x, y = _arrays((x, y), "evaluation")
    n_classes = int(model.output_shape[-1])
    names = tuple(class_names) if class_names is not None else tuple(str(i) for i in range(n_classes))
    if len(names) != n_classes:
        raise ValueError(
            f"`class_names` has {len(names)} names for a model with {n_classes} outputs. "
            f"Received: class_names={names}"
        )
    # Eager calls in batches rather than model.predict: predict traces a new tf.function for
    # every model, and a search evaluates hundreds of models (TensorFlow warns of retracing).
    predicted = np.concatenate(
        [
            np.argmax(keras.ops.convert_to_numpy(model(x[i : i + batch_size], training=False)), axis=-1)
            for i in range(0, len(x), batch_size)
        ]
    )
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y.astype(np.int64), predicted), 1)
    return ClassReport(names, confusion)


def train(
    builder: str | Callable[..., keras.Model],
    data: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    class_names: Sequence[str] | None = None,
    verbose: int | str = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    deterministic: bool = True,
) -> TrainingResult:
    """Builds, compiles, fits and evaluates a classifier from one params dict.

    Args:
        builder: A registered builder name (see :func:`keras_geo.models.available`)
            or a builder function. It is called with ``input_shape`` and ``n_classes``
            taken from the data, plus the builder keys of ``params``.
        data: ``{"train": (x, y), "val": (x, y), "test": (x, y)}``; ``"val"`` and
            ``"test"`` are optional. With ``"val"``, early stopping watches
            ``val_loss``, otherwise the training loss.
        params: Flat hyperparameters: keys of :data:`TRAINING_DEFAULTS` set the
            training, the rest go to the builder. Defaults to all defaults.
        seed: Seeds weights, dropout and batch order. Defaults to `0`.
        class_names: Class names in label order, for the reports. Defaults to numbers.
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
    builder_kwargs, hparams = split_params(params)
    batch_size, epochs = int(hparams["batch_size"]), int(hparams["epochs"])
    if batch_size < 1 or epochs < 1:
        raise ValueError(
            f"`batch_size` and `epochs` must be >= 1. Received: batch_size={batch_size}, epochs={epochs}"
        )
    x_train, y_train = _arrays(data["train"], "train")
    val = _arrays(data["val"], "val") if data.get("val") is not None else None
    n_classes = len(class_names) if class_names is not None else int(y_train.max()) + 1

    reset_state(seed, deterministic=deterministic)
    model = build(input_shape=x_train.shape[1:], n_classes=n_classes, **builder_kwargs)
    compile_model(model, hparams)

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
    fit_y, fit_val = y_train, val
    if float(hparams["label_smoothing"]):
        fit_y = keras.utils.to_categorical(y_train, n_classes)
        fit_val = None if val is None else (val[0], keras.utils.to_categorical(val[1], n_classes))
    started = time.perf_counter()
    fitted = model.fit(
        x_train,
        fit_y,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=fit_val,
        shuffle=True,
        callbacks=all_callbacks,
        verbose=verbose,
    )
    train_time = time.perf_counter() - started
    history = {key: [float(v) for v in values] for key, values in fitted.history.items()}
    losses = np.asarray(history.get("loss", [np.nan]), dtype=float)
    if not np.all(np.isfinite(losses)):
        raise TrainingDiverged(
            f"The training loss became {losses[~np.isfinite(losses)][0]} at epoch "
            f"{int(np.argmin(np.isfinite(losses))) + 1}; params={dict(params or {})}"
        )

    monitored = np.asarray(history[monitor], dtype=float)
    warmup = int(hparams["warmup_epochs"])
    # Early stopping restores the best epoch after the warm-up; a run that ends within the
    # warm-up keeps its last weights.
    if hparams["early_stopping"] and len(monitored) > warmup:
        held = warmup + int(np.argmin(monitored[warmup:]))
    else:
        held = len(monitored) - 1
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
    names = tuple(class_names) if class_names is not None else None
    reports = {}
    for split in ("val", "test"):
        if data.get(split) is not None:
            report = evaluate_classes(model, *_arrays(data[split], split), names, batch_size=256)
            reports[split] = report
            metrics[f"{split}_accuracy"] = report.accuracy
    return TrainingResult(
        model=model,
        params={**builder_kwargs, **hparams},
        metrics=metrics,
        history=history,
        reports=reports,
        seed=seed,
    )

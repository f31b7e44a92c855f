"""The data set registry: a data set is a function returning its splits and what they hold.

    @register("filler", task="classification")
    def filler(n_train: Annotated[int, Range(1)] = 300, ..., seed: int = 0) -> Dataset:
        ...

The function's keyword parameters are the data set's settings (a configuration's
``dataset:`` section) and their defaults are the shipped defaults; annotations say
what each may be (:mod:`keras_geo._settings`). Adding a data set touches its own
module only: the configuration, the search and the CLI find it by name.

Every data set that :func:`load` returns has passed :func:`~keras_geo.datasets.checks.require_finite`:
no NaN or infinite value reaches a model.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keras_geo import _settings
from keras_geo.datasets.checks import require_finite

__all__ = [
    "Dataset",
    "available",
    "describe",
    "get",
    "load",
    "register",
    "task_of",
    "task_settings_of",
    "validate_settings",
]

SPLITS = ("train", "val", "test")


@dataclass
class Dataset(Mapping):
    """A data set ready to train: ``{"train": (x, y), "val": (x, y), "test": (x, y)}`` and its metadata.

    It is a read-only mapping of its splits, so it goes wherever a dict of splits goes
    (:func:`keras_geo.training.train`). ``"val"`` and ``"test"`` are optional.

    Attributes:
        splits: ``split name -> (inputs, targets)`` arrays.
        task: The task the targets are for (``"classification"``, ``"regression"``,
            ``"image_to_image"``, ...): the configuration's default task. Defaults to the
            registered data set's task (``""`` until :func:`load` fills it in).
        class_names: Class names in label order (classification).
        target_names: One name per target column (regression).
        name: The registry name it was loaded under.
        info: Anything else worth keeping (JSON types), e.g. the physical settings.
        task_settings: Settings of ``task`` its targets need (``{"max_val": None}`` for
            signed fields), under any the user gives. Defaults to the registered data
            set's (none until :func:`load` fills them in).
    """

    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    task: str = ""
    class_names: tuple[str, ...] | None = None
    target_names: tuple[str, ...] | None = None
    name: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    task_settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "train" not in self.splits:
            raise ValueError(f"a data set needs a 'train' split. Received splits: {sorted(self.splits)}")
        self.splits = {k: v for k, v in self.splits.items() if v is not None}
        if self.class_names is not None:
            self.class_names = tuple(str(c) for c in self.class_names)
        if self.target_names is not None:
            self.target_names = tuple(str(t) for t in self.target_names)

    def __getitem__(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        return self.splits[split]

    def __iter__(self) -> Iterator[str]:
        return iter(self.splits)

    def __len__(self) -> int:
        return len(self.splits)

    def sizes(self) -> dict[str, int]:
        """Samples per split."""
        return {k: len(x) for k, (x, _) in self.splits.items()}


Loader = Callable[..., Dataset]


@dataclass(frozen=True)
class _Entry:
    loader: Loader
    task: str
    task_settings: dict[str, Any]


_DATASETS: dict[str, _Entry] = {}


def register(name: str, *, task: str, task_settings: Mapping[str, Any] | None = None) -> Callable[[Loader], Loader]:
    """Decorator registering a data set loader under ``name``, with the task its targets serve.

    Args:
        name: The registry name (``dataset: {name: ...}`` in a configuration). Must be unique.
        task: The default task of the data set.
        task_settings: Settings of that task the targets need, the defaults of a
            configuration's ``task:`` section and of :func:`keras_geo.training.train`
            for this data set (e.g. ``{"max_val": None, "output_activation": None}``
            for signed elevations). Defaults to none.
    """

    def decorator(loader: Loader) -> Loader:
        if name in _DATASETS and _DATASETS[name].loader is not loader:
            raise ValueError(f"A data set is already registered as {name!r}: {_DATASETS[name].loader.__qualname__}")
        _DATASETS[name] = _Entry(loader, task, dict(task_settings or {}))
        return loader

    return decorator


def available() -> list[str]:
    """Names of the registered data sets, sorted."""
    return sorted(_DATASETS)


def get(name: str) -> Loader:
    """The loader registered under ``name``; a KeyError lists the known names."""
    try:
        return _DATASETS[name].loader
    except KeyError:
        raise KeyError(f"Unknown data set {name!r}. Available: {', '.join(available())}.") from None


def task_of(name: str) -> str:
    """The default task of the data set ``name``."""
    get(name)
    return _DATASETS[name].task


def task_settings_of(name: str) -> dict[str, Any]:
    """The task settings the data set ``name`` registered (a copy; empty for most)."""
    get(name)
    return dict(_DATASETS[name].task_settings)


def describe(name: str) -> str:
    """The first line of a loader's docstring."""
    doc = inspect.getdoc(get(name)) or ""
    return doc.splitlines()[0] if doc else ""


def validate_settings(
    name: str, settings: Mapping[str, Any] | None, *, base_dir: str | Path | None = None, key: str = "dataset"
) -> dict[str, Any]:
    """The settings of data set ``name`` checked against its loader's signature, defaults filled in.

    Raises:
        keras_geo._settings.SettingError: naming the first bad setting (``dataset.fov_nm: ...``).
    """
    return _settings.validate(get(name), settings, key=key, base_dir=base_dir)


def load(name: str, **settings: Any) -> Dataset:
    """Loads (generates, reads) the data set ``name`` with ``settings`` and checks it holds finite values.

    Raises:
        KeyError: unknown name.
        keras_geo._settings.SettingError: a bad setting.
        keras_geo.datasets.checks.NonFiniteData: NaN or inf in a split.
        OSError, ValueError: the loader's own errors (an unreadable file, ...).
    """
    checked = validate_settings(name, settings)
    dataset = get(name)(**checked)
    if not isinstance(dataset, Dataset):
        raise TypeError(f"the loader of data set {name!r} returned {type(dataset).__name__}, not a Dataset")
    dataset.name = name
    if not dataset.task:
        dataset.task = task_of(name)
        dataset.task_settings = {**task_settings_of(name), **dataset.task_settings}
    require_finite(dataset.splits)
    return dataset

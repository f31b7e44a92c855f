"""Search configurations: YAML in, typed frozen specs out, with errors that name the key.

A configuration says everything a search needs (see the shipped ``keras_geo/configs/*.yaml``,
by name :func:`shipped_config`)::

    name: filler-ga-tpe
    seed: 0
    dataset: {name: filler, fov_nm: 500, image_size: 32, n_train: 150, n_val: 50, n_test: 200}
    task: {name: classification}          # default: the data set's task
    model: {builder: filler_cnn, fixed: {pooling: max}}
    training: {epochs: 6, batch_size: 32}
    space:
      filters: {type: int, low: 4, high: 32, log: true}
      learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    objective: {metric: val_accuracy, direction: maximize}   # default: the task's objective
    strategy: {name: ga_tpe, settings: {population_size: 6}}
    executor: {name: local, workers: 2}
    mode: async
    budget: {trials: 24}
    tensorboard: true                     # default false
    mlflow: {tracking_uri: "sqlite:///mlflow.db", experiment: filler-ga-tpe}   # default null

Experiment tracking (:mod:`keras_geo.tracking`): ``tensorboard: true`` writes each trial's
per-epoch scalars and its HParams session into ``<store folder>/tb/trial_<id>`` and the
experiment (the space's domains, the objective's metrics) at ``<store folder>/tb``, for
``tensorboard --logdir runs/NAME/tb``. ``mlflow`` logs the search as an MLflow parent run and
each finished trial as a child run (params, final metrics, per-epoch history, status; the
best model as an artifact); its keys are ``tracking_uri`` (default: MLflow's own,
``MLFLOW_TRACKING_URI``), ``experiment`` (default: the search's ``name``) and
``artifact_location`` (where a new experiment keeps its artifacts; default: MLflow's). They
need the ``tensorboard`` and ``mlflow`` extras (``pip install 'keras-geo[tensorboard,mlflow]'``).

A file may start from another one with ``base: other.yaml`` (a path relative to the
file, else the name of a shipped configuration: ``base: filler_base``): its keys are merged over the base's, section by section, except ``space`` and
``strategy``, which replace the base's whole (a search space is one thing, and a
strategy's settings belong to it). The shipped filler searches are one base plus a
strategy each.

Where defaults come from: the data set's settings are its loader's keyword
arguments (:mod:`keras_geo.datasets`), the task's its class's
(:mod:`keras_geo.tasks`), training's :data:`keras_geo.training.TRAINING_DEFAULTS`,
the strategy's its constructor's, and the rest :data:`DEFAULTS`. Everything is
merged once, into a :class:`Config`; its :meth:`Config.to_dict` is what a store keeps,
so that ``resume`` rebuilds exactly the same search.

Every problem raises :class:`ConfigError` whose message starts with the dotted key
(``budget.trials: must be >= 1; received -3``), so the CLI prints one line and exits 2.
"""

from __future__ import annotations

import codecs
import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hpo import executors, pruners, strategies
from hpo.space import Space

__all__ = [
    "DEFAULTS",
    "Config",
    "ConfigError",
    "DatasetSpec",
    "ModelSpec",
    "SearchSpec",
    "TaskSpec",
    "load_config",
    "make_pruner",
    "shipped_config",
    "shipped_configs",
    "validate_config",
]


class ConfigError(ValueError):
    """A configuration problem; the message names the key and what is allowed."""


DEFAULTS: dict[str, Any] = {
    "name": "search",
    "seed": 0,
    "store": None,
    "mode": "async",
    "batch_size": None,
    "dataset": {"name": "filler"},
    "task": None,
    "model": {"builder": "filler_cnn", "fixed": {}},
    "training": {},
    "space": None,
    "objective": None,
    "strategy": {"name": "ga_tpe", "settings": {}},
    "executor": {
        "name": "local",
        "workers": 2,
        "workers_per_gpu": 1,
        "gpus": None,
        "gpu_memory_mb": None,
        "max_trials_per_worker": 20,
        # Intra-op threads of every trial; null: the cores split among the workers. A sync
        # search fixes it (1 unless set), so its values do not depend on the number of workers.
        "threads": None,
    },
    "budget": {"trials": 20, "wall_time_s": None, "target": None},
    # Early stopping of bad trials: {name: median | successive_halving | hyperband, min_epochs,
    # max_epochs (default: training.epochs), settings: {...}}; null prunes nothing.
    "pruner": None,
    # Experiment tracking (keras_geo.tracking): TensorBoard event files beside the store, and MLflow runs
    # ({tracking_uri, experiment, artifact_location}; null logs nothing to MLflow).
    "tensorboard": False,
    "mlflow": None,
}
"""The search's own defaults; the data set's, task's, training's and strategy's live with them."""

_OBJECTIVE_KEYS = ("metric", "direction")
_MLFLOW_KEYS: dict[str, Any] = {"tracking_uri": None, "experiment": None, "artifact_location": None}


# --------------------------------------------------------------------------- #
# the specs
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class DatasetSpec:
    """Which data set, with every setting (defaults filled in, paths absolute)."""

    name: str
    settings: dict[str, Any]

    def load(self):
        """The :class:`~keras_geo.datasets.Dataset` (generated or read; checked for NaN and inf)."""
        from keras_geo import datasets

        return datasets.load(self.name, **self.settings)


@dataclass(frozen=True)
class TaskSpec:
    """Which task, with every setting."""

    name: str
    settings: dict[str, Any]

    def make(self):
        """A fresh :class:`~keras_geo.tasks.Task`."""
        from keras_geo import tasks

        return tasks.get(self.name, **self.settings)


@dataclass(frozen=True)
class ModelSpec:
    """The builder and the arguments it always gets (``fixed``); searched ones are in the space."""

    builder: str
    fixed: dict[str, Any]


@dataclass(frozen=True)
class SearchSpec:
    """How the search runs: space, objective, strategy, executor, mode, budget, seed and store."""

    name: str
    seed: int
    store: str
    mode: str
    batch_size: int | None
    space: dict[str, Any]
    objective: dict[str, str] | list[dict[str, str]]
    strategy: dict[str, Any]
    executor: dict[str, Any]
    budget: dict[str, Any]
    pruner: dict[str, Any] | None = None
    tensorboard: bool = False
    mlflow: dict[str, Any] | None = None

    @property
    def objectives(self) -> list[dict[str, str]]:
        """Every objective, ``[{"metric", "direction"}, ...]`` (one unless the search has several)."""
        return list(self.objective) if isinstance(self.objective, list) else [self.objective]

    @property
    def metric(self) -> str:
        """The (first) objective's metric: the trial's value, the one a single best trial is ranked by."""
        return self.objectives[0]["metric"]

    @property
    def direction(self) -> str:
        return self.objectives[0]["direction"]


@dataclass(frozen=True)
class Config:
    """A validated configuration: five frozen specs, merged once (treat their dicts as read-only)."""

    dataset: DatasetSpec
    task: TaskSpec
    model: ModelSpec
    training: dict[str, Any]
    search: SearchSpec

    def to_dict(self) -> dict[str, Any]:
        """The plain-JSON form, in the YAML's layout: what a store keeps."""
        s = self.search
        return copy.deepcopy(
            {
                "name": s.name,
                "seed": s.seed,
                "store": s.store,
                "mode": s.mode,
                "batch_size": s.batch_size,
                "dataset": {"name": self.dataset.name, **self.dataset.settings},
                "task": {"name": self.task.name, **self.task.settings},
                "model": {"builder": self.model.builder, "fixed": dict(self.model.fixed)},
                "training": dict(self.training),
                "space": s.space,
                "objective": s.objective,
                "strategy": s.strategy,
                "executor": s.executor,
                "budget": s.budget,
                "pruner": s.pruner,
                "tensorboard": s.tensorboard,
                "mlflow": s.mlflow,
            }
        )

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> Config:
        """A configuration as a store kept it (by this version or an earlier one), without checking it again.

        Stores written before the task layer have no ``task`` (their searches were
        classifiers) and no ``executor.threads``; both take the defaults of those days. Stores
        written before experiment tracking have no ``tensorboard`` nor ``mlflow``: they track nothing.
        """
        stored = copy.deepcopy(dict(stored))
        dataset = dict(stored.get("dataset") or {"name": "filler"})
        task = dict(stored.get("task") or {"name": "classification"})
        executor = {**DEFAULTS["executor"], **(stored.get("executor") or {})}
        return cls(
            dataset=DatasetSpec(dataset.pop("name"), dataset),
            task=TaskSpec(task.pop("name"), task),
            model=ModelSpec(stored["model"]["builder"], dict(stored["model"].get("fixed") or {})),
            training=dict(stored.get("training") or {}),
            search=SearchSpec(
                name=stored.get("name", DEFAULTS["name"]),
                seed=int(stored.get("seed", 0)),
                store=stored.get("store") or str(Path("runs") / stored.get("name", "search") / "store.db"),
                mode=stored.get("mode", "async"),
                batch_size=stored.get("batch_size"),
                space=stored["space"],
                objective=_stored_objective(stored.get("objective")),
                strategy=dict(stored.get("strategy") or DEFAULTS["strategy"]),
                executor=executor,
                budget={**DEFAULTS["budget"], **(stored.get("budget") or {})},
                pruner=stored.get("pruner"),
                tensorboard=bool(stored.get("tensorboard", False)),
                mlflow=dict(stored["mlflow"]) if stored.get("mlflow") is not None else None,
            ),
        )

    def replace(self, **search_changes: Any) -> Config:
        """A copy with some search fields changed (e.g. ``executor=...`` for a resume on another backend)."""
        from dataclasses import replace

        return replace(self, search=replace(self.search, **search_changes))


def _stored_objective(stored: Any) -> dict[str, str] | list[dict[str, str]]:
    """A stored ``objective``: one mapping, a list of them (several objectives), or the default of old stores."""
    if isinstance(stored, list):
        return [dict(o) for o in stored]
    return dict(stored or {"metric": "val_accuracy", "direction": "maximize"})


# --------------------------------------------------------------------------- #
# checking
# --------------------------------------------------------------------------- #
_MODES = ("async", "sync")
SYNC_THREADS = 1
"""Intra-op threads of every trial of a ``mode: sync`` search that does not set ``executor.threads``."""
_DIRECTIONS = ("maximize", "minimize")


def _fail(key: str, message: str) -> None:
    """Raises the one-line :class:`ConfigError` ``KEY: MESSAGE`` (odd characters in either are escaped)."""
    key = str(key) if str(key).isprintable() else repr(str(key))
    message = str(message).replace("\r", "\\r").replace("\n", "\\n")
    raise ConfigError(f"{key}: {message}")


def _section(config: Mapping[str, Any], key: str, allowed: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping section merged over its defaults; unknown keys are refused by name."""
    value = config.get(key)
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        _fail(key, f"must be a mapping; received {type(value).__name__} {value!r}")
    unknown = sorted(set(value) - set(allowed), key=str)
    if unknown:
        _fail(f"{key}.{unknown[0]}", f"unknown key; allowed: {', '.join(sorted(allowed))}")
    return {**copy.deepcopy(dict(allowed)), **dict(value)}


def _integer(
    key: str, value: Any, minimum: int | None = None, *, optional: bool = False, maximum: int | None = None
) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(key, f"must be an integer; received {value!r}")
    if minimum is not None and value < minimum:
        _fail(key, f"must be >= {minimum}; received {value}")
    if maximum is not None and value > maximum:
        _fail(key, f"must be <= {maximum}; received {value}")
    return int(value)


def _number(key: str, value: Any, *, positive: bool = False, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(key, f"must be a number; received {value!r}")
    if positive and not value > 0:
        _fail(key, f"must be > 0; received {value}")
    return float(value)


def _one_of(key: str, value: Any, allowed: Any) -> Any:
    allowed = list(allowed)
    if value not in allowed:
        _fail(key, f"must be one of {', '.join(map(str, allowed))}; received {value!r}")
    return value


def _setting_type(key: str, value: Any, default: Any) -> None:
    """A strategy setting has the type of its default (a None default takes anything)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            _fail(key, f"must be true or false; received {value!r}")
    elif isinstance(default, int):
        _integer(key, value)
    elif isinstance(default, float):
        if _number(key, value) is not None and not math.isfinite(value):
            _fail(key, f"must be finite; received {value!r}")
    elif isinstance(default, str) and not isinstance(value, str):
        _fail(key, f"must be a string; received {value!r}")


# YAML 1.1 streams are UTF-8 or UTF-16; a byte-order mark tells which (UTF-8 without one).
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _read_text(path: Path) -> str:
    """A configuration file's text, or a one-line :class:`ConfigError` naming the file and the problem."""
    if path.is_dir():
        raise ConfigError(f"config: {path} is a folder; give a YAML file")
    if not path.exists():
        raise ConfigError(f"config: no such file: {path}")
    try:
        data = path.read_bytes()
    except OSError as error:  # unreadable (permissions), a vanished file, a device
        raise ConfigError(f"config: cannot read {path}: {error.strerror or error}") from None
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"config: {path} is not a YAML text file (invalid {encoding.upper().replace('-SIG', '')} "
            f"at byte {error.start}); save it as UTF-8 text"
        ) from None


def _dataset(raw: Mapping[str, Any], base: Path | None) -> DatasetSpec:
    from keras_geo import datasets
    from keras_geo._settings import SettingError

    section = raw.get("dataset") or {}
    if not isinstance(section, Mapping):
        _fail("dataset", f"must be a mapping; received {section!r}")
    name = _one_of("dataset.name", section.get("name", "filler"), datasets.available())
    try:
        settings = datasets.validate_settings(name, {k: v for k, v in section.items() if k != "name"}, base_dir=base)
    except SettingError as error:
        _fail(*str(error).split(": ", 1))
    return DatasetSpec(name, settings)


def _task(raw: Mapping[str, Any], dataset: DatasetSpec) -> TaskSpec:
    from keras_geo import datasets, tasks
    from keras_geo._settings import SettingError

    section = raw.get("task")
    if section is None:
        section = {}
    elif isinstance(section, str):
        section = {"name": section}
    if not isinstance(section, Mapping):
        _fail("task", f"must be a mapping such as {{name: regression}}; received {section!r}")
    name = _one_of("task.name", section.get("name", datasets.task_of(dataset.name)), tasks.available())
    # The data set's own task comes with the settings its targets need (max_val: null for signed fields).
    given = datasets.task_settings_of(dataset.name) if name == datasets.task_of(dataset.name) else {}
    given.update({k: v for k, v in section.items() if k != "name"})
    try:
        settings = tasks.validate_settings(name, given)
        tasks.get(name, **settings)  # the task's own checks (a loss name, ...)
    except SettingError as error:
        _fail(*str(error).split(": ", 1))
    except ValueError as error:
        _fail("task", str(error))
    return TaskSpec(name, settings)


def _objective(raw: Mapping[str, Any], task: TaskSpec) -> dict[str, str] | list[dict[str, str]]:
    """One objective (a mapping), or several (a list of mappings: a multi-objective search)."""
    from keras_geo import tasks

    metric, direction = tasks.get(task.name, **task.settings).objective
    section = raw.get("objective")
    if section is None:
        return {"metric": metric, "direction": direction}
    if not isinstance(section, list):
        return _one_objective(raw, "objective", metric, direction)
    if len(section) < 2:
        _fail("objective", f"a list of objectives needs two or more; received {len(section)} (give one as a mapping)")
    objectives = [
        _one_objective({"o": o}, f"objective[{i}]", metric, direction, key="o") for i, o in enumerate(section)
    ]
    names = [o["metric"] for o in objectives]
    for i, name in enumerate(names):
        if name in names[:i]:
            _fail(f"objective[{i}].metric", f"{name!r} is already objective[{names.index(name)}]")
    return objectives


def _one_objective(
    raw: Mapping[str, Any], where: str, metric: str, direction: str, *, key: str = "objective"
) -> dict[str, str]:
    section = raw.get(key)
    if section is not None and not isinstance(section, Mapping):
        _fail(where, f"must be a mapping with metric and direction; received {section!r}")
    try:
        objective = _section(raw, key, {"metric": metric, "direction": direction})
    except ConfigError as error:  # name the list entry, not the helper's key
        raise ConfigError(str(error).replace(f"{key}.", f"{where}.", 1)) from None
    if not isinstance(objective["metric"], str) or not objective["metric"]:
        _fail(f"{where}.metric", f"must be a metric name such as {metric}; received {objective['metric']!r}")
    if "direction" not in (section or {}) and objective["metric"] != metric:
        objective["direction"] = _direction_of(objective["metric"], where)
    _one_of(f"{where}.direction", objective["direction"], _DIRECTIONS)
    return {"metric": objective["metric"], "direction": objective["direction"]}


# What a metric's name says about its direction, when the configuration does not.
_SMALLER_IS_BETTER = ("loss", "mae", "mse", "rmse", "error", "time", "params", "epochs", "latency")
_LARGER_IS_BETTER = ("accuracy", "r2", "ssim", "psnr", "auc", "precision", "recall", "f1", "map", "iou")


def _direction_of(metric: str, where: str = "objective") -> str:
    words = metric.lower().replace("-", "_").split("_")
    if any(word in _SMALLER_IS_BETTER for word in words):
        return "minimize"
    if any(word in _LARGER_IS_BETTER for word in words):
        return "maximize"
    _fail(f"{where}.direction", f"say whether {metric} is to be maximized or minimized")
    return ""


def _model(raw: Mapping[str, Any], task: TaskSpec) -> tuple[ModelSpec, list[str], bool]:
    from keras_geo import models, tasks

    model = _section(raw, "model", DEFAULTS["model"])
    builder = model["builder"]
    if builder not in models.available():
        _fail("model.builder", f"unknown builder {builder!r}; allowed: {', '.join(models.available())}")
    if task.name not in models.tasks_of(builder):
        serving = models.serving(task.name)
        _fail(
            "model.builder",
            f"{builder} does not serve the task {task.name}; builders that do: {', '.join(serving) or 'none yet'}",
        )
    if not isinstance(model["fixed"], Mapping):
        _fail("model.fixed", f"must be a mapping of builder arguments; received {model['fixed']!r}")
    head = set(tasks.TASKS[task.name].head_keys) | {"input_shape"}
    arguments = [a for a in models.builder_arguments(builder) if a not in head]
    open_ended = models.accepts_any_keyword(builder)
    for key in model["fixed"]:
        if key in head:
            _fail(f"model.fixed.{key}", f"set from the data by the task {task.name}, not by the configuration")
        if key not in arguments and not open_ended:
            _fail(f"model.fixed.{key}", f"not an argument of {builder}; allowed: {', '.join(arguments)}")
    return ModelSpec(builder, dict(model["fixed"])), arguments, open_ended


def _space(
    raw: Mapping[str, Any], arguments: list[str], open_ended: bool, builder: str, task: TaskSpec
) -> dict[str, Any]:
    from keras_geo import training

    space_raw = raw.get("space")
    if not isinstance(space_raw, Mapping) or not space_raw:
        _fail("space", "must be a non-empty mapping of parameter name -> range or choices")
    allowed = [*arguments, *training.TRAINING_DEFAULTS, *task.settings]
    for key in space_raw:
        if key not in allowed and not open_ended:
            _fail(
                f"space.{key}",
                f"neither an argument of {builder}, a training setting nor a {task.name} setting; "
                f"allowed: {', '.join(allowed)}",
            )
    try:
        space = Space.from_dict(dict(space_raw))
    except (ValueError, TypeError) as error:
        _fail("space", str(error))
    return space.to_dict()


# Combinations of the other searched builder arguments tried before a value is called impossible.
_MAX_COMBINATIONS = 256


def _builder_values(model: ModelSpec, space: dict[str, Any], arguments: list[str], dataset: DatasetSpec) -> None:
    """Refuses builder values the builder would always refuse (``models.check_arguments``), by key.

    ``model.fixed`` is refused when every combination of the searched values is refused for one
    same reason. A searched value is refused when no combination of the other searched builder
    arguments' values makes it acceptable (a depth that does not exist, a ratio <= 0, a network
    whose total stride exceeds the data set's ``image_size``), so that a search never starts on
    trials that can only fail. Builders without a registered check pass.
    """
    import itertools

    from keras_geo import models

    fixed = dict(model.fixed)
    size = dataset.settings.get("image_size")
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:  # the channels do not matter here
        fixed = {"input_shape": (size, size, 1), **fixed}

    def refusal(arguments: dict[str, Any]) -> str | None:
        try:
            models.check_arguments(model.builder, {**fixed, **arguments})
        except (ValueError, TypeError, OSError) as error:  # OSError: a weights file that is not there
            return str(error)
        return None

    parsed = Space.from_dict(space)
    searched = {name: parsed[name].grid_values(2, 8) for name in parsed if name in arguments}

    def combinations(names: list[str]) -> list[dict[str, Any]]:
        product = itertools.islice(itertools.product(*(searched[n] for n in names)), _MAX_COMBINATIONS)
        return [dict(zip(names, values)) for values in product]

    # Refused whatever the searched values are, and always for the same reason: the fixed arguments'.
    refusals = {refusal(combination) for combination in combinations(list(searched))}
    if None not in refusals and len(refusals) == 1:
        _fail("model.fixed", refusals.pop())
    for name, values in searched.items():
        others = combinations([key for key in searched if key != name])
        for value in values:
            reasons = [refusal({**combination, name: value}) for combination in others]
            if None not in reasons:
                _fail(f"space.{name}", f"{value!r} is refused by {model.builder}: {reasons[0]}")


def _training(raw: Mapping[str, Any]) -> dict[str, Any]:
    from keras_geo import training

    section = _section(raw, "training", training.TRAINING_DEFAULTS)
    for key in ("epochs", "batch_size", "patience", "warmup_epochs"):
        _integer(f"training.{key}", section[key], 1 if key in ("epochs", "batch_size") else 0)
    _number("training.learning_rate", section["learning_rate"], positive=True)
    _one_of("training.optimizer", section["optimizer"], training.OPTIMIZERS)
    return section


def _strategy(raw: Mapping[str, Any], space: dict[str, Any], seed: int) -> dict[str, Any]:
    strategy = _section(raw, "strategy", DEFAULTS["strategy"])
    _one_of("strategy.name", strategy["name"], strategies.available())
    if not isinstance(strategy["settings"], Mapping):
        _fail("strategy.settings", f"must be a mapping; received {strategy['settings']!r}")
    accepted = strategies.settings_of(strategies.strategy_class(strategy["name"]))
    for key, value in strategy["settings"].items():
        if key not in accepted:
            _fail(f"strategy.settings.{key}", f"unknown setting of {strategy['name']}; allowed: {', '.join(accepted)}")
        _setting_type(f"strategy.settings.{key}", value, accepted[key])
    try:
        strategies.get(strategy["name"], Space.from_dict(space), seed=seed, **strategy["settings"])
    except (TypeError, ValueError) as error:
        _fail("strategy.settings", str(error))
    return {"name": strategy["name"], "settings": dict(strategy["settings"])}


def _executor(raw: Mapping[str, Any], mode: str) -> dict[str, Any]:
    executor = _section(raw, "executor", DEFAULTS["executor"])
    _one_of("executor.name", executor["name"], executors.available())
    _integer("executor.workers", executor["workers"], 1)
    _integer("executor.workers_per_gpu", executor["workers_per_gpu"], 1)
    _integer("executor.gpu_memory_mb", executor["gpu_memory_mb"], 1, optional=True)
    _integer("executor.max_trials_per_worker", executor["max_trials_per_worker"], 1, optional=True)
    if executor["gpus"] is not None and not isinstance(executor["gpus"], list):
        _fail("executor.gpus", f"must be a list of GPU ids; received {executor['gpus']!r}")
    _integer("executor.threads", executor["threads"], 1, optional=True)
    if executor["threads"] is None and mode == "sync":
        # TensorFlow's CPU results depend on the intra-op thread count (reductions are split per
        # thread): a trial must run on as many threads with 1 worker as with 8, serial or MPI.
        executor["threads"] = SYNC_THREADS
    return executor


def _budget(raw: Mapping[str, Any]) -> dict[str, Any]:
    budget = _section(raw, "budget", DEFAULTS["budget"])
    _integer("budget.trials", budget["trials"], 1, optional=True)
    _number("budget.wall_time_s", budget["wall_time_s"], positive=True, optional=True)
    _number("budget.target", budget["target"], optional=True)
    if all(budget[k] is None for k in ("trials", "wall_time_s", "target")):
        _fail("budget", "needs at least one of trials, wall_time_s, target")
    return budget


_PRUNER_KEYS = {"name": None, "min_epochs": 1, "max_epochs": None, "settings": {}}


def _pruner(raw: Mapping[str, Any], training: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``pruner`` section, complete (``max_epochs`` defaults to ``training.epochs``), or None."""
    if raw.get("pruner") is None:
        return None
    section = _section(raw, "pruner", _PRUNER_KEYS)
    _one_of("pruner.name", section["name"], sorted(pruners.PRUNERS))
    epochs = int(training["epochs"])
    min_epochs = _integer("pruner.min_epochs", section["min_epochs"], 1)
    max_epochs = _integer("pruner.max_epochs", section["max_epochs"], 1, optional=True)
    max_epochs = epochs if max_epochs is None else max_epochs
    if max_epochs > epochs:
        _fail("pruner.max_epochs", f"must be <= training.epochs ({epochs}); received {max_epochs}")
    if min_epochs > max_epochs:  # type: ignore[operator]
        _fail(
            "pruner.min_epochs",
            f"must be <= pruner.max_epochs ({max_epochs}); received {min_epochs}: no trial could reach a check",
        )
    settings = section["settings"]
    if not isinstance(settings, Mapping):
        _fail("pruner.settings", f"must be a mapping; received {settings!r}")
    for key in ("min_epochs", "max_epochs"):
        if key in settings:
            _fail(f"pruner.settings.{key}", f"goes in the pruner section itself: pruner.{key}")
    out = {"name": section["name"], "min_epochs": min_epochs, "max_epochs": max_epochs, "settings": dict(settings)}
    try:
        make_pruner(out)
    except ValueError as error:
        key, _, message = str(error).partition(" ")
        if key.startswith("pruner."):
            _fail(key.replace("pruner.", "pruner.settings.", 1), message)
        _fail("pruner", str(error))
    return out


def _tensorboard(raw: Mapping[str, Any]) -> bool:
    value = raw.get("tensorboard", False)
    if not isinstance(value, bool):
        _fail("tensorboard", f"must be true or false; received {value!r}")
    if value:
        try:
            import tensorboard  # noqa: F401  (TensorFlow >= 2.21 does not install it)
        except ImportError:
            _fail("tensorboard", "needs TensorBoard, which is not installed: pip install 'keras-geo[tensorboard]'")
    return value


def _mlflow(raw: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The ``mlflow`` section, complete (``experiment`` defaults to the search's name), or None."""
    if raw.get("mlflow") is None:
        return None
    section = _section(raw, "mlflow", _MLFLOW_KEYS)
    for key in _MLFLOW_KEYS:
        value = section[key]
        if value is not None and (not isinstance(value, str) or not value.strip()):
            _fail(f"mlflow.{key}", f"must be a non-empty string; received {value!r}")
    if section["experiment"] is None:
        section["experiment"] = name
    try:
        import mlflow  # noqa: F401
    except ImportError:
        _fail("mlflow", "needs MLflow, which is not installed: pip install 'keras-geo[mlflow]'")
    return section


def make_pruner(section: Mapping[str, Any] | None) -> pruners.Pruner | None:
    """The :class:`hpo.pruners.Pruner` of a validated ``pruner`` section (None: no pruning)."""
    if section is None:
        return None
    return pruners.get(
        section["name"],
        min_epochs=section["min_epochs"],
        max_epochs=section["max_epochs"],
        **dict(section.get("settings") or {}),
    )


def validate_config(raw: Mapping[str, Any], *, base_dir: str | Path | None = None) -> Config:
    """Checks a configuration and fills in every default.

    Args:
        raw: The configuration as read from YAML.
        base_dir: Folder that relative dataset paths are relative to (the YAML file's).

    Returns:
        A :class:`Config` (its :meth:`~Config.to_dict` is stored with the search, so that
        ``resume`` rebuilds exactly the same search).

    Raises:
        ConfigError: naming the first bad key and what is allowed.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: must be a mapping of keys; received {type(raw).__name__}")
    unknown = sorted(set(raw) - set(DEFAULTS), key=str)
    if unknown:
        _fail(unknown[0], f"unknown key; allowed: {', '.join(sorted(DEFAULTS))}")
    name = raw.get("name", DEFAULTS["name"])
    if not isinstance(name, str) or not name.strip():
        _fail("name", f"must be a non-empty string; received {name!r}")
    seed = _integer("seed", raw.get("seed", 0), 0, maximum=2**32 - 1)  # what every RNG accepts
    store = raw.get("store")
    if store is not None and (not isinstance(store, str) or not store):
        _fail("store", f"must be a file path; received {store!r}")
    mode = _one_of("mode", raw.get("mode", "async"), _MODES)
    batch_size = _integer("batch_size", raw.get("batch_size"), 1, optional=True)

    dataset = _dataset(raw, Path(base_dir) if base_dir is not None else None)
    task = _task(raw, dataset)
    model, arguments, open_ended = _model(raw, task)
    training = _training(raw)
    space = _space(raw, arguments, open_ended, model.builder, task)
    _builder_values(model, space, arguments, dataset)
    search = SearchSpec(
        name=name,
        seed=seed,
        store=store or str(Path("runs") / name / "store.db"),
        mode=mode,
        batch_size=batch_size,
        space=space,
        objective=_objective(raw, task),
        strategy=_strategy(raw, space, seed),
        executor=_executor(raw, mode),
        budget=_budget(raw),
        pruner=_pruner(raw, training),
        tensorboard=_tensorboard(raw),
        mlflow=_mlflow(raw, name),
    )
    if len(search.objectives) > 1 and not strategies.is_multi_objective(search.strategy["name"]):
        several = [n for n in strategies.available() if strategies.is_multi_objective(n)]
        _fail(
            "strategy.name",
            f"{search.strategy['name']} optimises one objective; the {len(search.objectives)} objectives need one of: "
            f"{', '.join(several)}",
        )
    return Config(dataset=dataset, task=task, model=model, training=training, search=search)


# Sections that are one thing each: a file's replaces its base's whole (a search space; a strategy's
# settings belong to that strategy).
_WHOLE = ("space", "strategy")


def _merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` over ``base``: mappings merge key by key, except :data:`_WHOLE`, which replace the base's."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and key not in _WHOLE:
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A configuration file's mapping, with its ``base:`` chain merged under it."""
    try:
        raw = yaml.safe_load(_read_text(path)) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).strip().splitlines()[0]
        _fail("config", f"{path} is not valid YAML{where}: {problem}")
    except RecursionError:
        _fail("config", f"{path} is nested too deeply to be a configuration")
    if not isinstance(raw, dict):
        raise ConfigError(f"config: {path} must hold a mapping of keys; received {type(raw).__name__}")
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str) or not base:
        _fail("base", f"must be the path of another configuration file; received {base!r}")
    base_path = (path.parent / base).resolve()
    if not base_path.exists() and Path(base).name == base:  # a shipped configuration by name
        base_path = shipped_configs().get(base.removesuffix(".yaml"), base_path)
    if base_path in seen:
        _fail("base", f"{path} and its bases form a loop through {base_path}")
    return _merge(_read_yaml(base_path, (*seen, path.resolve())), raw)


def load_config(
    path: str | Path, overrides: Mapping[str, Any] | None = None, *, changes: Mapping[str, Any] | None = None
) -> Config:
    """Reads a YAML configuration (and its ``base:``), applies changes and ``overrides``, and validates it.

    Args:
        path: The YAML file.
        overrides: Dotted keys, e.g. ``{"strategy.name": "tpe", "executor.workers": 4}`` (from CLI options).
        changes: Sections merged over the file's as a file based on it would
            (``{"dataset": {"image_size": 32}, "budget": {"trials": 6}}``; ``space`` and
            ``strategy`` replace the file's whole).

    Raises:
        ConfigError: for a missing or unreadable file, bad YAML, or any bad key.
    """
    path = Path(path)
    raw = _merge(_read_yaml(path), changes or {})
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        target = raw
        *parents, leaf = dotted.split(".")
        for parent in parents:
            target = target.setdefault(parent, {}) if isinstance(target.get(parent, {}), dict) else {}
        target[leaf] = value
    return validate_config(raw, base_dir=path.parent)


def _shipped_folder() -> Path:
    """The folder of the configurations shipped inside the package (``keras_geo/configs``)."""
    folder = resources.files("keras_geo") / "configs"
    if not isinstance(folder, Path):  # a zipped install: ``base:`` needs real files next to each other
        raise ConfigError(
            f"config: the shipped configurations are inside an archive ({folder}); install keras-geo unzipped"
        )
    return folder


def shipped_configs() -> dict[str, Path]:
    """The configurations shipped with keras-geo: ``{name: path}``, sorted by name.

    The name is the file's stem (``filler_ga_tpe`` for ``filler_ga_tpe.yaml``); the files live in the
    installed package, so they work the same from a source checkout and after ``pip install``::

        >>> from keras_geo.config import load_config, shipped_config, shipped_configs
        >>> "filler_ga_tpe" in shipped_configs()
        True
        >>> config = load_config(shipped_config("filler_ga_tpe"), {"budget.trials": 4})
    """
    return {path.stem: path for path in sorted(_shipped_folder().glob("*.yaml"))}


def shipped_config(name: str) -> Path:
    """The path of the shipped configuration ``name`` (its stem, ``.yaml`` optional).

    Raises:
        ConfigError: for a name that is not shipped; the message lists the shipped names.
    """
    shipped = shipped_configs()
    stem = name[: -len(".yaml")] if name.endswith(".yaml") else name
    if stem not in shipped:
        raise ConfigError(f"config: no shipped configuration {name!r}; shipped: {', '.join(shipped)}")
    return shipped[stem]

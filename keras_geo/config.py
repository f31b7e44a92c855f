"""Search configurations: YAML in, a validated plain dict out, with errors that name the key.

A configuration says everything a search needs (see ``data/configs/*.yaml``)::

    name: filler-ga-tpe
    seed: 0
    dataset: {name: filler, fov_nm: 1000, image_size: 32, n_train: 150, n_val: 50, n_test: 200}
    model: {builder: filler_cnn, fixed: {pooling: max}}
    training: {epochs: 6, batch_size: 32}
    space:
      filters: {type: int, low: 4, high: 32, log: true}
      learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    objective: {metric: val_accuracy, direction: maximize}
    strategy: {name: ga_tpe, settings: {population_size: 6}}
    executor: {name: local, workers: 2}
    mode: async
    budget: {trials: 24}

Every problem raises :class:`ConfigError` whose message starts with the dotted key
(``budget.trials: must be >= 1; received -3``), so the CLI prints one line and exits 2.
"""
from __future__ import annotations

import codecs
import copy
import inspect
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from hpo import executors, strategies
from hpo.space import Space

__all__ = ["ConfigError", "DEFAULTS", "DATASETS", "load_config", "validate_config"]


class ConfigError(ValueError):
    """A configuration problem; the message names the key and what is allowed."""


DATASETS: dict[str, dict[str, Any]] = {
    # Arguments of keras_geo.datasets.filler.make_splits (n_train/n_val/n_test per class).
    "filler": {
        "n_train": 300,
        "n_val": 100,
        "n_test": 300,
        "fov_nm": 1000.0,
        "image_size": 32,
        "radius_nm": 10.0,
        "volume_fraction": 0.15,
        "box_nm": None,
        "blur_sigma_px": 0.0,
        "noise_std": 0.0,
        "seed": 0,
        "slices_per_structure": 100,
    },
    # Your own arrays: an .npz with x_train, y_train, x_val, y_val (x_test, y_test and
    # class_names optional), loaded without pickle.
    "npz": {"path": None},
    # Your own images: one sub-folder per class (keras_geo.datasets.folders), split
    # stratified into training and validation.
    "folder": {"path": None, "image_size": 96, "color_mode": "rgb", "validation_split": 0.2, "seed": 0},
    # The synthetic 5-class shapes (keras_geo.datasets.shapes), images per class.
    "shapes": {"n_train": 100, "n_val": 40, "n_test": 40, "image_size": 64, "seed": 0},
}

DEFAULTS: dict[str, Any] = {
    "name": "search",
    "seed": 0,
    "store": None,
    "mode": "async",
    "batch_size": None,
    "dataset": {"name": "filler"},
    "model": {"builder": "filler_cnn", "fixed": {}},
    "training": {},
    "space": None,
    "objective": {"metric": "val_accuracy", "direction": "maximize"},
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
}

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


def _integer(key: str, value: Any, minimum: int | None = None, *, optional: bool = False,
             maximum: int | None = None) -> int | None:
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


def _dataset(config: Mapping[str, Any], base: Path | None) -> dict[str, Any]:
    raw = config.get("dataset") or {}
    if not isinstance(raw, Mapping):
        _fail("dataset", f"must be a mapping; received {raw!r}")
    name = _one_of("dataset.name", raw.get("name", "filler"), DATASETS)
    section = _section({"dataset": {k: v for k, v in raw.items() if k != "name"}}, "dataset", DATASETS[name])
    if name == "filler":
        for key in ("n_train", "n_val", "n_test", "image_size"):
            _integer(f"dataset.{key}", section[key], 8 if key == "image_size" else 1)
        for key in ("fov_nm", "radius_nm", "volume_fraction"):
            _number(f"dataset.{key}", section[key], positive=True)
        _number("dataset.box_nm", section["box_nm"], positive=True, optional=True)
        for key in ("blur_sigma_px", "noise_std"):
            if _number(f"dataset.{key}", section[key]) < 0:  # type: ignore[operator]
                _fail(f"dataset.{key}", f"must be >= 0; received {section[key]}")
        _integer("dataset.seed", section["seed"])
        _integer("dataset.slices_per_structure", section["slices_per_structure"], 1)
    elif name == "shapes":
        for key in ("n_train", "n_val", "n_test", "image_size"):
            _integer(f"dataset.{key}", section[key], 16 if key == "image_size" else 1)
        _integer("dataset.seed", section["seed"])
    else:
        path = section["path"]
        what = "an .npz file" if name == "npz" else "a folder with one sub-folder per class"
        if not isinstance(path, str) or not path:
            _fail("dataset.path", f"{what} is required for dataset {name!r}; received {path!r}")
        resolved = Path(path) if Path(path).is_absolute() or base is None else base / path
        if not (resolved.is_file() if name == "npz" else resolved.is_dir()):
            _fail("dataset.path", f"no such {'file' if name == 'npz' else 'folder'}: {resolved}")
        section["path"] = str(resolved.resolve())
        if name == "folder":
            _integer("dataset.image_size", section["image_size"], 16)
            _one_of("dataset.color_mode", section["color_mode"], ("rgb", "grayscale"))
            split = _number("dataset.validation_split", section["validation_split"], positive=True)
            if not split < 1:  # type: ignore[operator]
                _fail("dataset.validation_split", f"must be in (0, 1); received {split}")
            _integer("dataset.seed", section["seed"])
    return {"name": name, **section}


def _strategy_settings(cls: type) -> dict[str, Any]:
    """Keyword settings a strategy class accepts, with their defaults, following ``**settings`` up to its parents."""
    settings: dict[str, Any] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is strategies.Strategy:
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        for p in parameters:
            if p.kind == p.KEYWORD_ONLY and p.name != "seed" and p.name not in settings:
                settings[p.name] = p.default
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return settings


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


def validate_config(raw: Mapping[str, Any], *, base_dir: str | Path | None = None) -> dict[str, Any]:
    """Checks a configuration and fills in defaults.

    Args:
        raw: The configuration as read from YAML.
        base_dir: Folder that relative dataset paths are relative to (the YAML file's).

    Returns:
        A complete, plain-JSON configuration dict (stored with the search, so that
        ``resume`` rebuilds exactly the same search).

    Raises:
        ConfigError: naming the first bad key and what is allowed.
    """
    from keras_geo import models, training

    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: must be a mapping of keys; received {type(raw).__name__}")
    unknown = sorted(set(raw) - set(DEFAULTS), key=str)
    if unknown:
        _fail(unknown[0], f"unknown key; allowed: {', '.join(sorted(DEFAULTS))}")
    config: dict[str, Any] = {}
    name = raw.get("name", DEFAULTS["name"])
    if not isinstance(name, str) or not name.strip():
        _fail("name", f"must be a non-empty string; received {name!r}")
    config["name"] = name
    config["seed"] = _integer("seed", raw.get("seed", 0), 0, maximum=2**32 - 1)  # what every RNG accepts
    store = raw.get("store")
    if store is not None and (not isinstance(store, str) or not store):
        _fail("store", f"must be a file path; received {store!r}")
    config["store"] = store or str(Path("runs") / name / "store.db")
    config["mode"] = _one_of("mode", raw.get("mode", "async"), _MODES)
    config["batch_size"] = _integer("batch_size", raw.get("batch_size"), 1, optional=True)
    config["dataset"] = _dataset(raw, Path(base_dir) if base_dir is not None else None)

    model = _section(raw, "model", DEFAULTS["model"])
    builder = model["builder"]
    if builder not in models.available():
        _fail("model.builder", f"unknown builder {builder!r}; allowed: {', '.join(models.available())}")
    if not isinstance(model["fixed"], Mapping):
        _fail("model.fixed", f"must be a mapping of builder arguments; received {model['fixed']!r}")
    arguments = models.builder_arguments(builder)
    open_ended = models.accepts_any_keyword(builder)
    for key in model["fixed"]:
        if key not in arguments and not open_ended:
            _fail(f"model.fixed.{key}", f"not an argument of {builder}; allowed: {', '.join(arguments)}")
    config["model"] = {"builder": builder, "fixed": dict(model["fixed"])}

    config["training"] = _section(raw, "training", training.TRAINING_DEFAULTS)
    for key in ("epochs", "batch_size", "patience", "warmup_epochs"):
        _integer(f"training.{key}", config["training"][key], 1 if key in ("epochs", "batch_size") else 0)
    _number("training.learning_rate", config["training"]["learning_rate"], positive=True)
    _one_of("training.optimizer", config["training"]["optimizer"], training.OPTIMIZERS)

    space_raw = raw.get("space")
    if not isinstance(space_raw, Mapping) or not space_raw:
        _fail("space", "must be a non-empty mapping of parameter name -> range or choices")
    for key in space_raw:
        if key not in arguments and key not in training.TRAINING_DEFAULTS and not open_ended:
            _fail(
                f"space.{key}",
                f"neither an argument of {builder} nor a training setting; allowed: "
                f"{', '.join([*arguments, *training.TRAINING_DEFAULTS])}",
            )
    try:
        space = Space.from_dict(dict(space_raw))
    except (ValueError, TypeError) as error:
        _fail("space", str(error))
    config["space"] = space.to_dict()

    objective = _section(raw, "objective", DEFAULTS["objective"])
    if not isinstance(objective["metric"], str):
        _fail("objective.metric", f"must be a metric name such as val_accuracy; received {objective['metric']!r}")
    _one_of("objective.direction", objective["direction"], _DIRECTIONS)
    config["objective"] = objective

    strategy = _section(raw, "strategy", DEFAULTS["strategy"])
    _one_of("strategy.name", strategy["name"], strategies.available())
    if not isinstance(strategy["settings"], Mapping):
        _fail("strategy.settings", f"must be a mapping; received {strategy['settings']!r}")
    accepted = _strategy_settings(strategies.strategy_class(strategy["name"]))
    for key, value in strategy["settings"].items():
        if key not in accepted:
            _fail(f"strategy.settings.{key}", f"unknown setting of {strategy['name']}; allowed: {', '.join(accepted)}")
        _setting_type(f"strategy.settings.{key}", value, accepted[key])
    try:
        strategies.get(strategy["name"], space, seed=config["seed"], **strategy["settings"])
    except (TypeError, ValueError) as error:
        _fail("strategy.settings", str(error))
    config["strategy"] = {"name": strategy["name"], "settings": dict(strategy["settings"])}

    executor = _section(raw, "executor", DEFAULTS["executor"])
    _one_of("executor.name", executor["name"], executors.available())
    _integer("executor.workers", executor["workers"], 1)
    _integer("executor.workers_per_gpu", executor["workers_per_gpu"], 1)
    _integer("executor.gpu_memory_mb", executor["gpu_memory_mb"], 1, optional=True)
    _integer("executor.max_trials_per_worker", executor["max_trials_per_worker"], 1, optional=True)
    if executor["gpus"] is not None and not isinstance(executor["gpus"], list):
        _fail("executor.gpus", f"must be a list of GPU ids; received {executor['gpus']!r}")
    _integer("executor.threads", executor["threads"], 1, optional=True)
    if executor["threads"] is None and config["mode"] == "sync":
        # TensorFlow's CPU results depend on the intra-op thread count (reductions are split per
        # thread): a trial must run on as many threads with 1 worker as with 8, serial or MPI.
        executor["threads"] = SYNC_THREADS
    config["executor"] = executor

    budget = _section(raw, "budget", DEFAULTS["budget"])
    _integer("budget.trials", budget["trials"], 1, optional=True)
    _number("budget.wall_time_s", budget["wall_time_s"], positive=True, optional=True)
    _number("budget.target", budget["target"], optional=True)
    if all(budget[k] is None for k in ("trials", "wall_time_s", "target")):
        _fail("budget", "needs at least one of trials, wall_time_s, target")
    config["budget"] = budget
    return config


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


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Reads a YAML configuration, applies ``overrides`` (dotted keys), and validates it.

    Args:
        path: The YAML file.
        overrides: e.g. ``{"strategy.name": "tpe", "executor.workers": 4}`` (from CLI options).

    Raises:
        ConfigError: for a missing or unreadable file, bad YAML, or any bad key.
    """
    path = Path(path)
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
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        target = raw
        *parents, leaf = dotted.split(".")
        for parent in parents:
            target = target.setdefault(parent, {}) if isinstance(target.get(parent, {}), dict) else {}
        target[leaf] = value
    return validate_config(raw, base_dir=path.parent)

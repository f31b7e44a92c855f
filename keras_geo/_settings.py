"""Settings validated from a function's signature: the one source of a data set's or task's defaults.

A registered data set is a function whose keyword parameters are its settings, and
a task is a class whose ``__init__`` keywords are its settings. Their defaults are
the shipped defaults (nowhere else), and their annotations say what a value may be:

    def load(n_train: Annotated[int, Range(1)] = 300,
             fov_nm: Annotated[float, Range(0, open_low=True)] = 1000.0,
             color_mode: Literal["rgb", "grayscale"] = "rgb",
             path: Annotated[str, Exists("file")],   # required: no default
             box_nm: float | None = None) -> Dataset: ...

:func:`validate` checks a mapping of settings against such a signature and gives one
:class:`SettingError` naming the dotted key (``dataset.fov_nm: must be > 0; received
-3``), which the configuration turns into its own one-line error.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Exists", "Range", "SettingError", "defaults", "validate"]


class SettingError(ValueError):
    """A setting is unknown, missing, or of the wrong type or range; the message starts with its key."""


@dataclass(frozen=True)
class Range:
    """A numeric bound: ``low <= value <= high`` (strict with ``open_low``/``open_high``); None is unbounded."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def check(self, key: str, value: float) -> None:
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            raise SettingError(f"{key}: must be {'>' if self.open_low else '>='} {self.low:g}; received {value!r}")
        if self.high is not None and (value >= self.high if self.open_high else value > self.high):
            raise SettingError(f"{key}: must be {'<' if self.open_high else '<='} {self.high:g}; received {value!r}")


@dataclass(frozen=True)
class Exists:
    """A file or folder path: resolved against the configuration's folder, and required to exist."""

    kind: str = "file"  # "file" or "folder"

    def resolve(self, key: str, value: str, base: Path | None) -> str:
        path = Path(value).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        exists = path.is_file() if self.kind == "file" else path.is_dir()
        if not exists:
            raise SettingError(f"{key}: no such {self.kind}: {path}")
        return str(path.resolve())


def _parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    signature = inspect.signature(function)
    return {
        name: p
        for name, p in signature.parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and name != "self"
    }


def defaults(function: Callable[..., Any]) -> dict[str, Any]:
    """The settings of ``function`` with their defaults (``inspect.Parameter.empty`` when required)."""
    return {name: p.default for name, p in _parameters(function).items()}


def _type_name(kind: Any) -> str:
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(kind, str(kind))


def _check(key: str, value: Any, hint: Any, base: Path | None) -> Any:
    """``value`` checked against the annotation ``hint``; returns it (paths resolved, ints as floats where asked)."""
    extras: tuple = ()
    if typing.get_origin(hint) is typing.Annotated:
        hint, *extras = typing.get_args(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _check(key, value, typing.Annotated[(options[0], *extras)] if extras else options[0], base)
        for option in options:
            try:
                return _check(key, value, option, base)
            except SettingError:
                continue
        raise SettingError(f"{key}: must be one of the types {', '.join(map(_type_name, options))}; received {value!r}")
    if origin is typing.Literal:
        if value not in args or isinstance(value, bool) != any(isinstance(a, bool) for a in args if a == value):
            raise SettingError(f"{key}: must be one of {', '.join(map(str, args))}; received {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise SettingError(f"{key}: must be a list of {len(args)} values; received {value!r}")
        checked = [_check(f"{key}[{i}]", v, args[i], base) for i, v in enumerate(value)]
        for extra in extras:
            if isinstance(extra, Range):
                for i, v in enumerate(checked):
                    extra.check(f"{key}[{i}]", v)
        return checked
    if hint is bool:
        if not isinstance(value, bool):
            raise SettingError(f"{key}: must be true or false; received {value!r}")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingError(f"{key}: must be an integer; received {value!r}")
        if abs(value) > 2**53:
            raise SettingError(f"{key}: must be at most 2**53 in size; received {value!r}")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingError(f"{key}: must be a number; received {value!r}")
        if not math.isfinite(value):
            raise SettingError(f"{key}: must be finite; received {value!r}")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str) or not value:
            raise SettingError(f"{key}: must be a non-empty string; received {value!r}")
    elif hint in (dict, Mapping) or origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise SettingError(f"{key}: must be a mapping; received {value!r}")
        value = dict(value)
    for extra in extras:
        if isinstance(extra, Range):
            extra.check(key, value)
        elif isinstance(extra, Exists):
            value = extra.resolve(key, value, base)
    return value


def validate(
    function: Callable[..., Any],
    settings: Mapping[str, Any] | None,
    *,
    key: str,
    base_dir: str | Path | None = None,
    fill: bool = True,
) -> dict[str, Any]:
    """Checks ``settings`` against the keyword parameters of ``function``.

    Args:
        function: The data set loader or task class whose signature holds the settings.
        settings: The user's settings (from YAML); None means none.
        key: The dotted prefix of every error (``"dataset"``, ``"task"``).
        base_dir: Folder that relative paths are relative to (the configuration's).
        fill: Add every setting the user left out, with its default. Defaults to `True`.

    Returns:
        The settings, checked, with paths resolved (and defaults filled in).

    Raises:
        SettingError: naming the first bad, unknown or missing setting.
    """
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise SettingError(f"{key}: must be a mapping; received {type(settings).__name__} {settings!r}")
    parameters = _parameters(function)
    unknown = sorted((k for k in settings if k not in parameters), key=str)
    if unknown:
        allowed = ", ".join(parameters) or "none"
        raise SettingError(f"{key}.{unknown[0]}: unknown setting; allowed: {allowed}")
    target = function.__init__ if inspect.isclass(function) else function
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except (NameError, TypeError):  # an annotation that does not resolve: trust the defaults' types
        hints = {}
    base = Path(base_dir) if base_dir is not None else None
    out: dict[str, Any] = {}
    for name, parameter in parameters.items():
        if name in settings:
            hint = hints.get(name)
            if hint is None and parameter.default not in (inspect.Parameter.empty, None):
                hint = type(parameter.default)
            value = settings[name]
            out[name] = _check(f"{key}.{name}", value, hint, base) if hint is not None else value
        elif parameter.default is inspect.Parameter.empty:
            raise SettingError(f"{key}.{name}: required; received nothing")
        elif fill:  # JSON has no tuples: a default pair is stored as the list a user would write
            default = parameter.default
            out[name] = list(default) if isinstance(default, tuple) else default
    return out

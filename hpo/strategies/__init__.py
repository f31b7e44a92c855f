"""Search strategies and their registry.

>>> from hpo.space import Space
>>> from hpo import strategies
>>> space = Space.from_dict({"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}})
>>> s = strategies.get("ga_tpe", space, seed=1)
>>> batch = s.ask(4)          # four params dicts
>>> # ... evaluate, then: s.tell([Result(params, value), ...])

Built-in names: ``grid``, ``random``, ``tpe``, ``ga``, ``bayes``, ``ga_tpe``,
``auto`` (``bayes`` on small unconditional spaces, ``ga_tpe`` otherwise; see
:mod:`hpo.strategies._auto`), ``nsga2`` and ``nsga2_tpe`` (see :func:`available`).
Only ``nsga2`` and ``nsga2_tpe`` handle several objectives (:func:`is_multi_objective`);
the others refuse a result with two or more ``Result.values``, and a loop must refuse
a multi-objective search with them.  The interface is :class:`Strategy` (in
``hpo.strategies._base``); each implementation module's docstring documents
its rule, settings and how it treats failed results.  Implementations are
imported on first use, so ``import hpo.strategies`` stays cheap.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from ..space import Space
from ..trial import Result
from ._base import Strategy

__all__ = [
    "Strategy",
    "Result",
    "get",
    "available",
    "register",
    "settings_of",
    "strategy_class",
    "is_multi_objective",
]

# name -> "module:Class" (lazy) or a class registered at run time.
_REGISTRY: dict[str, str | type[Strategy]] = {
    "grid": "hpo.strategies._simple:GridStrategy",
    "random": "hpo.strategies._simple:RandomStrategy",
    "tpe": "hpo.strategies._tpe:TPEStrategy",
    "ga": "hpo.strategies._ga:GAStrategy",
    "bayes": "hpo.strategies._bayes:BayesStrategy",
    "ga_tpe": "hpo.strategies._ga_tpe:GATPEStrategy",
    "auto": "hpo.strategies._auto:AutoStrategy",
    "nsga2": "hpo.strategies._nsga2:NSGA2Strategy",
    "nsga2_tpe": "hpo.strategies._nsga2_tpe:NSGA2TPEStrategy",
}


def available() -> list[str]:
    """Names accepted by :func:`get`, in registration order."""
    return list(_REGISTRY)


def strategy_class(name: str) -> type[Strategy]:
    """The class registered under ``name`` (ValueError listing the names otherwise)."""
    try:
        entry = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; available: {available()}") from None
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
        _REGISTRY[name] = entry
    return entry  # type: ignore[return-value]


def is_multi_objective(name: str) -> bool:
    """Whether the strategy ``name`` optimises several objectives (``Result.values``) at once.

    A loop with two or more objectives refuses a strategy for which this is False.
    """
    return bool(getattr(strategy_class(name), "multi_objective", False))


def settings_of(cls: type[Strategy]) -> dict[str, Any]:
    """The keyword settings a strategy class accepts, with their defaults.

    Read from the keyword-only arguments of its ``__init__`` (``seed`` aside), following
    ``**settings`` up to the parents that receive them.
    """
    settings: dict[str, Any] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is Strategy:
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        for p in parameters:
            if p.kind == p.KEYWORD_ONLY and p.name != "seed" and p.name not in settings:
                settings[p.name] = p.default
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return settings


def get(name: str, space: Space | Mapping[str, Any], *, seed: int = 0, **settings: Any) -> Strategy:
    """Build the strategy ``name`` over ``space`` (a Space or a spec dict) with ``seed`` and settings.

    Unknown settings raise TypeError naming them.
    """
    cls = strategy_class(name)
    return cls(space, seed=seed, **settings)


def register(name: str, cls: type[Strategy] | str) -> None:
    """Add a strategy (a :class:`Strategy` subclass, or ``"module:Class"`` imported lazily)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"strategy names must be non-empty strings; received {name!r}")
    if not isinstance(cls, str) and not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise TypeError(f"register() needs a Strategy subclass or 'module:Class'; received {cls!r}")
    _REGISTRY[name] = cls

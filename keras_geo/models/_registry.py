"""The model registry: every builder registers itself under a short name.

The search engine and the CLI refer to builders by name (``builder: filler_cnn``
in a YAML config), so a builder becomes searchable the moment it is registered.
"""
from __future__ import annotations

import inspect
from typing import Callable

import keras

Builder = Callable[..., keras.Model]

_BUILDERS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Decorator registering a model builder under ``name``.

    Args:
        name: The registry name, e.g. ``"filler_cnn"``. Must be unique.

    Returns:
        The decorator; it returns the builder unchanged.
    """

    def decorator(builder: Builder) -> Builder:
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(
                f"A model builder is already registered as {name!r}: "
                f"{_BUILDERS[name].__module__}.{_BUILDERS[name].__qualname__}."
            )
        _BUILDERS[name] = builder
        return builder

    return decorator


def get(name: str) -> Builder:
    """Returns the builder registered under ``name``.

    Raises:
        KeyError: if no builder has that name; the message lists the known ones.
    """
    try:
        return _BUILDERS[name]
    except KeyError:
        raise KeyError(
            f"Unknown model builder {name!r}. Available: {', '.join(available())}."
        ) from None


def available() -> list[str]:
    """Names of all registered builders, sorted."""
    return sorted(_BUILDERS)


def describe(name: str) -> str:
    """The first line of a builder's docstring, for listings such as ``keras-geo-hpo models``."""
    doc = inspect.getdoc(get(name)) or ""
    return doc.splitlines()[0] if doc else ""


def builder_arguments(name: str) -> dict[str, object]:
    """Keyword arguments of a builder with their defaults (``inspect.Parameter.empty`` when required)."""
    signature = inspect.signature(get(name))
    return {p.name: p.default for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD}


def accepts_any_keyword(name: str) -> bool:
    """True when a builder takes ``**kwargs`` (its arguments cannot all be listed up front)."""
    signature = inspect.signature(get(name))
    return any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())

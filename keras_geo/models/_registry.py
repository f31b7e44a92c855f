"""The model registry: every builder registers itself under a short name.

The search engine and the CLI refer to builders by name (``builder: filler_cnn``
in a YAML config), so a builder becomes searchable the moment it is registered.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import keras

Builder = Callable[..., keras.Model]

_BUILDERS: dict[str, Builder] = {}
_TASKS: dict[str, tuple[str, ...]] = {}
_CHECKS: dict[str, Callable[..., None]] = {}


def register(
    name: str, *, tasks: tuple[str, ...] = ("classification",), check: Callable[..., None] | None = None
) -> Callable[[Builder], Builder]:
    """Decorator registering a model builder under ``name``, with the tasks it serves.

    A builder serves a task when it accepts the head arguments that task gives it
    (:meth:`keras_geo.tasks.Task.head_arguments`): ``n_classes`` and
    ``classifier_activation`` for classification and regression (a linear head of
    ``n_classes`` outputs), ``output_channels`` and ``output_activation`` for
    image-to-image models.

    Args:
        name: The registry name, e.g. ``"filler_cnn"``. Must be unique.
        tasks: Names of the tasks the builder serves. Defaults to `("classification",)`.
        check: Optional: a function taking some of the builder's keyword arguments that
            raises ``ValueError`` on values the builder would refuse, without building
            anything; :func:`check_arguments` calls it, so a search configuration with an
            impossible value fails when it is read. Defaults to `None`.

    Returns:
        The decorator; it returns the builder unchanged.
    """
    if isinstance(tasks, str) or not tasks:
        raise ValueError(f"`tasks` must be a non-empty tuple of task names. Received: tasks={tasks!r}")

    def decorator(builder: Builder) -> Builder:
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(
                f"A model builder is already registered as {name!r}: "
                f"{_BUILDERS[name].__module__}.{_BUILDERS[name].__qualname__}."
            )
        _BUILDERS[name] = builder
        _TASKS[name] = tuple(tasks)
        if check is not None:
            _CHECKS[name] = check
        return builder

    return decorator


def check_arguments(name: str, arguments: dict[str, object]) -> None:
    """Checks builder arguments without building, where the builder registered a check.

    Raises:
        ValueError: the builder's one-line message for a value it would refuse.
    """
    get(name)
    if name in _CHECKS:
        _CHECKS[name](**arguments)


def register_variant(
    build: Builder,
    name: str,
    summary: str,
    *,
    fixed: dict[str, object],
    defaults: dict[str, object],
    tasks: tuple[str, ...],
    check: Callable[..., None] | None = None,
) -> Builder:
    """Registers ``build`` under ``name`` with some arguments fixed and new defaults for others.

    In the way of ``keras.applications.ResNet50`` over ``ResNet``: the variant's signature is
    ``build``'s without the ``fixed`` arguments (so a configuration cannot set them) and with
    the new ``defaults``; its docstring starts with ``summary``. ``check`` (the registry's
    argument check, see :func:`register`) gets the variant's defaults, the arguments and the
    fixed values.

    Returns:
        The variant builder, named ``build_{name}``.
    """
    signature = inspect.signature(build)
    parameters = [
        p.replace(default=defaults[p.name]) if p.name in defaults else p
        for p in signature.parameters.values()
        if p.name not in fixed
    ]
    variant_signature = signature.replace(parameters=parameters)

    def builder(*args: object, **kwargs: object) -> keras.Model:
        bound = variant_signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return build(**{**bound.arguments, **fixed})

    builder.__signature__ = variant_signature  # type: ignore[attr-defined]
    builder.__name__ = builder.__qualname__ = f"build_{name}"
    builder.__module__ = build.__module__
    settings = ", ".join(f"{k}={v!r}" for k, v in {**fixed, **defaults}.items() if k != "name")
    builder.__doc__ = f"{summary}\n\n:func:`{build.__name__}` with {settings}; the other arguments are its own."
    variant_check = None
    if check is not None:
        preset = {k: v for k, v in defaults.items() if k != "name"}

        def variant_check(**arguments: object) -> None:
            check(**{**preset, **arguments, **fixed})

    return register(name, tasks=tasks, check=variant_check)(builder)


def tasks_of(name: str) -> tuple[str, ...]:
    """The tasks the builder ``name`` serves."""
    get(name)
    return _TASKS[name]


def serving(task: str) -> list[str]:
    """Names of the builders that serve ``task``, sorted."""
    return sorted(name for name, tasks in _TASKS.items() if task in tasks)


def get(name: str) -> Builder:
    """Returns the builder registered under ``name``.

    Raises:
        KeyError: if no builder has that name; the message lists the known ones.
    """
    try:
        return _BUILDERS[name]
    except KeyError:
        raise KeyError(f"Unknown model builder {name!r}. Available: {', '.join(available())}.") from None


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

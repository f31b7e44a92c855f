"""Argument checks the builders share (no Keras import: the registered model classes use them too)."""

from __future__ import annotations

from collections.abc import Sequence


def _check(condition: bool, message: str) -> None:
    """Raises ``ValueError(message)`` unless ``condition``."""
    if not condition:
        raise ValueError(message)


def _is_int(value) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def _image_shape(input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
    """``(height, width, channels)`` as ints (height and width may be None); a ValueError echoing it otherwise."""
    try:
        shape = tuple(None if d is None else int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"`input_shape` must be (height, width, channels). Received: input_shape={input_shape!r}"
        ) from None
    _check(
        len(shape) == 3 and shape[2] is not None and all(d is None or d > 0 for d in shape),
        "`input_shape` must be (height, width, channels) of positive sizes (height and width "
        f"may be None). Received: input_shape={input_shape}",
    )
    return shape

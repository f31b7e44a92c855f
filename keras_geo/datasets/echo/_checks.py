"""Argument checks and seeded streams of the echo simulator: one-line ValueErrors naming the setting."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value: Any, minimum: int) -> int:
    """``int(value)`` if it is an integer (not a bool) >= ``minimum``; else a ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_number(
    name: str, value: Any, *, low: float | None = None, high: float | None = None, open_low: bool = False
) -> float:
    """``float(value)`` if it is a finite real within the bounds; else a ValueError naming ``name``.

    ``low`` is inclusive unless ``open_low``; ``high`` is exclusive (the only upper bounds used here are open).
    """
    number = float(value) if _is_real(value) else math.nan
    ok = math.isfinite(number)
    if ok and low is not None:
        ok = number > low if open_low else number >= low
    if ok and high is not None:
        ok = number < high
    if not ok:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if open_low else '>='} {low:g}")
        if high is not None:
            bounds.append(f"< {high:g}")
        rule = "a finite number" + (" " + " and ".join(bounds) if bounds else "")
        raise ValueError(f"`{name}` must be {rule}. Received: {name}={value!r}")
    return number


def check_optional_db(name: str, value: Any) -> float | None:
    """None (switched off) or a finite level in dB."""
    return None if value is None else check_number(name, value)


def check_pair(name: str, value: Any, *, low: float | None = None, integer: bool = False) -> tuple[float, float]:
    """A pair ``(min, max)`` with ``low <= min <= max`` (and integers with ``integer``)."""
    try:
        lo, hi = value
    except (TypeError, ValueError):
        lo = hi = None
    ok = not isinstance(value, (str, bytes)) and lo is not None
    if integer:
        ok = ok and all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in (lo, hi))
    else:
        ok = ok and _is_real(lo) and _is_real(hi) and math.isfinite(float(lo)) and math.isfinite(float(hi))
    ok = ok and lo <= hi and (low is None or lo >= low)
    if not ok:
        kind = "integers" if integer else "finite numbers"
        floor = "" if low is None else f"{low:g} <= "
        raise ValueError(
            f"`{name}` must be a pair (min, max) of {kind} with {floor}min <= max. Received: {name}={value!r}"
        )
    return (int(lo), int(hi)) if integer else (float(lo), float(hi))


def check_seed(seed: Any) -> int:
    """A non-negative integer seed."""
    return check_int("seed", seed, 0)


def derive_seed(*keys: int) -> int:
    """A deterministic 63-bit seed from a tuple of non-negative integers (independent per tuple)."""
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)
    return int(state[0] >> np.uint64(1))

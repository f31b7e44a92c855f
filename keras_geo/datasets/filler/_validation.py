"""Argument validation and seed derivation shared by the filler modules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def _check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = True,
    high_open: bool = False,
) -> float:
    """Return ``float(value)`` if it is a finite real in the given interval."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    v = float(value) if ok else float("nan")
    if ok and math.isfinite(v):
        if low is not None and (v < low or (low_open and v == low)):
            ok = False
        if high is not None and (v > high or (high_open and v == high)):
            ok = False
    else:
        ok = False
    if not ok:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = ("(" if low_open else "[") + f"{lo}, {hi}" + (")" if high_open else "]")
        raise ValueError(f"`{name}` must be a finite number in {interval}. Received: {name}={value!r}")
    return v


def _check_seed(seed: Any) -> int:
    return _check_int("seed", seed, 0)


def _derive_seed(*keys: int) -> int:
    """A deterministic 63-bit seed from a tuple of non-negative integers.

    SeedSequence mixes its entropy well, so seeds derived from (seed, 0) and
    (seed, 1) give statistically independent streams.
    """
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))

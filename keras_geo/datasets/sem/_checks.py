"""Argument checks and seeded generators shared by the SEM modules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def check_int(name: str, value: Any, minimum: int) -> int:
    """``int(value)`` if it is an integer (not a bool) >= ``minimum``; else a ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_number(name: str, value: Any, *, positive: bool = False) -> float:
    """``float(value)`` if it is a finite real >= 0 (> 0 with ``positive``); else a ValueError naming ``name``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    number = float(value) if ok else math.nan
    if not (math.isfinite(number) and (number > 0 if positive else number >= 0)):
        raise ValueError(f"`{name}` must be a finite number {'>' if positive else '>='} 0. Received: {name}={value!r}")
    return number


def check_seed(seed: Any) -> int:
    """A non-negative integer seed."""
    return check_int("seed", seed, 0)


def rng(*keys: int) -> np.random.Generator:
    """A generator seeded from a tuple of non-negative integers (independent streams per tuple)."""
    return np.random.default_rng([int(k) for k in keys])


def derive_seed(*keys: int) -> int:
    """A deterministic 63-bit seed from a tuple of non-negative integers."""
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)
    return int(state[0] >> np.uint64(1))

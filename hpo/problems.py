"""Standard test functions for search strategies: Branin, Hartmann-6 and a mixed-type function.

Each :class:`Problem` couples a :class:`~hpo.space.Space` with a cheap function to
*minimise* and its known global minimum, so that a strategy's quality is its
*regret*: the best value found minus the minimum. The test suite and the
benchmarks (``benchmarks/bench_strategies.py``) use the same definitions.

* ``branin`` -- 2 floats, three global minima of 0.397887 (Dixon and Szegö's
  standard form on ``x1 in [-5, 10], x2 in [0, 15]``).
* ``hartmann6`` -- 6 floats in ``[0, 1]``, one narrow global minimum of
  -3.32237 among several local ones.
* ``mixed`` -- a float, an integer, a log-scaled float and a 4-way category,
  the kinds of a real hyperparameter space; minimum 0 at ``x=2.5, n=13,
  act='c', lr=10**-2.5``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .space import Space

__all__ = ["Problem", "PROBLEMS", "branin", "hartmann6", "mixed", "get"]


@dataclass(frozen=True)
class Problem:
    """A function to minimise over a space, with its known minimum."""

    name: str
    space: Space
    fn: Callable[[Mapping[str, Any]], float]
    minimum: float

    def regret(self, value: float) -> float:
        """How far ``value`` is above the global minimum (0 at the optimum)."""
        return float(value) - self.minimum


def branin(p: Mapping[str, Any]) -> float:
    """Branin-Hoo on ``x1 in [-5, 10], x2 in [0, 15]``."""
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(p: Mapping[str, Any]) -> float:
    """Hartmann-6 on ``[0, 1]^6`` (parameters ``x1`` ... ``x6``)."""
    x = np.array([p[f"x{i}"] for i in range(1, 7)], dtype=float)
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


_MIXED_ACT = {"a": 1.0, "b": 0.3, "c": 0.0, "d": 0.8}


def mixed(p: Mapping[str, Any]) -> float:
    """A float, an integer, a log float and a category; minimum 0 at x=2.5, n=13, act='c', lr=10**-2.5."""
    return (p["x"] - 2.5) ** 2 / 10 + (p["n"] - 13) ** 2 / 20 + _MIXED_ACT[p["act"]] + (math.log10(p["lr"]) + 2.5) ** 2


PROBLEMS: dict[str, Problem] = {
    "branin": Problem(
        "branin",
        Space.from_dict(
            {"x1": {"type": "float", "low": -5, "high": 10}, "x2": {"type": "float", "low": 0, "high": 15}}
        ),
        branin,
        0.397887,
    ),
    "hartmann6": Problem(
        "hartmann6",
        Space.from_dict({f"x{i}": {"type": "float", "low": 0, "high": 1} for i in range(1, 7)}),
        hartmann6,
        -3.32237,
    ),
    "mixed": Problem(
        "mixed",
        Space.from_dict(
            {
                "x": {"type": "float", "low": -5, "high": 10},
                "n": {"type": "int", "low": 0, "high": 20},
                "act": ["a", "b", "c", "d"],
                "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            }
        ),
        mixed,
        0.0,
    ),
}


def get(name: str) -> Problem:
    """The problem called ``name`` (one of :data:`PROBLEMS`)."""
    try:
        return PROBLEMS[name]
    except KeyError:
        raise ValueError(f"unknown problem {name!r}; choose one of {sorted(PROBLEMS)}") from None

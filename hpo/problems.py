"""Standard test functions for search strategies: Branin, Hartmann-6, a mixed-type function, ZDT1/ZDT2.

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

Two-objective problems (:class:`MultiProblem`, in :data:`MULTI_PROBLEMS`) for
multi-objective strategies; their quality is the *hypervolume* of the points
found (:func:`hpo.pareto.hypervolume`) up to the problem's reference point,
usually divided by the true front's hypervolume (1.0 = the whole front):

* ``zdt1`` -- Zitzler, Deb and Thiele's ZDT1 with ``n = 6`` floats in
  ``[0, 1]``; convex front ``f2 = 1 - sqrt(f1)`` (at ``x2 = ... = x6 = 0``).
* ``zdt2`` -- ZDT2, same space; concave front ``f2 = 1 - f1**2``.

The reference point is ``(1.1, 1.1)``, the usual one for ZDT1/ZDT2 (10 % beyond
the front's nadir ``(1, 1)``; Optuna's and pymoo's examples use it too), so a
point counts only once it is near the front (``g < 1.1``). The true fronts'
hypervolumes are exact integrals: ``1.21 - 1/3 = 0.876667`` (ZDT1: the box
minus the area ``1/3`` under its front) and ``1.21 - 2/3 = 0.543333`` (ZDT2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .space import Space

__all__ = [
    "Problem",
    "PROBLEMS",
    "MultiProblem",
    "MULTI_PROBLEMS",
    "branin",
    "hartmann6",
    "mixed",
    "zdt1",
    "zdt2",
    "get",
    "get_multi",
]


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


@dataclass(frozen=True)
class MultiProblem:
    """Several objectives to minimise over a space, with a hypervolume reference point and the true front's.

    ``fn(params)`` returns one value per objective (a tuple, all minimised);
    ``front_hypervolume`` is the hypervolume of the true Pareto front up to
    ``reference``, so ``hypervolume / front_hypervolume`` is 1.0 at best.
    """

    name: str
    space: Space
    fn: Callable[[Mapping[str, Any]], tuple[float, ...]]
    reference: tuple[float, ...]
    front_hypervolume: float
    front: Callable[[np.ndarray], np.ndarray]

    @property
    def n_objectives(self) -> int:
        """How many values ``fn`` returns."""
        return len(self.reference)

    def hypervolume(self, values: Any) -> float:
        """The hypervolume of the given ``(n, m)`` minimised values up to :attr:`reference`."""
        from .pareto import hypervolume

        return hypervolume(values, self.reference)

    def normalised_hypervolume(self, values: Any) -> float:
        """:meth:`hypervolume` divided by the true front's (1.0 = the whole front)."""
        return self.hypervolume(values) / self.front_hypervolume


_ZDT_N = 6


def _zdt_g(p: Mapping[str, Any]) -> float:
    return 1.0 + 9.0 * sum(p[f"x{i}"] for i in range(2, _ZDT_N + 1)) / (_ZDT_N - 1)


def zdt1(p: Mapping[str, Any]) -> tuple[float, float]:
    """ZDT1 on ``[0, 1]^6`` (``x1`` ... ``x6``): ``f1 = x1``, ``f2 = g (1 - sqrt(f1 / g))``."""
    f1 = float(p["x1"])
    g = _zdt_g(p)
    return f1, g * (1.0 - math.sqrt(f1 / g))


def zdt2(p: Mapping[str, Any]) -> tuple[float, float]:
    """ZDT2 on ``[0, 1]^6`` (``x1`` ... ``x6``): ``f1 = x1``, ``f2 = g (1 - (f1 / g)^2)``."""
    f1 = float(p["x1"])
    g = _zdt_g(p)
    return f1, g * (1.0 - (f1 / g) ** 2)


_ZDT_SPACE = Space.from_dict({f"x{i}": {"type": "float", "low": 0, "high": 1} for i in range(1, _ZDT_N + 1)})
_ZDT_REFERENCE = (1.1, 1.1)

MULTI_PROBLEMS: dict[str, MultiProblem] = {
    # Front hypervolume up to (1.1, 1.1): the 1.1 x 1.1 box minus the area under the front on [0, 1]
    # (the front ends at f1 = 1 with f2 = 0, and the strip 1 < f1 < 1.1 is wholly dominated).
    "zdt1": MultiProblem("zdt1", _ZDT_SPACE, zdt1, _ZDT_REFERENCE, 1.21 - 1.0 / 3.0, lambda f1: 1.0 - np.sqrt(f1)),
    "zdt2": MultiProblem("zdt2", _ZDT_SPACE, zdt2, _ZDT_REFERENCE, 1.21 - 2.0 / 3.0, lambda f1: 1.0 - f1**2),
}


def get_multi(name: str) -> MultiProblem:
    """The multi-objective problem called ``name`` (one of :data:`MULTI_PROBLEMS`)."""
    try:
        return MULTI_PROBLEMS[name]
    except KeyError:
        raise ValueError(f"unknown multi-objective problem {name!r}; choose one of {sorted(MULTI_PROBLEMS)}") from None


def get(name: str) -> Problem:
    """The problem called ``name`` (one of :data:`PROBLEMS`)."""
    try:
        return PROBLEMS[name]
    except KeyError:
        raise ValueError(f"unknown problem {name!r}; choose one of {sorted(PROBLEMS)}") from None

"""Search quality: model-based and evolutionary strategies beat random search at equal budget.

Budget 60 trials in batches of 4 (as with 4 parallel workers), 5 seeds, on
Branin (2-D continuous) and a small mixed float/int/log/categorical function.
The comparison is on the mean over seeds of the best value found.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpo import problems, strategies
from hpo.trial import Result

SEEDS = range(5)
BUDGET = 60
BATCH = 4

PROBLEMS = {name: problems.get(name) for name in ("branin", "mixed")}
# bayes gets a lighter acquisition search here to keep the suite fast.
SETTINGS = {"bayes": {"n_candidates": 300, "n_restarts": 0}}


def best_of_run(name: str, problem: str, seed: int) -> float:
    space, fn = PROBLEMS[problem].space, PROBLEMS[problem].fn
    s = strategies.get(name, space, seed=seed, **SETTINGS.get(name, {}))
    best, n = math.inf, 0
    while n < BUDGET:
        ps = s.ask(min(BATCH, BUDGET - n))
        assert ps, f"{name} stopped proposing after {n} trials"
        values = [fn(p) for p in ps]
        s.tell([Result(p, v) for p, v in zip(ps, values)])
        best, n = min(best, *values), n + len(ps)
    return best


_cache: dict[tuple[str, str], float] = {}


def mean_best(name: str, problem: str) -> float:
    key = (name, problem)
    if key not in _cache:
        _cache[key] = float(np.mean([best_of_run(name, problem, seed) for seed in SEEDS]))
    return _cache[key]


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name", ["ga", "tpe", "ga_tpe", "bayes"])
def test_beats_random(name: str, problem: str) -> None:
    mine, rand = mean_best(name, problem), mean_best("random", problem)
    assert mine < rand, f"{name} on {problem}: mean best {mine:.4f} vs random {rand:.4f}"


def test_ga_tpe_finds_branin_basin() -> None:
    # Regret below 0.1 on average: all three optima of Branin are near 0.3979.
    assert PROBLEMS["branin"].regret(mean_best("ga_tpe", "branin")) < 0.1


@pytest.mark.parametrize("name", sorted(problems.PROBLEMS))
def test_problem_minimum_is_attained(name: str) -> None:
    # The stated minimum is the function's value at a known optimum, and random points are above it.
    optimum = {
        "branin": {"x1": math.pi, "x2": 2.275},
        "hartmann6": dict(
            zip([f"x{i}" for i in range(1, 7)], [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])
        ),
        "mixed": {"x": 2.5, "n": 13, "act": "c", "lr": 10**-2.5},
    }[name]
    problem = problems.get(name)
    assert abs(problem.regret(problem.fn(optimum))) < 1e-4
    rng = np.random.default_rng(0)
    assert min(problem.regret(problem.fn(problem.space.sample(rng))) for _ in range(200)) > 0
    with pytest.raises(ValueError, match="unknown problem"):
        problems.get("rosenbrock")

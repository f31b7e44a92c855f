"""The ``nsga2`` and ``nsga2_tpe`` strategies with several objectives.

The one-objective strategy contract runs for both in test_strategies.py.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hpo import pareto, problems, strategies
from hpo.space import Space, params_hash
from hpo.trial import Result
from tests.hpo.test_strategies import MIXED, objective

ROOT = Path(__file__).resolve().parents[2]
MO = ["nsga2", "nsga2_tpe"]


def two_objectives(p: dict) -> tuple[float, float]:
    """A cheap trade-off on MIXED: the contract objective against the model's size."""
    return objective(p), math.log2(p["filters"]) + p["units"] / 64 + p["dense_layers"]


def mo_trace(seed: int, rounds: int = 6, batch: int = 3, name: str = "nsga2", **settings) -> list[dict]:
    """Proposals of a fixed ask/tell sequence with two objectives (in-process and in a subprocess)."""
    s = strategies.get(name, Space.from_dict(MIXED), seed=seed, **settings)
    out: list[dict] = []
    for _ in range(rounds):
        ps = s.ask(batch)
        out.extend(ps)
        s.tell([Result(p, values=two_objectives(p)) for p in ps])
    return out


def run_zdt(name: str, seed: int, budget: int, strategy: str = "nsga2") -> list[tuple[float, float]]:
    problem = problems.get_multi(name)
    s = strategies.get(strategy, problem.space, seed=seed)
    values = []
    for _ in range(budget):
        p = s.ask(1)[0]
        v = problem.fn(p)
        s.tell(Result(p, values=v) if s.multi_objective else Result(p, v[0]))
        values.append(v)
    return values


def test_registered_and_multi_objective() -> None:
    assert set(MO) <= set(strategies.available())
    assert [n for n in strategies.available() if strategies.is_multi_objective(n)] == MO


@pytest.mark.parametrize("name", [n for n in strategies.available() if not strategies.is_multi_objective(n)])
def test_single_objective_strategies_refuse_several_values(name: str) -> None:
    s = strategies.get(name, MIXED, seed=0)
    p = s.ask(1)[0]
    with pytest.raises(ValueError, match="optimises one objective.*2 values"):
        s.tell([Result(p, values=(1.0, 2.0))])
    s.tell([Result(p, values=(1.0,))])  # one value is one objective


@pytest.mark.parametrize("name", MO)
def test_proposals_are_valid_with_two_objectives(name: str) -> None:
    space = Space.from_dict(MIXED)
    asked = mo_trace(seed=0, rounds=12, batch=4, name=name)
    assert len(asked) == 48
    assert len({params_hash(p) for p in asked}) == 48
    for p in asked:
        assert space.canonical(p) == p
        assert ("dropout" in p) == (p["dense_layers"] > 1)


@pytest.mark.parametrize("name", MO)
def test_reproducible_and_seed_dependent(name: str) -> None:
    assert mo_trace(seed=3, name=name) == mo_trace(seed=3, name=name)
    assert mo_trace(seed=3, name=name) != mo_trace(seed=4, name=name)
    assert mo_trace(seed=3, name=name, mode="generational", population_size=4) == mo_trace(
        seed=3, name=name, mode="generational", population_size=4
    )


def test_same_proposals_in_a_fresh_process() -> None:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from tests.hpo import test_nsga2 as t; "
        "print(json.dumps({n: t.mo_trace(seed=7, name=n) for n in t.MO}))"
    )
    env = dict(os.environ, PYTHONHASHSEED="4321", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    mine = {n: [json.loads(json.dumps(p)) for p in mo_trace(seed=7, name=n)] for n in MO}
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == mine


@pytest.mark.parametrize("name", MO)
def test_failed_and_pruned_results(name: str) -> None:
    s = strategies.get(name, MIXED, seed=2, n_startup=6, population_size=6)
    for i in range(6):
        ps = s.ask(3)
        results = []
        for j, p in enumerate(ps):
            kind = (i + j) % 4
            if kind == 0:
                results.append(Result(p, None, "failed"))
            elif kind == 1:
                results.append(Result(p, values=(math.nan, 1.0)))
            elif kind == 2:
                results.append(Result(p, values=two_objectives(p), status="pruned"))
            else:
                results.append(Result(p, values=two_objectives(p)))
        s.tell(results)
    assert s.n_objectives == 2
    front = s.pareto_front()
    assert front and all(r.ok for r in front)
    # failures never survive while successes fill the population
    ok = [r for r in s.results if r.ok]
    assert len(ok) >= s.population_size
    survivors = {h for _, h, *_ in s._survivors()}
    assert survivors <= {params_hash(r.params) for r in ok}
    assert len(s.ask(4)) == 4


@pytest.mark.parametrize("name", MO)
def test_all_failed_then_successes(name: str) -> None:
    s = strategies.get(name, MIXED, seed=5)
    for _ in range(4):
        s.tell([Result(p, None, "failed") for p in s.ask(4)])
    assert s.n_objectives is None  # nothing told the count yet
    assert len(s.ask(4)) == 4
    ps = s.ask(3)
    s.tell([Result(p, values=two_objectives(p)) for p in ps])
    assert s.n_objectives == 2 and len(s.pareto_front()) >= 1


@pytest.mark.parametrize("name", MO)
def test_async_tell_in_any_order_and_foreign_results(name: str) -> None:
    space = Space.from_dict(MIXED)
    rng = np.random.default_rng(1)
    foreign = [space.sample(rng) for _ in range(8)]
    s = strategies.get(name, space, seed=1)
    s.tell([Result(p, values=two_objectives(p)) for p in foreign[:5]])  # warm start, never asked
    running = s.ask(10)
    assert len(running) == 10
    order = [7, 2, 9, 0]
    s.tell([Result(running[i], values=two_objectives(running[i])) for i in order])
    more = s.ask(1) + s.ask(5)  # answers while six are still running
    assert len(more) == 6
    s.tell([Result(p, values=two_objectives(p)) for p in foreign[5:]])
    rest = [running[i] for i in range(10) if i not in order] + more
    random.Random(0).shuffle(rest)
    for p in rest:
        s.tell(Result(p, values=two_objectives(p)))
    asked = running + more + s.ask(4)
    assert len({params_hash(p) for p in asked + foreign}) == len(asked) + len(foreign)
    assert len(s.pending) == 4


def test_survivors_do_not_depend_on_the_order_results_are_told() -> None:
    def proposals(order: list[int]) -> list[dict]:
        s = strategies.get("nsga2", MIXED, seed=8, n_startup=12)
        ps = s.ask(12)
        s.tell([Result(ps[i], values=two_objectives(ps[i])) for i in order])
        return s.ask(6)

    forward = list(range(12))
    assert proposals(forward) == proposals(forward[::-1])


@pytest.mark.parametrize("name", MO)
def test_mismatched_number_of_values_is_refused_before_anything_is_recorded(name: str) -> None:
    s = strategies.get(name, MIXED, seed=0)
    ps = s.ask(3)
    s.tell([Result(ps[0], values=(1.0, 2.0))])
    with pytest.raises(ValueError, match="a result has 3 objective value.*this search has 2"):
        s.tell([Result(ps[1], values=(1.0, 2.0)), Result(ps[2], values=(1.0, 2.0, 3.0))])
    assert len(s.results) == 1 and s.pending == ps[1:]
    with pytest.raises(ValueError, match="has 1 objective value"):
        s.tell([Result(ps[1], 1.0)])  # a plain value is one objective
    fixed = strategies.get(name, MIXED, seed=0, n_objectives=3)
    p = fixed.ask(1)[0]
    with pytest.raises(ValueError, match="has 2 objective value.*has 3"):
        fixed.tell(Result(p, values=(1.0, 2.0)))


@pytest.mark.parametrize("name", MO)
def test_one_objective_with_value_or_values(name: str) -> None:
    def proposals(as_values: bool) -> list[dict]:
        s = strategies.get(name, MIXED, seed=4)
        out = []
        for _ in range(6):
            ps = s.ask(3)
            out += ps
            s.tell([Result(p, values=(objective(p),)) if as_values else Result(p, objective(p)) for p in ps])
        assert s.n_objectives == 1
        return out

    assert proposals(True) == proposals(False)


@pytest.mark.parametrize("name", MO)
@pytest.mark.parametrize(
    "setting",
    [{"n_objectives": 0}, {"n_objectives": 1.5}, {"n_objectives": True}, {"population_size": 1}, {"mode": "x"}],
)
def test_rejects_bad_settings(name: str, setting: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(setting))):
        strategies.get(name, MIXED, **setting)


@pytest.mark.parametrize("setting", [{"n_screen": 0}, {"n_screen": 2.5}, {"gamma": 0}, {"prior_weight": -1}])
def test_nsga2_tpe_rejects_bad_screen_settings(setting: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(setting))):
        strategies.get("nsga2_tpe", MIXED, **setting)


def test_nsga2_tpe_good_set_is_the_first_fronts() -> None:
    s = strategies.get("nsga2_tpe", MIXED, seed=0)
    ps = s.ask(30)
    values = [two_objectives(p) for p in ps]
    s.tell([Result(p, values=v) for p, v in zip(ps[:-1], values)] + [Result(ps[-1], None, "failed")])
    s._fit_scorer()
    good, bad = s.scorer._groups
    n_good = len(good.genomes)
    assert n_good == 6  # ceil(sqrt(30))
    ranks = pareto.non_dominated_sort(values[:-1])
    good_rows = {tuple(g) for g in good.genomes}
    chosen = [i for i in range(29) if tuple(np.clip(s._genomes[params_hash(ps[i])], 0, 1)) in good_rows]
    assert len(chosen) == n_good
    # every point of a better front than the worst chosen one is chosen
    worst = max(ranks[i] for i in chosen)
    assert all(i in chosen for i in range(29) if ranks[i] < worst)


@pytest.mark.parametrize("name", MO)
def test_settings_are_listed_for_configs(name: str) -> None:
    settings = strategies.settings_of(strategies.strategy_class(name))
    assert settings["population_size"] == 12 and settings["n_objectives"] is None
    assert {"mode", "crossover_prob", "mutation_prob", "eta_crossover", "eta_mutation"} <= set(settings)
    if name == "nsga2_tpe":
        assert settings["n_screen"] == 4


@pytest.mark.parametrize("name", MO)
def test_leaves_global_random_state_alone(name: str) -> None:
    random.seed(5)
    state = random.getstate()
    mo_trace(seed=0, name=name)
    assert random.getstate() == state


@pytest.mark.parametrize("name", MO)
def test_zdt1_hypervolume_beats_random_search(name: str) -> None:
    problem = problems.get_multi("zdt1")
    ours = problem.normalised_hypervolume(run_zdt("zdt1", seed=0, budget=100, strategy=name))
    rand = problem.normalised_hypervolume(run_zdt("zdt1", seed=0, budget=100, strategy="random"))
    assert ours > 0.05 and ours > rand


def test_zdt_problems() -> None:
    for name in ("zdt1", "zdt2"):
        problem = problems.get_multi(name)
        assert problem.n_objectives == 2 and problem.reference == (1.1, 1.1)
        on_front = {"x1": 0.25, **{f"x{i}": 0.0 for i in range(2, 7)}}
        f1, f2 = problem.fn(on_front)
        assert f1 == 0.25 and f2 == pytest.approx(float(problem.front(np.array(0.25))))
        f1 = np.linspace(0, 1, 4001)
        dense = np.c_[f1, problem.front(f1)]
        assert problem.normalised_hypervolume(dense) == pytest.approx(1.0, abs=1e-3)
    assert pareto.hypervolume([[0, 0]], problems.get_multi("zdt1").reference) == pytest.approx(1.21)
    with pytest.raises(ValueError, match="unknown multi-objective problem"):
        problems.get_multi("zdt9")

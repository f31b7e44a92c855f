"""hpo.pareto: non-dominated sorting, fronts, crowding, hypervolume and metric rows, against hand and brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hpo import pareto
from hpo.pareto import _hv_slicing


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def brute_ranks(points: np.ndarray) -> np.ndarray:
    """Peel the fronts one by one with the definition of dominance."""
    ranks = np.full(len(points), -1)
    left = set(range(len(points)))
    rank = 0
    while left:
        front = {i for i in left if not any(dominates(points[j], points[i]) for j in left if j != i)}
        for i in front:
            ranks[i] = rank
        left -= front
        rank += 1
    return ranks


def brute_hypervolume(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume by inclusion-exclusion over every subset (small sets only)."""
    points = [p for p in points if np.all(p < ref)]
    total = 0.0
    for k in range(1, len(points) + 1):
        for subset in itertools.combinations(points, k):
            corner = np.max(subset, axis=0)
            total += (-1) ** (k + 1) * float(np.prod(ref - corner))
    return total


# --------------------------------------------------------------------------- sorting
def test_sort_by_hand() -> None:
    pts = [[1, 4], [2, 2], [4, 1], [3, 3], [2, 2], [5, 5], [4, 4]]
    assert pareto.non_dominated_sort(pts).tolist() == [0, 0, 0, 1, 0, 3, 2]
    assert pareto.pareto_front(pts).tolist() == [0, 1, 2, 4]  # equal points share the front


def test_one_objective_is_a_ranking_by_value() -> None:
    assert pareto.non_dominated_sort([3.0, 1.0, 2.0, 1.0]).tolist() == [2, 0, 1, 0]


def test_non_finite_rows_are_excluded() -> None:
    pts = [[1, 1], [math.nan, 0], [0, math.inf], [2, 2], [-math.inf, 5]]
    assert pareto.non_dominated_sort(pts).tolist() == [0, -1, -1, 1, -1]
    assert pareto.pareto_front(pts).tolist() == [0]
    assert pareto.hypervolume(pts, [3, 3]) == pytest.approx(4.0)
    cd = pareto.crowding_distance(pts)
    assert np.isnan(cd[[1, 2, 4]]).all() and np.isinf(cd[[0, 3]]).all()


def test_empty_input() -> None:
    assert pareto.non_dominated_sort([]).tolist() == []
    assert pareto.pareto_front(np.zeros((0, 2))).tolist() == []
    assert pareto.crowding_distance(np.zeros((0, 3))).tolist() == []
    assert pareto.hypervolume([], [1, 1]) == 0.0
    assert pareto.hypervolume(np.zeros((0, 2)), [1, 1]) == 0.0
    assert pareto.hypervolume([[2, 2]], [1, 1]) == 0.0  # nothing inside the reference box


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_sort_matches_brute_force_on_random_points(m: int) -> None:
    rng = np.random.default_rng(m)
    for _ in range(5):
        pts = rng.integers(0, 6, size=(40, m)).astype(float)  # many ties and duplicates
        assert pareto.non_dominated_sort(pts).tolist() == brute_ranks(pts).tolist()


# --------------------------------------------------------------------------- crowding
def test_crowding_by_hand_and_as_deap() -> None:
    from deap import base
    from deap.tools import emo

    pts = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [2.5, 1.5]])
    # middle points: (next - prev) / (m * range) summed over both objectives
    expected = [math.inf, (2.5 - 1) / 4 + (3 - 1.5) / 4, math.inf, (3 - 2) / 4 + (2 - 1) / 4]
    assert pareto.crowding_distance(pts).tolist() == pytest.approx(expected)

    class Fit(base.Fitness):
        weights = (-1.0, -1.0)

    class Ind:
        def __init__(self, values):
            self.fitness = Fit(values)

    rng = np.random.default_rng(0)
    pts = rng.random((25, 2))
    inds = [Ind(tuple(p)) for p in pts]
    emo.assignCrowdingDist(inds)
    assert pareto.crowding_distance(pts).tolist() == pytest.approx([i.fitness.crowding_dist for i in inds])


def test_crowding_of_two_points_and_of_a_flat_objective() -> None:
    assert np.isinf(pareto.crowding_distance([[0, 1], [1, 0]])).all()
    cd = pareto.crowding_distance([[0, 1], [1, 1], [2, 1]])
    assert cd[1] == pytest.approx(0.5)  # only the first objective spreads: (2 - 0) / (2 * 2)


# --------------------------------------------------------------------------- hypervolume
def test_hypervolume_by_hand() -> None:
    # two boxes of 2 x 1 and 1 x 2 overlapping in 1 x 1: 3
    assert pareto.hypervolume([[1, 2], [2, 1]], [3, 3]) == pytest.approx(3.0)
    assert pareto.hypervolume([[1, 2], [2, 1], [2.5, 2.5]], [3, 3]) == pytest.approx(3.0)  # dominated adds nothing
    assert pareto.hypervolume([[0, 0, 0]], [1, 2, 3]) == pytest.approx(6.0)
    assert pareto.hypervolume([[1], [0.5]], [2]) == pytest.approx(1.5)
    # a point on the reference box's border adds nothing
    assert pareto.hypervolume([[1, 3]], [3, 3]) == 0.0


@pytest.mark.parametrize("m", [2, 3, 4])
def test_hypervolume_matches_inclusion_exclusion(m: int) -> None:
    rng = np.random.default_rng(10 + m)
    ref = np.full(m, 1.2)
    for n in (1, 3, 7, 10):
        pts = rng.random((n, m))
        expected = brute_hypervolume(pts, ref)
        assert pareto.hypervolume(pts, ref) == pytest.approx(expected, rel=1e-12, abs=1e-12)
        front = pts[pareto.pareto_front(pts)]
        assert _hv_slicing(front, ref) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_hypervolume_of_a_dense_front_approaches_the_integral() -> None:
    f1 = np.linspace(0, 1, 2001)
    front = np.c_[f1, 1 - np.sqrt(f1)]
    assert pareto.hypervolume(front, [1.1, 1.1]) == pytest.approx(1.21 - 1 / 3, abs=1e-3)


# --------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors() -> None:
    with pytest.raises(ValueError, match="2 objectives but the reference point has 3"):
        pareto.hypervolume([[1, 2]], [3, 3, 3])
    with pytest.raises(ValueError, match="reference point must be finite"):
        pareto.hypervolume([[1, 2]], [3, math.inf])
    with pytest.raises(ValueError, match="reference point must be finite"):
        pareto.hypervolume([[1, 2]], [])
    with pytest.raises(ValueError, match=r"\(n, m\) array"):
        pareto.non_dominated_sort([[1, 2], [3]])  # ragged
    with pytest.raises(ValueError, match=r"\(n, m\) array"):
        pareto.pareto_front(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"\(n, m\) array"):
        pareto.crowding_distance([["a", "b"]])
    with pytest.raises(ValueError, match="at least one objective"):
        pareto.non_dominated_sort(np.zeros((3, 0)))


# --------------------------------------------------------------------------- metric rows
def test_to_minimised_negates_maximised_metrics() -> None:
    rows = [
        {"val_accuracy": 0.9, "n_params": 1000},
        {"val_accuracy": 0.8, "n_params": 10},
        {"val_accuracy": None, "n_params": 5},
        {"n_params": "many"},
        None,
        {"val_accuracy": True, "n_params": 3},
    ]
    objectives = [{"metric": "val_accuracy", "direction": "maximize"}, {"metric": "n_params", "direction": "minimize"}]
    out = pareto.to_minimised(rows, objectives)
    assert out.shape == (6, 2)
    assert out[:2].tolist() == [[-0.9, 1000.0], [-0.8, 10.0]]
    assert np.isnan(out[2, 0]) and out[2, 1] == 5.0
    assert np.isnan(out[3:5]).all() and np.isnan(out[5, 0])
    assert pareto.pareto_front(out).tolist() == [0, 1]
    same = pareto.to_minimised(rows, [("val_accuracy", "maximize"), ("n_params", "minimize")])
    np.testing.assert_array_equal(out, same)
    np.testing.assert_array_equal(out, pareto.to_minimised(rows, {"val_accuracy": "maximize", "n_params": "minimize"}))
    assert pareto.to_minimised(rows[:2], "n_params").tolist() == [[1000.0], [10.0]]
    assert pareto.to_minimised([], objectives).shape == (0, 2)


@pytest.mark.parametrize(
    "objectives, message",
    [
        ([], "non-empty list"),
        ([{"metric": "a", "direction": "up"}], "direction must be 'minimize' or 'maximize'"),
        ([{"metric": "a"}, {"metric": "a"}], "listed twice"),
        ([{"direction": "minimize"}], "metric, direction"),
        ([{"metric": "a", "goal": "min"}], "metric, direction"),
        ([("a", "minimize", 3)], "metric, direction"),
        ([{"metric": "", "direction": "minimize"}], "non-empty string"),
    ],
)
def test_parse_objectives_rejects_bad_lists(objectives, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pareto.parse_objectives(objectives)


def test_parse_objectives_defaults_to_minimize() -> None:
    assert pareto.parse_objectives([{"metric": "loss"}]) == [("loss", "minimize")]
    assert pareto.parse_objectives({"metric": "acc", "direction": "maximize"}) == [("acc", "maximize")]


def test_the_two_objective_sweep_matches_the_dominance_matrix() -> None:
    from hpo.pareto import _ranks2, _ranks_matrix

    rng = np.random.default_rng(5)
    for n in (1, 2, 17, 400):
        for pts in (rng.random((n, 2)), rng.integers(0, 4, size=(n, 2)).astype(float)):
            assert _ranks2(pts).tolist() == _ranks_matrix(pts).tolist()

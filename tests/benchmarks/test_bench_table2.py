"""bench_table2's statistics, search accounting, table and plot, on made-up cells (no training)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from tests import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_table2 as b  # noqa: E402


def _cell(m: int, seed: int, correct: tuple[int, int, int], val: float, n: int = 100) -> dict:
    return {"m": m, "seed": seed, "correct": list(correct), "totals": [n] * 3, "val_accuracy": val}


def test_the_report_numbers_are_table_2():
    assert sorted(b.REPORT_TABLE2) == list(range(2, 10))
    n_sbr = [v[1] for v in b.REPORT_TABLE2.values()]
    assert (min(n_sbr), max(n_sbr)) == (542, 833)  # the "n-SBR from 542 to 833 of 880"
    assert all(v[2] == b.REPORT_N == 880 for v in b.REPORT_TABLE2.values())
    effect = b.report_effect()
    assert (
        effect["range"] == pytest.approx(effect["max"] - effect["min"]) and 0.87 < effect["min"] < effect["max"] < 0.99
    )


def test_n_effect_separates_n_from_seed_noise():
    # n matters: accuracies 0.4, 0.6, 0.9 with a spread of +-1 point between seeds
    cells = [_cell(m, s, (c + s, c, c), 0.5) for m, c in ((2, 40), (5, 60), (9, 90)) for s in range(3)]
    effect = b.n_effect(cells)
    assert effect["ms"] == [2, 5, 9]
    assert effect["eta_squared"] > 0.99 and effect["anova_p"] < 1e-4 and effect["kruskal_p"] < 0.05
    assert effect["between_n_range"] == pytest.approx(0.5, abs=0.01)
    assert effect["within_n_range"] == pytest.approx(2 / 300)
    # only seed noise: the same accuracies under every n
    noise = [_cell(m, s, (30 + 20 * s, 50, 50), 0.5) for m in (2, 5) for s in range(3)]
    effect = b.n_effect(noise)
    assert effect["eta_squared"] == pytest.approx(0.0) and effect["anova_p"] == pytest.approx(1.0)


def test_n_effect_with_one_seed_or_identical_values_gives_no_p_value():
    one_seed = b.n_effect([_cell(2, 0, (50, 50, 50), 0.5), _cell(5, 0, (60, 50, 50), 0.5)])
    assert one_seed["anova_p"] is None and one_seed["within_n_sd"] is None
    same = b.n_effect([_cell(m, s, (50, 50, 50), 0.5) for m in (2, 5) for s in range(2)])
    assert same["anova_p"] is None and same["kruskal_p"] is None and same["eta_squared"] == 0.0


def test_the_target_is_the_best_median_over_seeds():
    cells = [_cell(2, 0, (0, 0, 0), 0.9), _cell(2, 1, (0, 0, 0), 0.3), _cell(2, 2, (0, 0, 0), 0.4)]
    cells += [_cell(5, s, (0, 0, 0), 0.6) for s in range(3)]
    assert b.grid_target(cells) == (5, 0.6)  # n=2 has the best single seed, n=5 the best median


def test_trainings_to_target_skip_repeats_and_failures():
    trials = [
        {"value": 0.5, "duplicate": False},
        {"value": None, "duplicate": False},  # a failed training still cost a training
        {"value": 0.5, "duplicate": True},  # a repeated params set trains nothing
        {"value": 0.7, "duplicate": False},
    ]
    assert b.trainings_to_target(trials, 0.7) == 3
    assert b.trainings_to_target(trials, 0.5) == 1
    assert b.trainings_to_target(trials, 0.8) is None
    assert b.median_trainings([3, None, None]) == math.inf
    assert b.median_trainings([3, 5, None]) == 5


def test_results_print_and_plot(tmp_path, capsys):
    cells = [_cell(m, s, (80 + m, 70, 100), 0.7 + 0.01 * m) for m in (2, 5) for s in range(2)]
    run = {"trials": [{"value": 0.6, "duplicate": False}, {"value": 0.8, "duplicate": False}], "best_params": {"m": 5}}
    saved = {
        "mode": "test",
        "size": {"n_test": 100},
        "grid": cells,
        "effect": b.n_effect(cells),
        "search": {
            "best_m": 5,
            "target": 0.75,
            "trials": 2,
            "runs": [
                {**run, "strategy": "ga_tpe", "seed": 0, "trainings_to_target": 2},
                {**run, "strategy": "random", "seed": 0, "trainings_to_target": None},
            ],
        },
    }
    b.print_results(saved)
    out = capsys.readouterr().out
    assert "| C4F2 | 164/200 | 140/200 | 200/200 |" in out and "753 / 767 / 880" in out
    assert "| GA+TPE | 2 | 2 |" in out and "| random | - | > 2 |" in out
    b.plot(saved, tmp_path / "t2.png")
    assert (tmp_path / "t2.png").stat().st_size > 1000
    assert np.isclose(b.accuracy(cells[0]), (82 + 70 + 100) / 300)

"""What every benchmark shares: the machine description, results files, plots, and the peers' search spaces.

The peers (Optuna, hyperopt, Keras Tuner) are driven on the *same* search space
as ours: one :class:`hpo.space.Space` is translated here into each peer's own
way of sampling, so every tool searches the same points with the same priors
(log scales, integer steps, categories, conditions).

The peers are in the ``bench`` extra (``pip install -e '.[bench]'``); they are
imported only by the functions that need them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from hpo.space import Choice, Fixed, Float, Int, Space

RESULTS = Path(__file__).resolve().parent / "results"

_PACKAGES = ("numpy", "tensorflow", "keras", "hyperopt", "deap", "scikit-learn", "optuna", "keras-tuner")


def machine() -> dict[str, Any]:
    """The machine and the versions a result was measured with (for the results file and BENCHMARKS.md)."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {
        "date": datetime.date.today().isoformat(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "versions": versions,
    }


def describe_machine(info: Mapping[str, Any] | None = None) -> str:
    """One line: date, CPU count, platform, Python and the main versions."""
    info = info or machine()
    v = info["versions"]
    main = ", ".join(f"{k} {v[k]}" for k in ("tensorflow", "keras", "optuna", "hyperopt", "keras-tuner") if k in v)
    return f"{info['date']}, {info['machine']} with {info['cpus']} CPUs ({info['platform']}), Python {info['python']}; {main}"


def save_results(name: str, data: Mapping[str, Any], *, results_dir: str | Path = RESULTS) -> Path:
    """Writes ``{results_dir}/{name}.json`` with the machine description added; returns the path."""
    path = Path(results_dir) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), **data}, indent=1))
    return path


def bench_parser(
    doc: str | None,
    *,
    quick: str,
    trials: str | None = None,
    choices: tuple[str, ...] = (),
    default: tuple[str, ...] | None = None,
    choice_flag: str = "--tools",
    replot: bool = True,
    hidden: tuple[str, ...] = (),
) -> argparse.ArgumentParser:
    """The command line every peer benchmark shares; each adds its own options to it.

    ``--quick`` (its meaning in ``quick``), ``--trials`` when ``trials`` is given,
    ``choice_flag`` (``--tools`` by default) over ``choices`` with ``default`` selected,
    ``--replot JSON`` and the ``hidden`` options (``--worker`` and the like) that a
    benchmark passes to the fresh interpreters it starts itself (:func:`run_worker`).
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick)
    if trials:
        parser.add_argument("--trials", type=int, help=trials)
    if choices:
        parser.add_argument(choice_flag, nargs="+", default=list(default or choices), choices=list(choices))
    if replot:
        parser.add_argument("--replot", metavar="JSON", help="only redraw the plot and table from a results file")
    for name in hidden:
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    return parser


def load_results(path: str | Path) -> dict[str, Any]:
    """A results file written by :func:`save_results` (for ``--replot``)."""
    return json.loads(Path(path).read_text())


def run_worker(script: str, out: str | Path, *args: str) -> Any:
    """Runs ``script --out OUT ARGS...`` in a fresh interpreter and returns the JSON it wrote to OUT.

    Each measured tool runs in its own process, so that no tool's memory, threads or
    imports count for another.
    """
    subprocess.run([sys.executable, script, *args, "--out", str(out)], check=True)
    return json.loads(Path(out).read_text())


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --------------------------------------------------------------------------- #
# one space, every peer
# --------------------------------------------------------------------------- #
def optuna_params(trial: Any, space: Space) -> dict[str, Any]:
    """Samples ``space`` with an Optuna trial, define-by-run: an inactive parameter is never suggested."""
    params: dict[str, Any] = {}
    for name in space:
        p = space[name]
        if not space.is_active(name, params):
            continue
        if isinstance(p, Float):
            params[name] = trial.suggest_float(name, p.low, p.high, log=p.log)
        elif isinstance(p, Int):
            params[name] = trial.suggest_int(name, p.low, p.high, step=p.step, log=p.log)
        elif isinstance(p, Choice):
            params[name] = trial.suggest_categorical(name, list(p.options))
        elif isinstance(p, Fixed):
            params[name] = p.value
    return space.canonical(params)


def keras_tuner_params(hp: Any, space: Space) -> dict[str, Any]:
    """Samples ``space`` with Keras Tuner's ``HyperParameters``; conditions through ``conditional_scope``."""
    params: dict[str, Any] = {}
    for name in space:
        p = space[name]
        if isinstance(p, Fixed):
            value = hp.Fixed(name, p.value)
        elif p.conditions:
            parent, op, operand = p.conditions[0]
            if len(p.conditions) > 1 or op not in ("eq", "in"):
                # Keras Tuner only knows "parent in values": enumerate the parent's values that pass.
                passing = [v for v in space[parent].grid_values(2, None) if space.is_active(name, {parent: v})]
            else:
                passing = list(operand) if op == "in" else [operand]
            with hp.conditional_scope(parent, passing):
                value = _kt_define(hp, name, p)
        else:
            value = _kt_define(hp, name, p)
        if isinstance(p, Int) and value is not None:
            # Keras Tuner's Bayesian oracle rounds a log-scale integer past its bounds (33 in [4, 32]).
            value = min(max(int(value), p.low), p.high)
        params[name] = value
    return space.canonical(space.prune({k: v for k, v in params.items() if v is not None}))


def _kt_define(hp: Any, name: str, p: Any) -> Any:
    if isinstance(p, Float):
        return hp.Float(name, p.low, p.high, sampling="log" if p.log else "linear")
    if isinstance(p, Int):
        # Keras Tuner's log-scale step is a *multiplier* (it must be > 1); a log Int of ours
        # always has step 1, i.e. any integer, which Keras Tuner spells step=None.
        if p.log:
            return hp.Int(name, p.low, p.high, step=None, sampling="log")
        return hp.Int(name, p.low, p.high, step=p.step)
    return hp.Choice(name, list(p.options))


def hyperopt_fmin(space: Space, fn, max_evals: int, seed: int) -> list[tuple[dict[str, Any], float]]:
    """Plain ``hyperopt.fmin`` with TPE (hyperopt's own defaults) on ``space``; the (params, value) history."""
    import numpy as np
    from hyperopt import STATUS_OK, Trials, fmin, tpe

    from hpo.strategies._hyperopt_space import to_hyperopt

    history: list[tuple[dict[str, Any], float]] = []

    def objective(sample: Mapping[str, Any]) -> dict[str, Any]:
        params = space.canonical(space.prune(sample))
        value = float(fn(params))
        history.append((params, value))
        return {"loss": value, "status": STATUS_OK}

    fmin(
        objective,
        to_hyperopt(space),
        algo=tpe.suggest,
        max_evals=max_evals,
        trials=Trials(),
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )
    return history

"""The data of the report's plots, computed once for every way of drawing them.

The matplotlib report (:mod:`hpo.report._plots`) and the live dashboard
(:mod:`hpo.dashboard`, drawn in the browser) draw the same figures from these
functions. Each takes a :class:`~hpo.report._search.SearchView` and returns a dict of
plain JSON values (numbers, trial ids and numbers, strings from the store), or a
string saying why there is nothing to draw.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..space import Choice, Fixed, Float, Int, Param
from ..trial import DONE, FAILED, PRUNED
from ._search import SearchView, better, finite, union_length

__all__ = [
    "best_steps",
    "curves",
    "generation_size",
    "generations",
    "log_scale_ok",
    "option_key",
    "param_panels",
    "params",
    "pareto",
    "time_unit",
    "trials",
    "wall_time",
    "worker_slot",
    "workers",
]


def log_scale_ok(values: Sequence[float | None], ratio: float = 100.0) -> bool:
    """Values positive and spread over more than ``ratio`` -- worth a log axis."""
    vals = [v for v in values if v is not None]
    return len(vals) >= 2 and min(vals) > 0 and max(vals) / min(vals) >= ratio


def value_log(s: SearchView, values: Sequence[float | None]) -> bool:
    """Whether the objective axis is logarithmic: a minimised value spanning orders of magnitude (a loss)."""
    return s.direction == "minimize" and log_scale_ok(values)


def time_unit(span_s: float) -> tuple[float, str]:
    """The scale (seconds per unit) and name of the unit to show a duration of ``span_s`` seconds in."""
    if span_s < 120:
        return 1.0, "s"
    if span_s < 3 * 3600:
        return 60.0, "min"
    return 3600.0, "h"


def best_steps(points: Sequence[tuple[float, float]], direction: str) -> tuple[list[float], list[float]]:
    """Best-so-far values at each of ``points`` (x, value), in the given order."""
    xs, ys, best = [], [], None
    for x, v in points:
        if best is None or better(v, best, direction):
            best = v
        xs.append(x)
        ys.append(best)
    return xs, ys


def _best_point(s: SearchView) -> dict[str, Any]:
    best = s.ranked()[0]
    return {"id": best.id, "number": best.number, "value": float(best.value)}  # type: ignore[arg-type]


def trials(s: SearchView) -> dict[str, Any] | str:
    """Each finished trial's value and the best so far against the trial number.

    Keys: ``points`` (``{id, number, value, cache_hit}`` of each scored trial), ``best_x``/``best_y``
    (the best-so-far steps, carried to the last trial number), ``best`` (the best trial's
    ``id``, ``number`` and ``value``), ``failed`` (failed trials' numbers), ``log`` (log value axis).
    """
    scored = s.scored
    if not scored:
        return "no finished trial with a value"
    xs, ys = best_steps([(t.number, float(t.value)) for t in scored], s.direction)  # type: ignore[arg-type]
    last = max(t.number for t in s.trials)
    if last > xs[-1]:
        xs, ys = [*xs, last], [*ys, ys[-1]]
    return {
        "points": [{"id": t.id, "number": t.number, "value": float(t.value), "cache_hit": t.cache_hit} for t in scored],  # type: ignore[arg-type]
        "best_x": xs,
        "best_y": ys,
        "best": _best_point(s),
        "failed": [t.number for t in s.failed],
        "log": value_log(s, [float(t.value) for t in scored]),  # type: ignore[arg-type]
    }


def wall_time(s: SearchView) -> dict[str, Any] | str:
    """The best so far against wall time since the first trial started.

    Keys: ``unit`` (``s``/``min``/``h``), ``x``/``values``/``ids`` (each scored trial's end and value,
    in the order they ended), ``best_x``/``best_y`` (best-so-far steps), ``failed_x``, ``log``.
    """
    span = s.span()
    if span is None:
        return "no trial has a start time"
    t0 = span[0]
    points = sorted(((float(t.ended), t) for t in s.scored if t.ended is not None), key=lambda p: (p[0], p[1].number))
    if not points:
        return "no finished trial with a value and an end time"
    scale, unit = time_unit(max(span[1] - t0, points[-1][0] - t0))
    xs = [(e - t0) / scale for e, _ in points]
    values = [float(t.value) for _, t in points]  # type: ignore[arg-type]
    bx, by = best_steps(list(zip(xs, values)), s.direction)
    return {
        "unit": unit,
        "x": xs,
        "values": values,
        "ids": [t.id for _, t in points],
        "best_x": bx,
        "best_y": by,
        "failed_x": [(float(t.ended) - t0) / scale for t in s.failed if t.ended is not None],
        "log": value_log(s, values),
    }


def option_key(v: Any) -> str:
    """A parameter value as a key that tells options apart (JSON, else its repr)."""
    try:
        return json.dumps(v, sort_keys=True)
    except (TypeError, ValueError):
        return repr(v)


def param_panels(s: SearchView) -> list[dict[str, Any]]:
    """Which parameters to draw and how: name, kind (numeric/categorical), log, options."""
    space = s.space()
    names: list[str] = list(space) if space is not None else []
    seen = {n for t in s.trials for n in t.params}
    names += sorted(seen - set(names))
    panels = []
    for name in names:
        values = [t.params[name] for t in s.trials if name in t.params and t.status in (DONE, FAILED)]
        if not values:
            continue
        param: Param | None = space[name] if space is not None and name in space else None
        if isinstance(param, Fixed) or len({option_key(v) for v in values}) < 2:
            continue  # a constant explains nothing
        if isinstance(param, (Int, Float)):
            panels.append({"name": name, "kind": "numeric", "log": bool(param.log), "int": isinstance(param, Int)})
        elif isinstance(param, Choice):
            panels.append({"name": name, "kind": "categorical", "options": list(param.options)})
        elif all(finite(v) is not None for v in values):
            nums = [float(v) for v in values]
            panels.append(
                {
                    "name": name,
                    "kind": "numeric",
                    "log": log_scale_ok(nums) and len(set(nums)) >= 3,
                    "int": all(isinstance(v, int) for v in values),
                }
            )
        else:
            options, keys = [], set()
            for v in sorted(values, key=lambda v: (str(type(v)), str(v))):
                if option_key(v) not in keys:
                    keys.add(option_key(v))
                    options.append(v)
            panels.append({"name": name, "kind": "categorical", "options": options})
    return panels


def params(s: SearchView) -> dict[str, Any] | str:
    """The objective against each parameter: :func:`param_panels` with the points of each panel.

    Each panel gains ``x``/``y``/``ids`` (scored trials: the value, or for a categorical panel the
    option's index), ``failed_x`` and ``best_x`` (None when the best trial lacks the parameter);
    a categorical panel's ``options`` gain any value outside the declared ones, and ``groups``
    holds the values per option. Top-level keys: ``panels``, ``best``, ``failed`` (count), ``log``.
    """
    scored = s.scored
    if not scored:
        return "no finished trial with a value"
    panels = param_panels(s)
    if not panels:
        return "no parameter takes more than one value"
    best = s.ranked()[0]
    for panel in panels:
        name = panel["name"]
        ok = [t for t in scored if name in t.params]
        bad = [t for t in s.failed if name in t.params]
        if panel["kind"] == "numeric":
            ok = [t for t in ok if finite(t.params[name]) is not None]
            bad = [t for t in bad if finite(t.params[name]) is not None]
            position: Callable[[Any], float | None] = finite
        else:
            options = list(panel["options"])
            index = {option_key(o): j for j, o in enumerate(options)}
            for t in ok + bad:  # values outside the declared options get their own slot
                if option_key(t.params[name]) not in index:
                    index[option_key(t.params[name])] = len(options)
                    options.append(t.params[name])
            panel["options"] = options
            groups: list[list[float]] = [[] for _ in options]
            for t in ok:
                groups[index[option_key(t.params[name])]].append(float(t.value))  # type: ignore[arg-type]
            panel["groups"] = groups
            position = functools.partial(_slot, index)

        panel["x"] = [position(t.params[name]) for t in ok]
        panel["y"] = [float(t.value) for t in ok]  # type: ignore[arg-type]
        panel["ids"] = [t.id for t in ok]
        panel["failed_x"] = [position(t.params[name]) for t in bad]
        panel["best_x"] = position(best.params[name]) if name in best.params else None
    return {
        "panels": panels,
        "best": _best_point(s),
        "failed": len(s.failed),
        "log": value_log(s, [float(t.value) for t in scored]),  # type: ignore[arg-type]
    }


def _slot(index: Mapping[str, int], value: Any) -> int | None:
    """The position of an option ``value`` on a categorical panel (``index``: option key -> position)."""
    return index.get(option_key(value))


def generation_size(engine: Mapping[str, Any]) -> int:
    """Generation size, from the engine's record: ``strategy_settings.population_size``, ``batch_size``,
    the strategy's default, or 8."""
    settings = engine.get("strategy_settings")
    candidates = [settings.get("population_size") if isinstance(settings, Mapping) else None, engine.get("batch_size")]
    for v in candidates:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 1 and float(v).is_integer():
            return int(v)
    name = engine.get("strategy")
    default = None
    if isinstance(name, str):
        from .. import strategies

        try:
            default = strategies.settings_of(strategies.strategy_class(name)).get("population_size")
        except (ValueError, TypeError, ImportError):  # unknown strategy: the generic size
            default = None
    if isinstance(default, int) and not isinstance(default, bool) and default >= 1:
        return default
    return 8


def generations(s: SearchView) -> dict[str, Any] | str:
    """The objective per generation (blocks of the generation size in trial order).

    Keys: ``size``, ``gens`` (generation numbers), ``groups`` (values per generation),
    ``gen_best``, ``best_x``/``best_y`` (best so far per generation), ``failed_x`` (failed
    trials' generations, spread a little within the generation), ``log``.
    """
    scored = s.scored
    if not scored:
        return "no finished trial with a value"
    size = generation_size(s.engine)
    groups: dict[int, list[float]] = {}
    for t in scored:
        groups.setdefault(t.number // size, []).append(float(t.value))  # type: ignore[arg-type]
    gens = sorted(groups)
    pick = max if s.direction == "maximize" else min
    gen_best = [pick(groups[g]) for g in gens]
    bx, by = best_steps(list(zip(gens, gen_best)), s.direction)
    jitter = [((t.number % size) / max(size - 1, 1) - 0.5) * 0.5 for t in s.failed]
    return {
        "size": size,
        "gens": gens,
        "groups": [groups[g] for g in gens],
        "gen_best": gen_best,
        "best_x": bx,
        "best_y": by,
        "failed_x": [t.number // size + j for t, j in zip(s.failed, jitter)],
        "log": value_log(s, [v for g in gens for v in groups[g]]),
    }


def natural(text: str) -> list[Any]:
    """A sort key that orders ``worker2`` before ``worker10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def worker_slot(worker: str | None) -> str:
    """The timeline row of a worker: recycled processes ``workerN.M`` of a pool share the row ``workerN``."""
    if not worker:
        return "(no worker)"
    m = re.fullmatch(r"(worker\d+)\.\d+", worker)
    return m.group(1) if m else worker


def workers(s: SearchView) -> dict[str, Any] | str:
    """The worker timeline: one row per worker slot, one bar per trial that ran.

    Keys: ``unit``, ``scale`` (seconds per unit), ``total`` (the span in seconds), ``rows``
    (``{name, busy, bars}`` in natural order; ``busy`` is the fraction of the span the worker
    worked; each bar is ``{id, number, status, start, end}`` in seconds since the first start),
    ``overhead`` (the engine's share of the span, or None), ``n`` (trials on the timeline).
    """
    intervals = s.intervals()
    span = s.span()
    if not intervals or span is None:
        return "no trial has start and end times"
    t0, t1 = span
    total = max(t1 - t0, 1e-9)
    scale, unit = time_unit(total)
    rows: dict[str, list[tuple[Any, float, float]]] = {}
    for t, a, b in intervals:
        rows.setdefault(worker_slot(t.worker), []).append((t, a, b))
    names = sorted(rows, key=natural)
    return {
        "unit": unit,
        "scale": scale,
        "total": total,
        "rows": [
            {
                "name": name,
                "busy": union_length([(a, b) for _, a, b in rows[name]]) / total,
                "bars": [
                    {"id": t.id, "number": t.number, "status": t.status, "start": a - t0, "end": b - t0}
                    for t, a, b in rows[name]
                ],
            }
            for name in names
        ],
        "overhead": s.timing()["overhead"],
        "n": len(intervals),
    }


def curves(s: SearchView) -> dict[str, Any] | str:
    """The values trials reported per step while they trained (done and pruned trials, no cache hits).

    Keys: ``curves`` (``{id, number, status, steps, values}``, steps ascending), ``best_id``
    (the best trial's id or None), ``pruned`` (how many curves were pruned), ``log``.
    """
    out = []
    for t in s.trials:
        if t.status not in (DONE, PRUNED) or t.cache_hit or not t.intermediate:
            continue
        points = sorted(
            (int(step), float(v)) for step, v in t.intermediate if v is not None and math.isfinite(float(v))
        )
        if points:
            out.append(
                {
                    "id": t.id,
                    "number": t.number,
                    "status": t.status,
                    "steps": [p[0] for p in points],
                    "values": [p[1] for p in points],
                }
            )
    if not out:
        return "no trial reported values while it trained"
    return {
        "curves": out,
        "best_id": s.best.id if s.best is not None else None,
        "pruned": sum(c["status"] == PRUNED for c in out),
        "log": value_log(s, [v for c in out for v in c["values"]]),
    }


def pareto(s: SearchView) -> dict[str, Any] | str:
    """The first two objectives of a multi-objective search and its Pareto front.

    Keys: ``objectives`` (``[[metric, direction], ...]``), ``x``/``y``/``ids`` (every done trial),
    ``front_x``/``front_y``/``front_ids`` (the front, ordered along the first objective),
    ``log_x``/``log_y``.
    """
    if not s.objectives:
        return "the search has one objective"
    rows = s.objective_values()
    if not rows:
        return "no done trial with every objective"
    front = s.pareto()
    (_, d0), (_, d1) = s.objectives[:2]
    order = sorted(range(len(front)), key=lambda i: (front[i][1][0], front[i][1][1]))
    x, y = [v[0] for _, v in rows], [v[1] for _, v in rows]
    return {
        "objectives": [list(o) for o in s.objectives],
        "x": x,
        "y": y,
        "ids": [t.id for t, _ in rows],
        "front_x": [front[i][1][0] for i in order],
        "front_y": [front[i][1][1] for i in order],
        "front_ids": [front[i][0].id for i in order],
        "log_x": d0 == "minimize" and log_scale_ok(x),
        "log_y": d1 == "minimize" and log_scale_ok(y),
    }


#: Plot key -> the function computing its data (the keys of :data:`hpo.report._plots.PLOTS`).
SERIES = {
    "best_so_far_trials": trials,
    "best_so_far_time": wall_time,
    "params": params,
    "generations": generations,
    "workers": workers,
    "curves": curves,
    "pareto": pareto,
}

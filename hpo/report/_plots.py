"""The report's plots, drawn with matplotlib's object-oriented API on an Agg canvas.

Matplotlib is imported only when a plot is drawn, and never through pyplot: drawing a
report changes neither the pyplot backend nor any global state. Each plot function
takes a :class:`~hpo.report._search.SearchView` and a path, and returns None when it
wrote the PNG, else why it drew nothing (no finished trial, no trial times...).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..space import Choice, Fixed, Float, Int, Param
from ..trial import DONE, FAILED, INTERRUPTED, PRUNED, QUEUED, RUNNING, Trial
from ._format import fmt_num, short
from ._search import SearchView, better, finite, union_length

#: Plot keys (``ReportFiles.plots``) and their file names, in report order.
PLOTS: dict[str, str] = {
    "best_so_far_trials": "best_so_far_trials.png",
    "best_so_far_time": "best_so_far_time.png",
    "params": "params.png",
    "generations": "generations.png",
    "workers": "workers.png",
    "curves": "curves.png",
    "pareto": "pareto.png",
}

#: Plot key -> its heading in the report.
PLOT_TITLES = {
    "best_so_far_trials": "Objective and best so far per trial",
    "best_so_far_time": "Best so far against wall time",
    "params": "Objective against each parameter",
    "generations": "Objective per generation",
    "workers": "Worker timeline",
    "curves": "Learning curves and pruning",
    "pareto": "Pareto front",
}

#: Plot key -> the caption under its heading.
PLOT_CAPTIONS = {
    "best_so_far_trials": "Each dot is a finished trial (hollow: cache hit); the line is the best value so far; "
    "red crosses on the edge are failed trials; the star marks the best trial.",
    "best_so_far_time": "The best value so far against wall time since the first trial started; "
    "one marker per finished trial (grey: the trial's own value).",
    "params": "One panel per parameter: the objective against the parameter's value (box and points per option "
    "for choices); red crosses on the edge are failed trials; the star marks the best trial.",
    "generations": "Trials grouped into generations in trial order; boxes span min to max with the median; "
    "the line joins each generation's best; the dashed line is the best so far.",
    "workers": "One row per worker (a pool's recycled worker processes share their slot's row), one bar per "
    "trial from its start to its end, coloured by status and labelled with the trial number when wide "
    "enough; the percentage is how busy the worker was over the whole search.",
    "curves": "The value each trial reported per step (epoch) while it trained: blue lines ran to the end, "
    "grey dashed lines were stopped by the pruner (a cross where they stopped); the best trial is green.",
    "pareto": "Several objectives: each dot is a done trial at its values of the first two objectives; the "
    "orange points joined by a line are the Pareto front (no other trial is better in every objective), "
    "labelled with their trial ids (up to about 20 labels; the report's table lists them all; export one "
    "with `--trial ID`).",
}

_COLORS = {
    DONE: "#1f77b4",
    FAILED: "#d62728",
    RUNNING: "#ff9f1c",
    INTERRUPTED: "#7f7f7f",
    PRUNED: "#9a9a9a",
    QUEUED: "#bcbd22",
    "best": "#2ca02c",
    "star": "#ffbf00",
}
_DPI = 110


# --------------------------------------------------------------------------- #
# plotting helpers
# --------------------------------------------------------------------------- #

# Box plots (per option, per generation): whiskers to the extremes, one colour scheme.
_BOXES = {
    "whis": (0, 100),
    "showfliers": False,
    "patch_artist": True,
    "manage_ticks": False,
    "boxprops": {"facecolor": "#d8e6f3", "edgecolor": "#4a6f94"},
    "medianprops": {"color": "#1f3f66", "linewidth": 1.5},
    "whiskerprops": {"color": "#4a6f94"},
    "capprops": {"color": "#4a6f94"},
}


def _figure(width: float, height: float) -> Any:
    """A figure with an Agg canvas, independent of pyplot and its backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> None:
    fig.savefig(path, dpi=_DPI, facecolor="white")


def _log_scale_ok(values: Sequence[float], ratio: float = 100.0) -> bool:
    """Values positive and spread over more than ``ratio`` -- worth a log axis."""
    vals = [v for v in values if v is not None]
    return len(vals) >= 2 and min(vals) > 0 and max(vals) / min(vals) >= ratio


def _value_axis(ax: Any, s: SearchView, values: Sequence[float]) -> None:
    """Label the objective axis; log scale for a minimised value spanning orders of magnitude (a loss)."""
    if s.direction == "minimize" and _log_scale_ok(values):
        ax.set_yscale("log")
    arrow = "lower is better" if s.direction == "minimize" else "higher is better"
    ax.set_ylabel(f"{s.metric} ({arrow})")


def _edge_y(s: SearchView) -> float:
    """Axes-fraction height at which failed trials are drawn: the worst edge."""
    return 0.97 if s.direction == "minimize" else 0.03


def _mark_failed(ax: Any, s: SearchView, xs: Sequence[float], label: str | None = None) -> None:
    """Red crosses for failed trials at the worst edge (x in data, y in axes coordinates)."""
    if not xs:
        return
    from matplotlib.transforms import blended_transform_factory

    trans = blended_transform_factory(ax.transData, ax.transAxes)
    ax.plot(
        list(xs),
        [_edge_y(s)] * len(xs),
        linestyle="none",
        marker="x",
        color=_COLORS[FAILED],
        markersize=6,
        markeredgewidth=1.5,
        transform=trans,
        label=label,
        zorder=4,
    )


def _finish(fig: Any, ax: Any, title: str, path: Path) -> None:
    """Grid, ``title``, the legend outside the axes, and the PNG written to ``path``."""
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    _legend_outside(ax)
    _save(fig, path)


def _legend_outside(ax: Any) -> None:
    """The legend to the right of the axes, where it hides no data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, borderaxespad=0.0)


def _time_unit(span_s: float) -> tuple[float, str]:
    if span_s < 120:
        return 1.0, "s"
    if span_s < 3 * 3600:
        return 60.0, "min"
    return 3600.0, "h"


def _best_steps(points: Sequence[tuple[float, float]], direction: str) -> tuple[list[float], list[float]]:
    """Best-so-far values at each of ``points`` (x, value), in the given order."""
    xs, ys, best = [], [], None
    for x, v in points:
        if best is None or better(v, best, direction):
            best = v
        xs.append(x)
        ys.append(best)
    return xs, ys


# --------------------------------------------------------------------------- #
# the five plots: each returns None when drawn, else why not
# --------------------------------------------------------------------------- #
def _plot_trials(s: SearchView, path: Path) -> str | None:
    scored = s.scored
    if not scored:
        return "no finished trial with a value"
    from matplotlib.ticker import MaxNLocator

    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    fresh = [t for t in scored if not t.cache_hit]
    cached = [t for t in scored if t.cache_hit]
    if fresh:
        ax.scatter(
            [t.number for t in fresh],
            [t.value for t in fresh],
            s=24,
            color=_COLORS[DONE],
            alpha=0.75,
            label="trial",
            zorder=3,
        )
    if cached:
        ax.scatter(
            [t.number for t in cached],
            [t.value for t in cached],
            s=30,
            facecolors="none",
            edgecolors=_COLORS[DONE],
            linewidths=1.2,
            label="cache hit",
            zorder=3,
        )
    xs, ys = _best_steps([(t.number, float(t.value)) for t in scored], s.direction)  # type: ignore[arg-type]
    last = max(t.number for t in s.trials)
    if last > xs[-1]:
        xs, ys = [*xs, last], [*ys, ys[-1]]
    ax.step(xs, ys, where="post", color=_COLORS["best"], linewidth=2, label="best so far", zorder=2)
    best = s.ranked()[0]
    ax.scatter(
        [best.number],
        [best.value],
        marker="*",
        s=220,
        color=_COLORS["star"],
        edgecolors="black",
        linewidths=0.8,
        zorder=5,
        label=f"best: trial {best.id} ({fmt_num(best.value, 4)})",
    )
    failed = s.failed
    _mark_failed(ax, s, [t.number for t in failed], label=f"failed ({len(failed)})" if failed else None)
    _value_axis(ax, s, [float(t.value) for t in scored])  # type: ignore[arg-type]
    ax.set_xlabel("trial number")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(x=0.02, y=0.08)
    _finish(fig, ax, f"{s.metric} per trial ({s.direction})", path)
    return None


def _plot_time(s: SearchView, path: Path) -> str | None:
    span = s.span()
    if span is None:
        return "no trial has a start time"
    t0 = span[0]
    points = sorted(((float(t.ended), t) for t in s.scored if t.ended is not None), key=lambda p: (p[0], p[1].number))
    if not points:
        return "no finished trial with a value and an end time"
    scale, unit = _time_unit(max(span[1] - t0, points[-1][0] - t0))
    xs = [(e - t0) / scale for e, _ in points]
    values = [float(t.value) for _, t in points]  # type: ignore[arg-type]
    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    ax.scatter(xs, values, s=14, color="#9a9a9a", alpha=0.6, label="trial value", zorder=2)
    bx, by = _best_steps(list(zip(xs, values)), s.direction)
    ax.step(bx, by, where="post", color=_COLORS["best"], linewidth=2, zorder=3)
    ax.plot(
        bx,
        by,
        linestyle="none",
        marker="o",
        markersize=4,
        color=_COLORS["best"],
        zorder=4,
        label="best so far (one marker per trial)",
    )
    failed_x = [(float(t.ended) - t0) / scale for t in s.failed if t.ended is not None]
    _mark_failed(ax, s, failed_x, label=f"failed ({len(failed_x)})" if failed_x else None)
    _value_axis(ax, s, values)
    ax.set_xlabel(f"wall time since the first trial started ({unit})")
    ax.set_xlim(left=min(0.0, ax.get_xlim()[0]))
    ax.margins(y=0.08)
    _finish(fig, ax, f"best {s.metric} so far against wall time", path)
    return None


def _key(v: Any) -> str:
    try:
        return json.dumps(v, sort_keys=True)
    except (TypeError, ValueError):
        return repr(v)


def _param_panels(s: SearchView) -> list[dict[str, Any]]:
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
        if isinstance(param, Fixed) or len({_key(v) for v in values}) < 2:
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
                    "log": _log_scale_ok(nums) and len(set(nums)) >= 3,
                    "int": all(isinstance(v, int) for v in values),
                }
            )
        else:
            options, keys = [], set()
            for v in sorted(values, key=lambda v: (str(type(v)), str(v))):
                if _key(v) not in keys:
                    keys.add(_key(v))
                    options.append(v)
            panels.append({"name": name, "kind": "categorical", "options": options})
    return panels


def _plot_params(s: SearchView, path: Path) -> str | None:
    scored = s.scored
    if not scored:
        return "no finished trial with a value"
    panels = _param_panels(s)
    if not panels:
        return "no parameter takes more than one value"
    import numpy as np
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    n = len(panels)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig = _figure(3.9 * ncols, 3.1 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    best = s.ranked()[0]
    rng = np.random.default_rng(0)
    all_values = [float(t.value) for t in scored]  # type: ignore[arg-type]
    for i, panel in enumerate(panels):
        ax = axes[i // ncols][i % ncols]
        name = panel["name"]
        ok = [t for t in scored if name in t.params]
        bad = [t for t in s.failed if name in t.params]
        if panel["kind"] == "numeric":
            ok = [t for t in ok if finite(t.params[name]) is not None]
            bad = [t for t in bad if finite(t.params[name]) is not None]
            ax.scatter(
                [float(t.params[name]) for t in ok],
                [t.value for t in ok],
                s=18,
                color=_COLORS[DONE],
                alpha=0.7,
                zorder=3,
            )
            _mark_failed(ax, s, [float(t.params[name]) for t in bad])
            if name in best.params and finite(best.params[name]) is not None:
                ax.scatter(
                    [float(best.params[name])],
                    [best.value],
                    marker="*",
                    s=180,
                    color=_COLORS["star"],
                    edgecolors="black",
                    linewidths=0.8,
                    zorder=5,
                )
            if panel["log"]:
                ax.set_xscale("log")
                # Plain numbers on a few ticks: matplotlib's minor "3x10^1" labels collide
                # when a log axis spans less than a decade or two.
                ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=6))
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(NullFormatter())
            elif panel["int"]:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(name + (" (log scale)" if panel["log"] else ""), fontsize=10)
        else:
            options = panel["options"]
            index = {_key(o): j for j, o in enumerate(options)}
            for t in ok + bad:  # values outside the declared options get their own slot
                if _key(t.params[name]) not in index:
                    index[_key(t.params[name])] = len(options)
                    options = [*options, t.params[name]]
            groups: list[list[float]] = [[] for _ in options]
            for t in ok:
                groups[index[_key(t.params[name])]].append(float(t.value))  # type: ignore[arg-type]
            filled = [j for j, g in enumerate(groups) if g]
            if filled:
                ax.boxplot(
                    [groups[j] for j in filled],
                    positions=filled,
                    widths=0.55,
                    **_BOXES,
                )
            xs = [index[_key(t.params[name])] + rng.uniform(-0.15, 0.15) for t in ok]
            ax.scatter(xs, [t.value for t in ok], s=14, color=_COLORS[DONE], alpha=0.7, zorder=3)
            _mark_failed(ax, s, [index[_key(t.params[name])] + rng.uniform(-0.15, 0.15) for t in bad])
            if name in best.params and _key(best.params[name]) in index:
                ax.scatter(
                    [index[_key(best.params[name])]],
                    [best.value],
                    marker="*",
                    s=180,
                    color=_COLORS["star"],
                    edgecolors="black",
                    linewidths=0.8,
                    zorder=5,
                )
            labels = [short(str(o)) for o in options]
            ax.set_xticks(range(len(options)))
            rotate = len(options) > 4 or max(len(lb) for lb in labels) > 6
            ax.set_xticklabels(labels, rotation=30 if rotate else 0, ha="right" if rotate else "center", fontsize=8)
            ax.set_xlim(-0.6, len(options) - 0.4)
            ax.set_title(name, fontsize=10)
        ax.tick_params(labelsize=8)
        ax.grid(True, alpha=0.3)
        if i % ncols == 0:
            _value_axis(ax, s, all_values)
            ax.yaxis.label.set_fontsize(9)
        ax.margins(y=0.1)
    for j in range(n, nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    n_failed = len(s.failed)
    note = f"; red x: failed trials ({n_failed})" if n_failed else ""
    fig.suptitle(f"{s.metric} against each parameter (star: best trial {best.id}{note})", fontsize=11)
    _save(fig, path)
    return None


def _generation_size(engine: Mapping[str, Any]) -> int:
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


def _plot_generations(s: SearchView, path: Path) -> str | None:
    scored = s.scored
    if not scored:
        return "no finished trial with a value"
    from matplotlib.ticker import MaxNLocator

    size = _generation_size(s.engine)
    groups: dict[int, list[float]] = {}
    for t in scored:
        groups.setdefault(t.number // size, []).append(float(t.value))  # type: ignore[arg-type]
    gens = sorted(groups)
    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    ax.boxplot(
        [groups[g] for g in gens],
        positions=gens,
        widths=0.6,
        **_BOXES,
    )
    pick = max if s.direction == "maximize" else min
    ax.plot(
        gens,
        [pick(groups[g]) for g in gens],
        marker="o",
        markersize=4,
        color=_COLORS[DONE],
        linewidth=1.2,
        label="generation best",
        zorder=3,
    )
    bx, by = _best_steps([(g, pick(groups[g])) for g in gens], s.direction)
    ax.plot(bx, by, linestyle="--", color=_COLORS["best"], linewidth=1.8, label="best so far", zorder=4)
    failed = s.failed
    if failed:
        jitter = [((t.number % size) / max(size - 1, 1) - 0.5) * 0.5 for t in failed]
        _mark_failed(ax, s, [t.number // size + j for t, j in zip(failed, jitter)], label=f"failed ({len(failed)})")
    _value_axis(ax, s, [v for g in gens for v in groups[g]])
    ax.set_xlabel(f"generation (blocks of {size} trials in trial order)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    xs_all = gens + [t.number // size for t in failed]
    ax.set_xlim(min(xs_all) - 0.7, max(xs_all) + 0.7)
    ax.margins(y=0.08)
    _finish(fig, ax, f"{s.metric} per generation: min / median / max", path)
    return None


def _natural(text: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def _worker_slot(worker: str | None) -> str:
    """The timeline row of a worker: recycled processes ``workerN.M`` of a pool share the row ``workerN``."""
    if not worker:
        return "(no worker)"
    m = re.fullmatch(r"(worker\d+)\.\d+", worker)
    return m.group(1) if m else worker


def _plot_workers(s: SearchView, path: Path) -> str | None:
    intervals = s.intervals()
    span = s.span()
    if not intervals or span is None:
        return "no trial has start and end times"
    from matplotlib.patches import Patch

    t0, t1 = span
    total = max(t1 - t0, 1e-9)
    scale, unit = _time_unit(total)
    rows: dict[str, list[tuple[Trial, float, float]]] = {}
    for t, a, b in intervals:
        rows.setdefault(_worker_slot(t.worker), []).append((t, a, b))
    names = sorted(rows, key=_natural)
    fig = _figure(9.0, max(2.6, 1.3 + 0.5 * len(names)))
    ax = fig.add_subplot()
    min_width = total * 0.002  # keep instant trials visible
    statuses: set[str] = set()
    for row, name in enumerate(names):
        for t, a, b in rows[name]:
            width = max(b - a, min_width) / scale
            color = _COLORS.get(t.status, "#7f7f7f")
            statuses.add(t.status)
            # White edges separate back-to-back trials, but would hide the colour of thin bars.
            edge = "white" if (b - a) > 5 * min_width else color
            ax.broken_barh(
                [((a - t0) / scale, width)], (row - 0.38, 0.76), facecolors=color, edgecolors=edge, linewidth=0.6
            )
            if (b - a) / total > 0.035 and len(rows[name]) <= 120:
                ax.text(
                    (a - t0 + (b - a) / 2) / scale,
                    row,
                    str(t.number),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white",
                    clip_on=True,
                )
    labels = []
    for name in names:
        busy = union_length([(a, b) for _, a, b in rows[name]]) / total
        labels.append(f"{short(name, 18)}\n{100 * busy:.0f}% busy")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(0, total / scale * 1.01)
    ax.set_xlabel(f"wall time since the first trial started ({unit})")
    ax.grid(True, axis="x", alpha=0.3)
    order = [DONE, PRUNED, FAILED, RUNNING, INTERRUPTED, QUEUED]
    handles = [Patch(facecolor=_COLORS[k], label=k) for k in order if k in statuses]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18 if len(names) < 4 else -0.08),
        ncol=len(handles),
        fontsize=8,
        frameon=False,
    )
    overhead = s.timing()["overhead"]
    extra = f"; engine overhead (no worker busy) {100 * overhead:.1f}%" if overhead is not None else ""
    plural = "s" if len(names) != 1 else ""
    ax.set_title(f"worker timeline: {len(intervals)} trials on {len(names)} worker{plural}{extra}", fontsize=10)
    _save(fig, path)
    return None


def _plot_curves(s: SearchView, path: Path) -> str | None:
    curves = [
        (t, [(int(step), float(v)) for step, v in t.intermediate if v is not None and math.isfinite(float(v))])
        for t in s.trials
        if t.status in (DONE, PRUNED) and not t.cache_hit and t.intermediate
    ]
    curves = [(t, points) for t, points in curves if points]
    if not curves:
        return "no trial reported values while it trained"
    from matplotlib.ticker import MaxNLocator

    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    best = s.best
    labelled: set[str] = set()
    for t, points in curves:
        xs, ys = zip(*sorted(points))
        if best is not None and t.id == best.id:
            continue  # drawn last, on top
        pruned = t.status == PRUNED
        label = ("pruned" if pruned else "ran to the end") if t.status not in labelled else None
        labelled.add(t.status)
        ax.plot(
            xs,
            ys,
            color=_COLORS[PRUNED] if pruned else _COLORS[DONE],
            linestyle="--" if pruned else "-",
            linewidth=1.0,
            alpha=0.8 if pruned else 0.5,
            label=label,
        )
        if pruned:
            ax.plot(xs[-1:], ys[-1:], marker="x", color=_COLORS[PRUNED], linestyle="none")
    for t, points in curves:
        if best is not None and t.id == best.id:
            xs, ys = zip(*sorted(points))
            ax.plot(xs, ys, color=_COLORS["best"], linewidth=2.2, label=f"best: trial {t.id}", zorder=4)
    _value_axis(ax, s, [v for _, points in curves for _, v in points])
    ax.set_xlabel("step (epoch)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    n_pruned = sum(t.status == PRUNED for t, _ in curves)
    _finish(fig, ax, f"{s.metric} reported per step ({len(curves)} trials, {n_pruned} pruned)", path)
    return None


def _plot_pareto(s: SearchView, path: Path) -> str | None:
    if not s.objectives:
        return "the search has one objective"
    rows = s.objective_values()
    if not rows:
        return "no done trial with every objective"
    front = s.pareto()
    (m0, d0), (m1, d1) = s.objectives[:2]
    fig = _figure(7.5, 5.0)
    ax = fig.add_subplot()
    ax.scatter([v[0] for _, v in rows], [v[1] for _, v in rows], s=22, color=_COLORS[DONE], alpha=0.6, label="trial")
    xs, ys = [v[0] for _, v in front], [v[1] for _, v in front]
    order = sorted(range(len(front)), key=lambda i: (xs[i], ys[i]))
    ax.plot(
        [xs[i] for i in order],
        [ys[i] for i in order],
        marker="o",
        color=_COLORS["star"],
        markeredgecolor="black",
        linewidth=1.2,
        label=f"Pareto front ({len(front)})",
        zorder=4,
    )
    every = max(1, math.ceil(len(front) / 20))  # at most about 20 labels: more would overlap
    for k, i in enumerate(order):
        if k % every == 0 or k == len(order) - 1:
            ax.annotate(str(front[i][0].id), (xs[i], ys[i]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    for axis, metric, direction in ((ax.xaxis, m0, d0), (ax.yaxis, m1, d1)):
        axis.set_label_text(f"{metric} ({'lower' if direction == 'minimize' else 'higher'} is better)")
    if d1 == "minimize" and _log_scale_ok([v[1] for _, v in rows]):
        ax.set_yscale("log")
    if d0 == "minimize" and _log_scale_ok([v[0] for _, v in rows]):
        ax.set_xscale("log")
    extra = f" (first 2 of {len(s.objectives)} objectives)" if len(s.objectives) > 2 else ""
    _finish(fig, ax, f"{m1} against {m0}{extra}", path)
    return None


PLOTTERS = {
    "best_so_far_trials": _plot_trials,
    "best_so_far_time": _plot_time,
    "params": _plot_params,
    "generations": _plot_generations,
    "workers": _plot_workers,
    "curves": _plot_curves,
    "pareto": _plot_pareto,
}


def draw(key: str, s: SearchView, path: Path) -> str | None:
    """Draw one plot; None when drawn, else why not (a drawing error is reported, not raised)."""
    try:
        return PLOTTERS[key](s, path)
    except Exception as exc:  # noqa: BLE001 -- one bad plot must not cost the whole report
        why = f"drawing failed ({type(exc).__name__}: {exc})"
        warnings.warn(f"hpo.report: {PLOTS[key]} not drawn: {why}", RuntimeWarning, stacklevel=3)
        return why

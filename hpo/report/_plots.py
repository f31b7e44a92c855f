"""The report's plots, drawn with matplotlib's object-oriented API on an Agg canvas.

Matplotlib is imported only when a plot is drawn, and never through pyplot: drawing a
report changes neither the pyplot backend nor any global state. Each plot function
takes a :class:`~hpo.report._search.SearchView` and a path, and returns None when it
wrote the PNG, else why it drew nothing (no finished trial, no trial times...). What
each plot shows is computed by :mod:`hpo.report._series`, which the live dashboard
draws from too; this module only draws it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..trial import DONE, FAILED, INTERRUPTED, PRUNED, QUEUED, RUNNING
from . import _series
from ._format import fmt_num, short
from ._search import SearchView

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


def _value_axis(ax: Any, s: SearchView, log: bool) -> None:
    """Label the objective axis; ``log``: a log scale (a minimised value spanning orders of magnitude)."""
    if log:
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


def _star(ax: Any, x: float, y: float, label: str | None = None, size: float = 180) -> None:
    """The best trial's star."""
    ax.scatter(
        [x], [y], marker="*", s=size, color=_COLORS["star"], edgecolors="black", linewidths=0.8, zorder=5, label=label
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


# --------------------------------------------------------------------------- #
# the plots: each returns None when drawn, else why not
# --------------------------------------------------------------------------- #
def _plot_trials(s: SearchView, path: Path) -> str | None:
    data = _series.trials(s)
    if isinstance(data, str):
        return data
    from matplotlib.ticker import MaxNLocator

    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    for cached in (False, True):
        points = [p for p in data["points"] if p["cache_hit"] == cached]
        if not points:
            continue
        style = (
            {"s": 30, "facecolors": "none", "edgecolors": _COLORS[DONE], "linewidths": 1.2, "label": "cache hit"}
            if cached
            else {"s": 24, "color": _COLORS[DONE], "alpha": 0.75, "label": "trial"}
        )
        ax.scatter([p["number"] for p in points], [p["value"] for p in points], zorder=3, **style)
    ax.step(
        data["best_x"], data["best_y"], where="post", color=_COLORS["best"], linewidth=2, label="best so far", zorder=2
    )
    best = data["best"]
    _star(ax, best["number"], best["value"], f"best: trial {best['id']} ({fmt_num(best['value'], 4)})", size=220)
    failed = data["failed"]
    _mark_failed(ax, s, failed, label=f"failed ({len(failed)})" if failed else None)
    _value_axis(ax, s, data["log"])
    ax.set_xlabel("trial number")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(x=0.02, y=0.08)
    _finish(fig, ax, f"{s.metric} per trial ({s.direction})", path)
    return None


def _plot_time(s: SearchView, path: Path) -> str | None:
    data = _series.wall_time(s)
    if isinstance(data, str):
        return data
    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    ax.scatter(data["x"], data["values"], s=14, color="#9a9a9a", alpha=0.6, label="trial value", zorder=2)
    bx, by = data["best_x"], data["best_y"]
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
    failed_x = data["failed_x"]
    _mark_failed(ax, s, failed_x, label=f"failed ({len(failed_x)})" if failed_x else None)
    _value_axis(ax, s, data["log"])
    ax.set_xlabel(f"wall time since the first trial started ({data['unit']})")
    ax.set_xlim(left=min(0.0, ax.get_xlim()[0]))
    ax.margins(y=0.08)
    _finish(fig, ax, f"best {s.metric} so far against wall time", path)
    return None


def _plot_params(s: SearchView, path: Path) -> str | None:
    data = _series.params(s)
    if isinstance(data, str):
        return data
    import numpy as np
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    panels = data["panels"]
    n = len(panels)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig = _figure(3.9 * ncols, 3.1 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    best = data["best"]
    rng = np.random.default_rng(0)
    for i, panel in enumerate(panels):
        ax = axes[i // ncols][i % ncols]
        name = panel["name"]
        if panel["kind"] == "numeric":
            ax.scatter(panel["x"], panel["y"], s=18, color=_COLORS[DONE], alpha=0.7, zorder=3)
            _mark_failed(ax, s, panel["failed_x"])
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
            options, groups = panel["options"], panel["groups"]
            filled = [j for j, g in enumerate(groups) if g]
            if filled:
                ax.boxplot([groups[j] for j in filled], positions=filled, widths=0.55, **_BOXES)
            xs = [x + rng.uniform(-0.15, 0.15) for x in panel["x"]]
            ax.scatter(xs, panel["y"], s=14, color=_COLORS[DONE], alpha=0.7, zorder=3)
            _mark_failed(ax, s, [x + rng.uniform(-0.15, 0.15) for x in panel["failed_x"]])
            labels = [short(str(o)) for o in options]
            ax.set_xticks(range(len(options)))
            rotate = len(options) > 4 or max(len(lb) for lb in labels) > 6
            ax.set_xticklabels(labels, rotation=30 if rotate else 0, ha="right" if rotate else "center", fontsize=8)
            ax.set_xlim(-0.6, len(options) - 0.4)
            ax.set_title(name, fontsize=10)
        if panel["best_x"] is not None:
            _star(ax, panel["best_x"], best["value"])
        ax.tick_params(labelsize=8)
        ax.grid(True, alpha=0.3)
        if i % ncols == 0:
            _value_axis(ax, s, data["log"])
            ax.yaxis.label.set_fontsize(9)
        ax.margins(y=0.1)
    for j in range(n, nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    n_failed = data["failed"]
    note = f"; red x: failed trials ({n_failed})" if n_failed else ""
    fig.suptitle(f"{s.metric} against each parameter (star: best trial {best['id']}{note})", fontsize=11)
    _save(fig, path)
    return None


def _plot_generations(s: SearchView, path: Path) -> str | None:
    data = _series.generations(s)
    if isinstance(data, str):
        return data
    from matplotlib.ticker import MaxNLocator

    gens = data["gens"]
    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    ax.boxplot(data["groups"], positions=gens, widths=0.6, **_BOXES)
    ax.plot(
        gens,
        data["gen_best"],
        marker="o",
        markersize=4,
        color=_COLORS[DONE],
        linewidth=1.2,
        label="generation best",
        zorder=3,
    )
    ax.plot(
        data["best_x"],
        data["best_y"],
        linestyle="--",
        color=_COLORS["best"],
        linewidth=1.8,
        label="best so far",
        zorder=4,
    )
    failed_x = data["failed_x"]
    if failed_x:
        _mark_failed(ax, s, failed_x, label=f"failed ({len(failed_x)})")
    _value_axis(ax, s, data["log"])
    ax.set_xlabel(f"generation (blocks of {data['size']} trials in trial order)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    xs_all = gens + [round(x) for x in failed_x]
    ax.set_xlim(min(xs_all) - 0.7, max(xs_all) + 0.7)
    ax.margins(y=0.08)
    _finish(fig, ax, f"{s.metric} per generation: min / median / max", path)
    return None


def _plot_workers(s: SearchView, path: Path) -> str | None:
    data = _series.workers(s)
    if isinstance(data, str):
        return data
    from matplotlib.patches import Patch

    total, scale, rows = data["total"], data["scale"], data["rows"]
    fig = _figure(9.0, max(2.6, 1.3 + 0.5 * len(rows)))
    ax = fig.add_subplot()
    min_width = total * 0.002  # keep instant trials visible
    statuses: set[str] = set()
    for r, row in enumerate(rows):
        for bar in row["bars"]:
            a, b = bar["start"], bar["end"]
            color = _COLORS.get(bar["status"], "#7f7f7f")
            statuses.add(bar["status"])
            # White edges separate back-to-back trials, but would hide the colour of thin bars.
            edge = "white" if (b - a) > 5 * min_width else color
            ax.broken_barh(
                [(a / scale, max(b - a, min_width) / scale)],
                (r - 0.38, 0.76),
                facecolors=color,
                edgecolors=edge,
                linewidth=0.6,
            )
            if (b - a) / total > 0.035 and len(row["bars"]) <= 120:
                ax.text(
                    (a + (b - a) / 2) / scale,
                    r,
                    str(bar["number"]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white",
                    clip_on=True,
                )
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{short(row['name'], 18)}\n{100 * row['busy']:.0f}% busy" for row in rows], fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, total / scale * 1.01)
    ax.set_xlabel(f"wall time since the first trial started ({data['unit']})")
    ax.grid(True, axis="x", alpha=0.3)
    order = [DONE, PRUNED, FAILED, RUNNING, INTERRUPTED, QUEUED]
    handles = [Patch(facecolor=_COLORS[k], label=k) for k in order if k in statuses]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18 if len(rows) < 4 else -0.08),
        ncol=len(handles),
        fontsize=8,
        frameon=False,
    )
    overhead = data["overhead"]
    extra = f"; engine overhead (no worker busy) {100 * overhead:.1f}%" if overhead is not None else ""
    plural = "s" if len(rows) != 1 else ""
    ax.set_title(f"worker timeline: {data['n']} trials on {len(rows)} worker{plural}{extra}", fontsize=10)
    _save(fig, path)
    return None


def _plot_curves(s: SearchView, path: Path) -> str | None:
    data = _series.curves(s)
    if isinstance(data, str):
        return data
    from matplotlib.ticker import MaxNLocator

    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    labelled: set[str] = set()
    best = None
    for curve in data["curves"]:
        xs, ys = curve["steps"], curve["values"]
        if curve["id"] == data["best_id"]:
            best = curve  # drawn last, on top
            continue
        pruned = curve["status"] == PRUNED
        label = ("pruned" if pruned else "ran to the end") if curve["status"] not in labelled else None
        labelled.add(curve["status"])
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
    if best is not None:
        ax.plot(
            best["steps"],
            best["values"],
            color=_COLORS["best"],
            linewidth=2.2,
            label=f"best: trial {best['id']}",
            zorder=4,
        )
    _value_axis(ax, s, data["log"])
    ax.set_xlabel("step (epoch)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    title = f"{s.metric} reported per step ({len(data['curves'])} trials, {data['pruned']} pruned)"
    _finish(fig, ax, title, path)
    return None


def _plot_pareto(s: SearchView, path: Path) -> str | None:
    data = _series.pareto(s)
    if isinstance(data, str):
        return data
    objectives = data["objectives"]
    (m0, d0), (m1, d1) = objectives[:2]
    fig = _figure(7.5, 5.0)
    ax = fig.add_subplot()
    ax.scatter(data["x"], data["y"], s=22, color=_COLORS[DONE], alpha=0.6, label="trial")
    xs, ys, ids = data["front_x"], data["front_y"], data["front_ids"]
    ax.plot(
        xs,
        ys,
        marker="o",
        color=_COLORS["star"],
        markeredgecolor="black",
        linewidth=1.2,
        label=f"Pareto front ({len(ids)})",
        zorder=4,
    )
    every = max(1, math.ceil(len(ids) / 20))  # at most about 20 labels: more would overlap
    for k in range(len(ids)):
        if k % every == 0 or k == len(ids) - 1:
            ax.annotate(str(ids[k]), (xs[k], ys[k]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    for axis, metric, direction in ((ax.xaxis, m0, d0), (ax.yaxis, m1, d1)):
        axis.set_label_text(f"{metric} ({'lower' if direction == 'minimize' else 'higher'} is better)")
    if data["log_y"]:
        ax.set_yscale("log")
    if data["log_x"]:
        ax.set_xscale("log")
    extra = f" (first 2 of {len(objectives)} objectives)" if len(objectives) > 2 else ""
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

"""Search reports: plots, a Markdown + HTML report, and a short status summary.

:func:`write_report` reads a search from a :class:`~hpo.store.TrialStore` and
writes, into one folder:

* ``best_so_far_trials.png`` -- every trial's value and the best-so-far line
  against the trial number (failed trials as red crosses on the worst edge,
  cache hits hollow);
* ``best_so_far_time.png`` -- the best-so-far value against wall time since
  the first trial started, one marker per trial;
* ``params.png`` -- one panel per parameter: the objective against the
  parameter's value (scatter on a linear or log axis for numbers, box + strip
  per option for choices);
* ``generations.png`` -- the spread of the objective per generation (blocks
  of ``population_size`` trials in trial order), with the best so far;
* ``workers.png`` -- a Gantt-like timeline: one row per worker, one bar per
  trial from its start to its end, coloured by status;
* ``report.md`` and ``report.html`` -- the same content: configuration,
  counts, timings, the best trial, the top trials, the failed trials, the
  plots and any extra sections supplied by the caller.

A plot with nothing to draw (no finished trial, no trial times) is skipped:
no file is written and the report says why.  Failed trials, None values and
trials without times never make the report fail.

:func:`summary` gives the same key figures as plain JSON (for a
``status --json`` command) and :func:`format_status` turns them into a few
human-readable lines.

Matplotlib is imported only when plots are drawn, through its
object-oriented API (:class:`matplotlib.figure.Figure` with the Agg canvas):
writing a report never changes the pyplot backend or global state.  The
Markdown-to-HTML conversion is built in (a small Markdown subset: headings,
paragraphs, lists, tables, images, links, code, emphasis) -- no extra
dependency, no external CSS or JavaScript.
"""

from __future__ import annotations

import datetime as _dt
import html as _html
import inspect
import json
import math
import os
import re
import statistics
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .space import Choice, Fixed, Float, Int, Param, Space
from .store import SearchInfo, StoreError, TrialStore, jsonable
from .trial import DONE, FAILED, INTERRUPTED, QUEUED, RUNNING, Trial

__all__ = ["PLOTS", "ReportFiles", "format_status", "markdown_to_html", "summary", "write_report"]

#: Plot keys (``ReportFiles.plots``) and their file names, in report order.
PLOTS: dict[str, str] = {
    "best_so_far_trials": "best_so_far_trials.png",
    "best_so_far_time": "best_so_far_time.png",
    "params": "params.png",
    "generations": "generations.png",
    "workers": "workers.png",
}

_PLOT_TITLES = {
    "best_so_far_trials": "Objective and best so far per trial",
    "best_so_far_time": "Best so far against wall time",
    "params": "Objective against each parameter",
    "generations": "Objective per generation",
    "workers": "Worker timeline",
}

_PLOT_CAPTIONS = {
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
}

_COLORS = {
    DONE: "#1f77b4",
    FAILED: "#d62728",
    RUNNING: "#ff9f1c",
    INTERRUPTED: "#7f7f7f",
    QUEUED: "#bcbd22",
    "best": "#2ca02c",
    "star": "#ffbf00",
}

#: Metrics values longer than this (as text) are left out of the report as bulky.
_MAX_METRIC_CHARS = 120
_DIRECTIONS = ("minimize", "maximize")
_DPI = 110


@dataclass
class ReportFiles:
    """What :func:`write_report` wrote.

    Attributes:
        out_dir: The report folder.
        markdown: ``report.md``.
        html: ``report.html``.
        plots: Plot key (see :data:`PLOTS`) -> PNG path, for the plots drawn.
        skipped: Plot key -> why it was not drawn, for the plots skipped.
    """

    out_dir: Path
    markdown: Path
    html: Path
    plots: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- #
# loading a search
# --------------------------------------------------------------------------- #
def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (None, NaN, inf, non-numbers)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "maximize" else a < b


def _union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Total length covered by the ``(start, end)`` intervals."""
    total, cur_start, cur_end = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_end is None or s > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start  # type: ignore[operator]
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    if cur_end is not None:
        total += cur_end - cur_start  # type: ignore[operator]
    return total


@dataclass
class _Search:
    """One search of a store, with the figures every section needs."""

    path: str
    info: SearchInfo | None
    config: dict[str, Any]
    direction: str
    metric: str
    trials: list[Trial]
    counts: dict[str, int]
    best: Trial | None
    now: float
    writer: str | None = None  # the process holding the writer lock (None: no driver runs)

    @property
    def scored(self) -> list[Trial]:
        """Done trials with a finite value, in number order."""
        return [t for t in self.trials if t.status == DONE and _finite(t.value) is not None]

    @property
    def failed(self) -> list[Trial]:
        return [t for t in self.trials if t.status == FAILED]

    def ranked(self) -> list[Trial]:
        """Scored trials, best first (ties: lower trial number first)."""
        sign = -1.0 if self.direction == "maximize" else 1.0
        return sorted(self.scored, key=lambda t: (sign * float(t.value), t.number))  # type: ignore[arg-type]

    def intervals(self) -> list[tuple[Trial, float, float]]:
        """(trial, start, end) of every trial that ran on a worker (running ones end now)."""
        out = []
        for t in self.trials:
            if t.cache_hit or t.started is None:
                continue
            end = t.ended if t.ended is not None else (self.now if t.status == RUNNING else None)
            if end is None:
                continue
            out.append((t, float(t.started), max(float(end), float(t.started))))
        return out

    def span(self) -> tuple[float, float] | None:
        """(first start, last end -- or now while trials run), or None without times."""
        starts = [float(t.started) for t in self.trials if t.started is not None]
        if not starts:
            return None
        t0 = min(starts)
        ends = [float(t.ended) for t in self.trials if t.ended is not None]
        if any(t.status == RUNNING and t.started is not None for t in self.trials):
            ends.append(self.now)
        return t0, max([t0, *ends])

    def timing(self) -> dict[str, float | None]:
        """Elapsed seconds, trials per hour, mean trial seconds and the engine overhead fraction."""
        span = self.span()
        elapsed = None if span is None else span[1] - span[0]
        finished = self.counts.get(DONE, 0) + self.counts.get(FAILED, 0)
        per_hour = finished / (elapsed / 3600.0) if elapsed and elapsed > 0 else None
        durations = [d for t in self.trials
                     if t.status in (DONE, FAILED) and not t.cache_hit and (d := t.duration) is not None and d >= 0]
        mean = statistics.fmean(durations) if durations else None
        overhead = None
        spans = [(s, e) for _, s, e in self.intervals()]
        if span is not None and spans and elapsed and elapsed > 0:
            busy = _union_length(spans)
            overhead = min(max(1.0 - busy / elapsed, 0.0), 1.0)
        return {"elapsed_s": elapsed, "trials_per_hour": per_hour, "mean_trial_s": mean, "overhead": overhead}


def engine_view(config: Mapping[str, Any]) -> dict[str, Any]:
    """The flat engine keys a report reads, from either configuration layout.

    The engine's own layout is flat (``direction``, ``metric``, ``strategy`` as a name,
    ``strategy_settings``, ``workers``, ...). Applications may nest them, as keras-geo's
    YAML does (``objective: {metric, direction}``, ``strategy: {name, settings}``,
    ``executor: {name, workers}``); both are read the same way.
    """
    view = dict(config)
    objective = config.get("objective")
    if isinstance(objective, Mapping):
        view.setdefault("direction", objective.get("direction"))
        view.setdefault("metric", objective.get("metric"))
    strategy = config.get("strategy")
    if isinstance(strategy, Mapping):
        view["strategy"] = strategy.get("name")
        view.setdefault("strategy_settings", strategy.get("settings") or {})
    executor = config.get("executor")
    if isinstance(executor, Mapping):
        view["executor"] = executor.get("name")
        view.setdefault("workers", 1 if executor.get("name") == "serial" else executor.get("workers"))
    if "mode" in config:
        view.setdefault("synchronous", config.get("mode") == "sync")
    return view


def _load(store: TrialStore, direction: str | None, search_id: int | None) -> _Search:
    info = store.get_search(search_id)
    if info is None and search_id is not None:
        raise StoreError(f"{store.path!r} holds no search with id {search_id}")
    config = engine_view(info.config) if info is not None and isinstance(info.config, Mapping) else {}
    if direction is None:
        direction = str(config.get("direction") or "minimize")
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be 'minimize' or 'maximize'; received {direction!r}")
    metric = str(config.get("metric") or "value")
    if info is None:
        trials: list[Trial] = []
        counts = {QUEUED: 0, RUNNING: 0, DONE: 0, FAILED: 0, INTERRUPTED: 0, "cache_hits": 0}
        best = None
    else:
        trials = store.trials(search_id=info.id)
        counts = store.counts(search_id=info.id)
        best = store.best(direction, search_id=info.id)
    return _Search(store.path, info, config, direction, metric, trials, counts, best, time.time(), store.writer())


def _last_line(error: str | None, limit: int = 300) -> str:
    lines = [ln.strip() for ln in (error or "").strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else "(no error text)"
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --------------------------------------------------------------------------- #
# summary and status
# --------------------------------------------------------------------------- #
def summary(store: TrialStore, *, direction: str | None = None, search_id: int | None = None) -> dict[str, Any]:
    """Key figures of a search as plain JSON types (``json.dumps`` works on the result).

    Args:
        store: The trial store.
        direction: ``"minimize"`` or ``"maximize"``. Defaults to the search config's
            ``direction``, else ``"minimize"``.
        search_id: Which search. Defaults to the latest.

    Returns:
        A dict with ``store``, ``search_id``, ``name``, ``strategy``, ``direction``,
        ``metric``, ``seed``, ``budget``, ``counts`` (``store.counts()`` plus ``total``
        and ``finished``), ``best_trial_id``, ``best_number``, ``best_value``,
        ``best_params``, ``started`` and ``updated`` (Unix seconds), ``elapsed_s``,
        ``trials_per_hour``, ``mean_trial_s``, ``overhead`` (fraction of the wall time
        when no worker ran a trial), ``failures`` (trial id, number, params and the
        last line of the error, oldest first), ``running`` (trial id, number,
        worker, seconds running) and ``writer`` (the process holding the store's writer
        lock; None when no driver runs, so trials still marked running or queued were
        left unfinished by a driver that died).  Figures that cannot be computed are None.  A store
        holding no search gives zero counts and ``search_id`` None.

    Raises:
        StoreError: when ``search_id`` names no search of the store.
        ValueError: on an unknown ``direction``.
    """
    s = _load(store, direction, search_id)
    counts = dict(s.counts)
    counts["total"] = sum(counts.get(k, 0) for k in (QUEUED, RUNNING, DONE, FAILED, INTERRUPTED))
    counts["finished"] = counts.get(DONE, 0) + counts.get(FAILED, 0)
    span = s.span()
    best = s.best
    out: dict[str, Any] = {
        "store": s.path,
        "search_id": None if s.info is None else s.info.id,
        "name": "" if s.info is None else s.info.name,
        "strategy": s.config.get("strategy"),
        "direction": s.direction,
        "metric": s.metric,
        "seed": s.info.seed if s.info is not None and s.info.seed is not None else s.config.get("seed"),
        "budget": s.config.get("budget"),
        "counts": counts,
        "best_trial_id": None if best is None else best.id,
        "best_number": None if best is None else best.number,
        "best_value": None if best is None else _finite(best.value),
        "best_params": None if best is None else dict(best.params),
        "started": None if span is None else span[0],
        "updated": None if span is None else span[1],
        **s.timing(),
        "failures": [
            {"trial_id": t.id, "number": t.number, "params": dict(t.params), "error": _last_line(t.error)}
            for t in s.failed
        ],
        "running": [
            {"trial_id": t.id, "number": t.number, "worker": t.worker,
             "running_s": None if t.started is None else max(0.0, s.now - t.started)}
            for t in s.trials if t.status == RUNNING
        ],
        "writer": s.writer,
    }
    return jsonable(out, strict=False)


def _fmt_num(v: Any, digits: int = 6) -> str:
    """A number with ``digits`` significant digits; other values as text; None as a dash."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.{digits}g}"
    return str(v)


def _fmt_duration(seconds: float | None) -> str:
    """``0.42 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 07 min``; a dash for None."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds < 10:
        return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        m, sec = divmod(round(seconds), 60)
        return f"{m} min {sec:02d} s"
    h, rest = divmod(round(seconds), 3600)
    return f"{h} h {rest // 60:02d} min"


def _fmt_rate(per_hour: float | None) -> str:
    if per_hour is None:
        return "–"
    return f"{per_hour:.3g}" if per_hour < 1000 else f"{per_hour:,.0f}"


def _fmt_params(params: Mapping[str, Any], limit: int = 200) -> str:
    text = ", ".join(f"{k}={_fmt_num(v, 4) if isinstance(v, float) else repr(v)}" for k, v in params.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt_budget(budget: Any) -> str:
    if isinstance(budget, Mapping):
        return ", ".join(f"{k}={_fmt_num(v)}" for k, v in budget.items() if v is not None) or "–"
    return _fmt_num(budget)


def _counts_text(counts: Mapping[str, int], writer: str | None) -> str:
    """``"5 done (1 cache hits), 0 failed, 2 running, ..."``; with no writer alive, the trials
    still marked running or queued are called what they are: unfinished, for ``resume``."""
    c = counts
    head = f"{c.get(DONE, 0)} done ({c.get('cache_hits', 0)} cache hits), {c.get(FAILED, 0)} failed, "
    unfinished = c.get(RUNNING, 0) + c.get(QUEUED, 0)
    if writer is None and unfinished:
        return (f"{head}{unfinished} unfinished (no driver holds the store: `resume` re-runs them), "
                f"{c.get(INTERRUPTED, 0)} interrupted")
    return f"{head}{c.get(RUNNING, 0)} running, {c.get(QUEUED, 0)} queued, {c.get(INTERRUPTED, 0)} interrupted"


def format_status(summary_dict: Mapping[str, Any]) -> str:
    """A few human-readable lines from a :func:`summary` dict (no trailing newline)."""
    d = summary_dict
    c = d.get("counts") or {}
    if d.get("search_id") is None:
        return f"{d.get('store', 'store')}: no search recorded yet"
    head = f"Search {d['search_id']}"
    if d.get("name"):
        head += f" {d['name']!r}"
    bits = [str(d["strategy"])] if d.get("strategy") else []
    bits.append(f"{d.get('direction', 'minimize')} {d.get('metric', 'value')}")
    if d.get("seed") is not None:
        bits.append(f"seed {d['seed']}")
    if d.get("budget") is not None:
        bits.append(f"budget {_fmt_budget(d['budget'])}")
    lines = [f"{head} ({', '.join(bits)})"]
    lines.append(f"{c.get('total', 0)} trials: {_counts_text(c, d.get('writer'))}")
    if d.get("best_trial_id") is not None:
        lines.append(
            f"Best {d.get('metric', 'value')} {_fmt_num(d.get('best_value'))} -- trial {d['best_trial_id']} "
            f"(#{d.get('best_number')}): {_fmt_params(d.get('best_params') or {})}"
        )
    else:
        lines.append("Best: no finished trial yet")
    timing = [f"elapsed {_fmt_duration(d.get('elapsed_s'))}"]
    if d.get("trials_per_hour") is not None:
        timing.append(f"{_fmt_rate(d['trials_per_hour'])} trials/h")
    if d.get("mean_trial_s") is not None:
        timing.append(f"mean trial {_fmt_duration(d['mean_trial_s'])}")
    if d.get("overhead") is not None:
        timing.append(f"engine overhead {100 * d['overhead']:.1f}%")
    lines.append(", ".join(timing).capitalize())
    failures = d.get("failures") or []
    if failures:
        last = failures[-1]
        lines.append(f"Last failure: trial {last['trial_id']} (#{last['number']}): {last['error']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# plotting helpers
# --------------------------------------------------------------------------- #
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


def _value_axis(ax: Any, s: _Search, values: Sequence[float]) -> None:
    """Label the objective axis; log scale for a minimised value spanning orders of magnitude (a loss)."""
    if s.direction == "minimize" and _log_scale_ok(values):
        ax.set_yscale("log")
    arrow = "lower is better" if s.direction == "minimize" else "higher is better"
    ax.set_ylabel(f"{s.metric} ({arrow})")


def _edge_y(s: _Search) -> float:
    """Axes-fraction height at which failed trials are drawn: the worst edge."""
    return 0.97 if s.direction == "minimize" else 0.03


def _mark_failed(ax: Any, s: _Search, xs: Sequence[float], label: str | None = None) -> None:
    """Red crosses for failed trials at the worst edge (x in data, y in axes coordinates)."""
    if not xs:
        return
    from matplotlib.transforms import blended_transform_factory

    trans = blended_transform_factory(ax.transData, ax.transAxes)
    ax.plot(list(xs), [_edge_y(s)] * len(xs), linestyle="none", marker="x", color=_COLORS[FAILED],
            markersize=6, markeredgewidth=1.5, transform=trans, label=label, zorder=4)


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
        if best is None or _better(v, best, direction):
            best = v
        xs.append(x)
        ys.append(best)
    return xs, ys


def _short(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- #
# the five plots: each returns None when drawn, else why not
# --------------------------------------------------------------------------- #
def _plot_trials(s: _Search, path: Path) -> str | None:
    scored = s.scored
    if not scored:
        return "no finished trial with a value"
    from matplotlib.ticker import MaxNLocator

    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    fresh = [t for t in scored if not t.cache_hit]
    cached = [t for t in scored if t.cache_hit]
    if fresh:
        ax.scatter([t.number for t in fresh], [t.value for t in fresh], s=24, color=_COLORS[DONE], alpha=0.75,
                   label="trial", zorder=3)
    if cached:
        ax.scatter([t.number for t in cached], [t.value for t in cached], s=30, facecolors="none",
                   edgecolors=_COLORS[DONE], linewidths=1.2, label="cache hit", zorder=3)
    xs, ys = _best_steps([(t.number, float(t.value)) for t in scored], s.direction)  # type: ignore[arg-type]
    last = max(t.number for t in s.trials)
    if last > xs[-1]:
        xs, ys = [*xs, last], [*ys, ys[-1]]
    ax.step(xs, ys, where="post", color=_COLORS["best"], linewidth=2, label="best so far", zorder=2)
    best = s.ranked()[0]
    ax.scatter([best.number], [best.value], marker="*", s=220, color=_COLORS["star"], edgecolors="black",
               linewidths=0.8, zorder=5, label=f"best: trial {best.id} ({_fmt_num(best.value, 4)})")
    failed = s.failed
    _mark_failed(ax, s, [t.number for t in failed], label=f"failed ({len(failed)})" if failed else None)
    _value_axis(ax, s, [float(t.value) for t in scored])  # type: ignore[arg-type]
    ax.set_xlabel("trial number")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(x=0.02, y=0.08)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{s.metric} per trial ({s.direction})")
    _legend_outside(ax)
    _save(fig, path)
    return None


def _plot_time(s: _Search, path: Path) -> str | None:
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
    ax.plot(bx, by, linestyle="none", marker="o", markersize=4, color=_COLORS["best"], zorder=4,
            label="best so far (one marker per trial)")
    failed_x = [(float(t.ended) - t0) / scale for t in s.failed if t.ended is not None]
    _mark_failed(ax, s, failed_x, label=f"failed ({len(failed_x)})" if failed_x else None)
    _value_axis(ax, s, values)
    ax.set_xlabel(f"wall time since the first trial started ({unit})")
    ax.set_xlim(left=min(0.0, ax.get_xlim()[0]))
    ax.margins(y=0.08)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"best {s.metric} so far against wall time")
    _legend_outside(ax)
    _save(fig, path)
    return None


def _space(config: Mapping[str, Any]) -> Space | None:
    spec = config.get("space")
    if not isinstance(spec, Mapping):
        return None
    try:
        return Space.from_dict(spec)
    except Exception:  # noqa: BLE001 -- a malformed space only costs the plot its hints
        return None


def _key(v: Any) -> str:
    try:
        return json.dumps(v, sort_keys=True)
    except (TypeError, ValueError):
        return repr(v)


def _param_panels(s: _Search) -> list[dict[str, Any]]:
    """Which parameters to draw and how: name, kind (numeric/categorical), log, options."""
    space = _space(s.config)
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
        elif all(_finite(v) is not None for v in values):
            nums = [float(v) for v in values]
            panels.append({"name": name, "kind": "numeric", "log": _log_scale_ok(nums) and len(set(nums)) >= 3,
                           "int": all(isinstance(v, int) for v in values)})
        else:
            options, keys = [], set()
            for v in sorted(values, key=lambda v: (str(type(v)), str(v))):
                if _key(v) not in keys:
                    keys.add(_key(v))
                    options.append(v)
            panels.append({"name": name, "kind": "categorical", "options": options})
    return panels


def _plot_params(s: _Search, path: Path) -> str | None:
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
            ok = [t for t in ok if _finite(t.params[name]) is not None]
            bad = [t for t in bad if _finite(t.params[name]) is not None]
            ax.scatter([float(t.params[name]) for t in ok], [t.value for t in ok], s=18, color=_COLORS[DONE],
                       alpha=0.7, zorder=3)
            _mark_failed(ax, s, [float(t.params[name]) for t in bad])
            if name in best.params and _finite(best.params[name]) is not None:
                ax.scatter([float(best.params[name])], [best.value], marker="*", s=180, color=_COLORS["star"],
                           edgecolors="black", linewidths=0.8, zorder=5)
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
                ax.boxplot([groups[j] for j in filled], positions=filled, widths=0.55, whis=(0, 100),
                           showfliers=False, patch_artist=True, manage_ticks=False,
                           boxprops={"facecolor": "#d8e6f3", "edgecolor": "#4a6f94"},
                           medianprops={"color": "#1f3f66", "linewidth": 1.5},
                           whiskerprops={"color": "#4a6f94"}, capprops={"color": "#4a6f94"})
            xs = [index[_key(t.params[name])] + rng.uniform(-0.15, 0.15) for t in ok]
            ax.scatter(xs, [t.value for t in ok], s=14, color=_COLORS[DONE], alpha=0.7, zorder=3)
            _mark_failed(ax, s, [index[_key(t.params[name])] + rng.uniform(-0.15, 0.15) for t in bad])
            if name in best.params and _key(best.params[name]) in index:
                ax.scatter([index[_key(best.params[name])]], [best.value], marker="*", s=180,
                           color=_COLORS["star"], edgecolors="black", linewidths=0.8, zorder=5)
            labels = [_short(str(o)) for o in options]
            ax.set_xticks(range(len(options)))
            rotate = len(options) > 4 or max(len(lb) for lb in labels) > 6
            ax.set_xticklabels(labels, rotation=30 if rotate else 0, ha="right" if rotate else "center",
                               fontsize=8)
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


def _generation_size(config: Mapping[str, Any]) -> int:
    """Generation size: ``strategy_settings.population_size``, ``batch_size``, the strategy's default, or 8."""
    settings = config.get("strategy_settings")
    candidates = [settings.get("population_size") if isinstance(settings, Mapping) else None,
                  config.get("batch_size")]
    for v in candidates:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 1 and float(v).is_integer():
            return int(v)
    name = config.get("strategy")
    default = None
    if isinstance(name, str):
        from . import strategies

        try:
            default = inspect.signature(strategies.strategy_class(name)).parameters.get("population_size")
        except (ValueError, TypeError, ImportError):  # unknown strategy: the generic size
            default = None
    if default is not None and isinstance(default.default, int) and default.default >= 1:
        return default.default
    return 8


def _plot_generations(s: _Search, path: Path) -> str | None:
    scored = s.scored
    if not scored:
        return "no finished trial with a value"
    from matplotlib.ticker import MaxNLocator

    size = _generation_size(s.config)
    groups: dict[int, list[float]] = {}
    for t in scored:
        groups.setdefault(t.number // size, []).append(float(t.value))  # type: ignore[arg-type]
    gens = sorted(groups)
    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    ax.boxplot([groups[g] for g in gens], positions=gens, widths=0.6, whis=(0, 100), showfliers=False,
               patch_artist=True, manage_ticks=False,
               boxprops={"facecolor": "#d8e6f3", "edgecolor": "#4a6f94"},
               medianprops={"color": "#1f3f66", "linewidth": 1.5},
               whiskerprops={"color": "#4a6f94"}, capprops={"color": "#4a6f94"})
    pick = max if s.direction == "maximize" else min
    ax.plot(gens, [pick(groups[g]) for g in gens], marker="o", markersize=4, color=_COLORS[DONE],
            linewidth=1.2, label="generation best", zorder=3)
    bx, by = _best_steps([(g, pick(groups[g])) for g in gens], s.direction)
    ax.plot(bx, by, linestyle="--", color=_COLORS["best"], linewidth=1.8, label="best so far", zorder=4)
    failed = s.failed
    if failed:
        jitter = [((t.number % size) / max(size - 1, 1) - 0.5) * 0.5 for t in failed]
        _mark_failed(ax, s, [t.number // size + j for t, j in zip(failed, jitter)],
                     label=f"failed ({len(failed)})")
    _value_axis(ax, s, [v for g in gens for v in groups[g]])
    ax.set_xlabel(f"generation (blocks of {size} trials in trial order)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    xs_all = gens + [t.number // size for t in failed]
    ax.set_xlim(min(xs_all) - 0.7, max(xs_all) + 0.7)
    ax.margins(y=0.08)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{s.metric} per generation: min / median / max")
    _legend_outside(ax)
    _save(fig, path)
    return None


def _natural(text: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def _worker_slot(worker: str | None) -> str:
    """The timeline row of a worker: recycled processes ``workerN.M`` of a pool share the row ``workerN``."""
    if not worker:
        return "(no worker)"
    m = re.fullmatch(r"(worker\d+)\.\d+", worker)
    return m.group(1) if m else worker


def _plot_workers(s: _Search, path: Path) -> str | None:
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
            ax.broken_barh([((a - t0) / scale, width)], (row - 0.38, 0.76), facecolors=color,
                           edgecolors=edge, linewidth=0.6)
            if (b - a) / total > 0.035 and len(rows[name]) <= 120:
                ax.text((a - t0 + (b - a) / 2) / scale, row, str(t.number), ha="center", va="center",
                        fontsize=7, color="white", clip_on=True)
    labels = []
    for name in names:
        busy = _union_length([(a, b) for _, a, b in rows[name]]) / total
        labels.append(f"{_short(name, 18)}\n{100 * busy:.0f}% busy")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(0, total / scale * 1.01)
    ax.set_xlabel(f"wall time since the first trial started ({unit})")
    ax.grid(True, axis="x", alpha=0.3)
    order = [DONE, FAILED, RUNNING, INTERRUPTED, QUEUED]
    handles = [Patch(facecolor=_COLORS[k], label=k) for k in order if k in statuses]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(names) < 4 else -0.08),
              ncol=len(handles), fontsize=8, frameon=False)
    overhead = s.timing()["overhead"]
    extra = f"; engine overhead (no worker busy) {100 * overhead:.1f}%" if overhead is not None else ""
    plural = "s" if len(names) != 1 else ""
    ax.set_title(f"worker timeline: {len(intervals)} trials on {len(names)} worker{plural}{extra}", fontsize=10)
    _save(fig, path)
    return None


_PLOTTERS = {
    "best_so_far_trials": _plot_trials,
    "best_so_far_time": _plot_time,
    "params": _plot_params,
    "generations": _plot_generations,
    "workers": _plot_workers,
}


# --------------------------------------------------------------------------- #
# Markdown
# --------------------------------------------------------------------------- #
def _md_escape(text: Any) -> str:
    """Text safe inside a Markdown table cell or paragraph."""
    out = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("`", "\\`")
    out = out.replace("[", "\\[").replace("]", "\\]")
    return " ".join(out.split())


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> list[str]:
    lines = ["| " + " | ".join(_md_escape(h) for h in header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return lines


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return _fmt_num(v, 4)
    if v is None:
        return "None"
    return str(v)


def _is_bulky(v: Any) -> bool:
    if isinstance(v, (Mapping, list, tuple, set)):
        return True
    return len(str(v)) > _MAX_METRIC_CHARS


def _config_rows(s: _Search) -> list[tuple[str, str]]:
    c = s.config
    rows: list[tuple[str, str]] = []
    if s.info is not None:
        rows.append(("search", f"{s.info.id}" + (f" ({s.info.name})" if s.info.name else "")))
        rows.append(("created", _dt.datetime.fromtimestamp(s.info.created).strftime("%Y-%m-%d %H:%M:%S")))
    known = [("strategy", "strategy"), ("direction", None), ("metric", None), ("seed", None), ("budget", "budget"),
             ("executor", "executor"), ("workers", "workers"), ("synchronous", "synchronous"),
             ("batch_size", "batch_size"), ("strategy_settings", "strategy_settings")]
    for key, src in known:
        if key == "direction":
            rows.append(("direction", s.direction))
        elif key == "metric":
            rows.append(("metric", s.metric))
        elif key == "seed":
            seed = s.info.seed if s.info is not None and s.info.seed is not None else c.get("seed")
            rows.append(("seed", _fmt_num(seed)))
        elif src in c:
            v = c[src]
            text = _fmt_budget(v) if key == "budget" else (
                json.dumps(jsonable(v, strict=False), sort_keys=True) if isinstance(v, (Mapping, list)) else _fmt_num(v))
            rows.append((key, text))
    shown = {k for k, _ in known} | {"space"}
    for key in sorted(k for k in c if k not in shown):
        text = json.dumps(jsonable(c[key], strict=False), sort_keys=True) if not isinstance(c[key], str) else c[key]
        rows.append((key, text if len(text) <= 120 else text[:119] + "…"))
    return rows


def _space_rows(s: _Search) -> list[tuple[str, str]]:
    space = _space(s.config)
    if space is None:
        return []
    rows = []
    for name, p in space.items():
        cond = f" (if {json.dumps(p.active_if)})" if getattr(p, "active_if", None) else ""
        rows.append((name, p.describe() + cond))
    return rows


def _trial_note(t: Trial) -> str:
    return f"cache hit of trial {t.cached_from}" if t.cache_hit else ""


def _title(s: _Search) -> str:
    if s.info is None:
        return "Hyperparameter search report: no search"
    title = f"Hyperparameter search report: search {s.info.id}"
    return title + (f" ({s.info.name})" if s.info.name else "")


def _build_markdown(s: _Search, top: int, plots: Mapping[str, Path], skipped: Mapping[str, str],
                    extra_sections: Sequence[tuple[str, str]]) -> str:
    title = _title(s)
    generated = _dt.datetime.fromtimestamp(s.now).strftime("%Y-%m-%d %H:%M:%S")
    md: list[str] = [f"# {_md_escape(title)}", "",
                     f"Store `{s.path}`, generated {generated}.", ""]

    # -- summary --------------------------------------------------------------
    c = s.counts
    timing = s.timing()
    finished = c.get(DONE, 0) + c.get(FAILED, 0)
    total = sum(c.get(k, 0) for k in (QUEUED, RUNNING, DONE, FAILED, INTERRUPTED))
    md += ["## Summary", ""]
    if s.best is not None:
        md.append(f"- **Best {_md_escape(s.metric)}: {_fmt_num(s.best.value)}** — trial {s.best.id} "
                  f"(#{s.best.number}): {_md_escape(_fmt_params(s.best.params, 400))}")
    else:
        md.append("- **Best:** no finished trial with a value yet")
    md += [
        f"- Trials: {total} — {_counts_text(c, s.writer)}",
        f"- Wall time: {_fmt_duration(timing['elapsed_s'])} (first trial start to last trial end)",
        f"- Throughput: {_fmt_rate(timing['trials_per_hour'])} finished trials per hour ({finished} finished)",
        f"- Mean trial duration: {_fmt_duration(timing['mean_trial_s'])} (cache hits excluded)",
    ]
    if timing["overhead"] is not None:
        md.append(f"- Engine overhead: {100 * timing['overhead']:.1f}% of the wall time no worker was running "
                  f"a trial")
    else:
        md.append("- Engine overhead: – (no trial times)")
    md.append("")

    # -- configuration --------------------------------------------------------
    md += ["## Configuration", ""]
    md += _md_table(["setting", "value"], _config_rows(s))
    md.append("")
    space_rows = _space_rows(s)
    if space_rows:
        md += ["### Search space", ""]
        md += _md_table(["parameter", "values"], space_rows)
        md.append("")

    # -- best trial -----------------------------------------------------------
    md += ["## Best trial", ""]
    best = s.best
    if best is None:
        md += ["No trial has finished with a value yet.", ""]
    else:
        facts = [("trial id", str(best.id)), ("trial number", str(best.number)),
                 (s.metric, _fmt_num(best.value)), ("duration", _fmt_duration(best.duration)),
                 ("worker", best.worker or "–"), ("device", best.device or "–"), ("seed", _fmt_num(best.seed))]
        if best.cache_hit:
            facts.append(("note", _trial_note(best)))
        md += _md_table(["field", "value"], facts)
        md += ["", "Parameters:", ""]
        md += _md_table(["parameter", "value"], [(k, _cell(v)) for k, v in best.params.items()])
        metrics = {k: v for k, v in (best.metrics or {}).items() if not _is_bulky(v)}
        left_out = sorted(k for k in (best.metrics or {}) if k not in metrics)
        if metrics:
            md += ["", "Metrics:", ""]
            md += _md_table(["metric", "value"], [(k, _cell(v)) for k, v in metrics.items()])
        if left_out:
            md += ["", f"Bulky metrics not shown: {_md_escape(', '.join(left_out))}."]
        md.append("")

    # -- top trials -----------------------------------------------------------
    ranked = s.ranked()[: max(int(top), 0)]
    md += [f"## Top {len(ranked)} trials", ""]
    if not ranked:
        md += ["No trial has finished with a value yet.", ""]
    else:
        space = _space(s.config)
        fixed = {n for n, p in space.items() if isinstance(p, Fixed)} if space is not None else set()
        pnames: list[str] = []
        for t in ranked:
            pnames += [k for k in t.params if k not in pnames and k not in fixed]
        header = ["rank", "trial", "#", s.metric, *pnames, "duration", "worker"]
        rows = []
        for rank, t in enumerate(ranked, 1):
            trial = f"{t.id}" + (f" (cache of {t.cached_from})" if t.cache_hit else "")
            rows.append([rank, trial, t.number, _fmt_num(t.value), *(_cell(t.params[p]) if p in t.params else "–"
                                                                      for p in pnames),
                         "cached" if t.cache_hit else _fmt_duration(t.duration), t.worker or "–"])
        md += _md_table(header, rows, right=(0, 2, 3))
        md.append("")

    # -- failures -------------------------------------------------------------
    failed = s.failed
    md += [f"## Failed trials ({len(failed)})", ""]
    if not failed:
        md += ["No trial failed.", ""]
    else:
        md += _md_table(["trial", "#", "params", "worker", "last line of the error"],
                        [(t.id, t.number, _fmt_params(t.params, 160), t.worker or "–", _last_line(t.error))
                         for t in failed])
        md += ["", "Full tracebacks are in the store (`Trial.error`).", ""]
    interrupted = [t for t in s.trials if t.status == INTERRUPTED]
    if interrupted:
        md += [f"Interrupted trials (re-run on resume): {', '.join(str(t.id) for t in interrupted)}.", ""]

    # -- plots ----------------------------------------------------------------
    md += ["## Plots", ""]
    for key in PLOTS:
        if key in plots:
            md += [f"### {_PLOT_TITLES[key]}", "", _PLOT_CAPTIONS[key], "",
                   f"![{_PLOT_TITLES[key]}]({plots[key].name})", ""]
    if skipped:
        md += ["Plots not drawn:", ""]
        md += [f"- {PLOTS[k]}: {_md_escape(why)}" for k, why in skipped.items()]
        md.append("")

    # -- caller's sections ----------------------------------------------------
    for title_, body in extra_sections:
        md += [f"## {_md_escape(title_)}", "", str(body).strip(), ""]
    return "\n".join(md).rstrip() + "\n"


# --------------------------------------------------------------------------- #
# a small Markdown -> HTML converter (the subset the report uses)
# --------------------------------------------------------------------------- #
_ESCAPABLE = "\\`*_{}[]()#+-.!|<>"
_TABLE_SEP = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def _inline(text: str) -> str:
    """Inline Markdown (escapes, code, images, links, bold, italic) to HTML."""
    slots: list[str] = []

    def keep(html_text: str) -> str:
        slots.append(html_text)
        return f"\x00{len(slots) - 1}\x00"

    text = re.sub(r"\\([" + re.escape(_ESCAPABLE) + r"])", lambda m: keep(_html.escape(m.group(1))), text)
    text = re.sub(r"(`+)(.+?)\1", lambda m: keep(f"<code>{_html.escape(m.group(2).strip())}</code>"), text)
    text = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)(?:\s+\"([^\"]*)\")?\)",
                  lambda m: keep(f'<img src="{_html.escape(m.group(2))}" alt="{_html.escape(m.group(1))}">'), text)
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)",
                  lambda m: keep(f'<a href="{_html.escape(m.group(2))}">') + m.group(1) + keep("</a>"), text)
    text = _html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: slots[int(m.group(1))], text)


def _cells(line: str) -> list[str]:
    line = line.strip().removeprefix("|")
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)]


def _cell_html(tag: str, text: str, j: int, aligns: Sequence[str]) -> str:
    style = ' style="text-align:right"' if j < len(aligns) and aligns[j] == "right" else ""
    return f"<{tag}{style}>{_inline(text)}</{tag}>"


def markdown_to_html(markdown: str) -> str:
    """The HTML body for ``markdown`` (headings, paragraphs, lists, tables, code blocks, images, links)."""
    lines = markdown.splitlines()
    out: list[str] = []
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            out.append(f"<p>{_inline(' '.join(p.strip() for p in para))}</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
        elif stripped.startswith("```"):
            flush()
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            out.append(f"<pre><code>{_html.escape(chr(10).join(body))}</code></pre>")
            i += 1
        elif m := re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", stripped):
            flush()
            level = len(m.group(1))
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
            i += 1
        elif re.fullmatch(r"(-{3,}|\*{3,}|_{3,})", stripped):
            flush()
            out.append("<hr>")
            i += 1
        elif stripped.startswith("|") and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1].strip()):
            flush()
            header = _cells(stripped)
            aligns = ["right" if c.strip().endswith(":") else "" for c in _cells(lines[i + 1].strip())]
            i += 2
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1

            out.append("<table>")
            if any(header):
                out.append("<thead><tr>" + "".join(_cell_html("th", h, j, aligns) for j, h in enumerate(header))
                           + "</tr></thead>")
            out.append("<tbody>")
            out += ["<tr>" + "".join(_cell_html("td", c, j, aligns) for j, c in enumerate(r)) + "</tr>" for r in rows]
            out.append("</tbody></table>")
        elif _LIST_ITEM.match(line):
            flush()
            ordered = bool(re.match(r"^\s*\d+[.)]\s+", line))
            tag = "ol" if ordered else "ul"
            items: list[str] = []
            while i < len(lines) and lines[i].strip():
                if _LIST_ITEM.match(lines[i]):
                    items.append(_LIST_ITEM.sub("", lines[i], count=1).strip())
                else:  # a continuation line
                    items[-1] += " " + lines[i].strip()
                i += 1
            out.append(f"<{tag}>" + "".join(f"<li>{_inline(it)}</li>" for it in items) + f"</{tag}>")
        else:
            para.append(line)
            i += 1
    flush()
    return "\n".join(out)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #eee; padding-bottom: .2em; margin-top: 1.6em; }
h3 { font-size: 1.1em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f6f8; }
tr:nth-child(even) td { background: #fafbfc; }
code { background: #f2f2f2; padding: 0 .25em; border-radius: 3px; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
"""


def _html_page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- #
# the report
# --------------------------------------------------------------------------- #
def _draw(key: str, s: _Search, path: Path) -> str | None:
    """Draw one plot; None when drawn, else why not (a drawing error is reported, not raised)."""
    try:
        return _PLOTTERS[key](s, path)
    except Exception as exc:  # noqa: BLE001 -- one bad plot must not cost the whole report
        why = f"drawing failed ({type(exc).__name__}: {exc})"
        warnings.warn(f"hpo.report: {PLOTS[key]} not drawn: {why}", RuntimeWarning, stacklevel=3)
        return why


def write_report(
    store: TrialStore | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    direction: str | None = None,
    top: int = 10,
    search_id: int | None = None,
    extra_sections: Sequence[tuple[str, str]] = (),
    plots: bool = True,
) -> ReportFiles:
    """Write the plots, ``report.md`` and ``report.html`` of a search into ``out_dir``.

    Args:
        store: The trial store (or the path of one, opened and closed here).
        out_dir: The report folder, created if needed; files of an earlier report there
            are replaced (a plot skipped this time has its old file removed).
        direction: ``"minimize"`` or ``"maximize"``. Defaults to the search config's
            ``direction``, else ``"minimize"``. The objective is named after the config's
            ``metric`` (default ``"value"``).
        top: How many of the best trials the top table lists. Defaults to `10`.
        search_id: Which search of the store. Defaults to the latest.
        extra_sections: ``(title, markdown)`` pairs appended to the report as ``##``
            sections (e.g. Grad-CAM images written into ``out_dir`` and linked relatively).
        plots: Draw the PNG plots. Defaults to `True`; `False` writes the text only (fast,
            no matplotlib).

    Returns:
        A :class:`ReportFiles` with the paths written and the plots skipped (and why).

    Raises:
        StoreError: when ``search_id`` names no search of the store.
        ValueError: on an unknown ``direction``.
    """
    if not isinstance(store, TrialStore):
        with TrialStore(store) as opened:
            return write_report(opened, out_dir, direction=direction, top=top, search_id=search_id,
                                extra_sections=extra_sections, plots=plots)
    s = _load(store, direction, search_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    for key, filename in PLOTS.items():
        path = out / filename
        why = _draw(key, s, path) if plots else "plots were not requested"
        if why is None:
            drawn[key] = path
        else:
            skipped[key] = why
            path.unlink(missing_ok=True)  # an earlier report's plot would mislead
    markdown = _build_markdown(s, top, drawn, skipped, extra_sections)
    md_path = out / "report.md"
    md_path.write_text(markdown, encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(_html_page(_title(s), markdown_to_html(markdown)), encoding="utf-8")
    return ReportFiles(out_dir=out, markdown=md_path, html=html_path, plots=drawn, skipped=skipped)

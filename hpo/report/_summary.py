"""Key figures of a search as plain JSON (:func:`summary`) and as a few lines of text (:func:`format_status`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..store import TrialStore, jsonable
from ..trial import FINISHED_STATUSES, RUNNING, TRIAL_STATUSES
from ._format import counts_text, fmt_duration, fmt_num, fmt_params, fmt_rate, fmt_settings, last_line
from ._search import SearchView, finite, load


def summary(store: TrialStore, *, direction: str | None = None, search_id: int | None = None) -> dict[str, Any]:
    """Key figures of a search as plain JSON types (``json.dumps`` works on the result).

    Args:
        store: The trial store.
        direction: ``"minimize"`` or ``"maximize"``. Defaults to the search's
            (:attr:`~hpo.store.SearchInfo.direction`).
        search_id: Which search. Defaults to the latest.

    Returns:
        A dict with ``store``, ``search_id``, ``name``, ``strategy``, ``direction``,
        ``metric``, ``seed``, ``budget`` (strategy and budget as the search loop recorded
        them: :attr:`~hpo.store.SearchInfo.engine`), ``counts`` (``store.counts()`` plus ``total``
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
    return summarize(load(store, direction, search_id))


def summarize(s: SearchView) -> dict[str, Any]:
    """The figures of :func:`summary` for a search already loaded (the live dashboard's progress)."""
    counts = dict(s.counts)
    counts["total"] = sum(counts.get(k, 0) for k in TRIAL_STATUSES)
    counts["finished"] = sum(counts.get(k, 0) for k in FINISHED_STATUSES)
    span = s.span()
    best = s.best
    out: dict[str, Any] = {
        "store": s.path,
        "search_id": None if s.info is None else s.info.id,
        "name": "" if s.info is None else s.info.name,
        "strategy": s.engine.get("strategy"),
        "direction": s.direction,
        "metric": s.metric,
        "seed": s.seed,
        "budget": s.engine.get("budget"),
        "counts": counts,
        "best_trial_id": None if best is None else best.id,
        "best_number": None if best is None else best.number,
        "best_value": None if best is None else finite(best.value),
        "best_params": None if best is None else dict(best.params),
        "started": None if span is None else span[0],
        "updated": None if span is None else span[1],
        **s.timing(),
        "failures": [
            {"trial_id": t.id, "number": t.number, "params": dict(t.params), "error": last_line(t.error)}
            for t in s.failed
        ],
        "running": [
            {
                "trial_id": t.id,
                "number": t.number,
                "worker": t.worker,
                "running_s": None if t.started is None else max(0.0, s.now - t.started),
            }
            for t in s.trials
            if t.status == RUNNING
        ],
        "writer": s.writer,
    }
    return jsonable(out, strict=False)


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
        bits.append(f"budget {fmt_settings(d['budget'])}")
    lines = [f"{head} ({', '.join(bits)})"]
    lines.append(f"{c.get('total', 0)} trials: {counts_text(c, d.get('writer'))}")
    if d.get("best_trial_id") is not None:
        lines.append(
            f"Best {d.get('metric', 'value')} {fmt_num(d.get('best_value'))} -- trial {d['best_trial_id']} "
            f"(#{d.get('best_number')}): {fmt_params(d.get('best_params') or {})}"
        )
    else:
        lines.append("Best: no finished trial yet")
    timing = [f"elapsed {fmt_duration(d.get('elapsed_s'))}"]
    if d.get("trials_per_hour") is not None:
        timing.append(f"{fmt_rate(d['trials_per_hour'])} trials/h")
    if d.get("mean_trial_s") is not None:
        timing.append(f"mean trial {fmt_duration(d['mean_trial_s'])}")
    if d.get("overhead") is not None:
        timing.append(f"engine overhead {100 * d['overhead']:.1f}%")
    lines.append(", ".join(timing).capitalize())
    failures = d.get("failures") or []
    if failures:
        last = failures[-1]
        lines.append(f"Last failure: trial {last['trial_id']} (#{last['number']}): {last['error']}")
    return "\n".join(lines)

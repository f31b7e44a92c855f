"""Text for people: numbers, durations, params, budgets and trial counts, for the status lines and the report."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..trial import DONE, FAILED, INTERRUPTED, PRUNED, QUEUED, RUNNING


def last_line(error: str | None, limit: int = 300) -> str:
    """The last non-blank line of an error text (a traceback's message), cut at ``limit`` characters."""
    lines = [ln.strip() for ln in (error or "").strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else "(no error text)"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def fmt_num(v: Any, digits: int = 6) -> str:
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


def fmt_duration(seconds: float | None) -> str:
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


def fmt_rate(per_hour: float | None) -> str:
    if per_hour is None:
        return "–"
    return f"{per_hour:.3g}" if per_hour < 1000 else f"{per_hour:,.0f}"


def fmt_params(params: Mapping[str, Any], limit: int = 200) -> str:
    text = ", ".join(f"{k}={fmt_num(v, 4) if isinstance(v, float) else repr(v)}" for k, v in params.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_settings(settings: Any) -> str:
    """A budget or a strategy's settings as ``key=value, ...`` (None values left out); anything else as a number."""
    if isinstance(settings, Mapping):
        return ", ".join(f"{k}={fmt_num(v)}" for k, v in settings.items() if v is not None) or "–"
    return fmt_num(settings)


def counts_text(counts: Mapping[str, int], writer: str | None) -> str:
    """``"5 done (1 cache hits), 0 failed, 2 running, ..."``; with no writer alive, the trials
    still marked running or queued are called what they are: unfinished, for ``resume``."""
    c = counts
    pruned = f"{c[PRUNED]} pruned, " if c.get(PRUNED) else ""
    head = f"{c.get(DONE, 0)} done ({c.get('cache_hits', 0)} cache hits), {pruned}{c.get(FAILED, 0)} failed, "
    unfinished = c.get(RUNNING, 0) + c.get(QUEUED, 0)
    if writer is None and unfinished:
        return (
            f"{head}{unfinished} unfinished (no driver holds the store: `resume` re-runs them), "
            f"{c.get(INTERRUPTED, 0)} interrupted"
        )
    return f"{head}{c.get(RUNNING, 0)} running, {c.get(QUEUED, 0)} queued, {c.get(INTERRUPTED, 0)} interrupted"


def short(text: str, limit: int = 14) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""The report itself: ``report.md`` (Markdown), ``report.html`` (the same as a page) and :func:`write_report`.

The Markdown is built here from a :class:`~hpo.report._search.SearchView`; the page is
that Markdown rendered by markdown-it-py (CommonMark with tables, raw HTML off: text
from the store is always escaped) inside the Jinja2 template ``page.html.j2`` of this
package, which carries its own CSS: the page needs no network and no other file than
its images.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..space import Fixed
from ..store import TrialStore, jsonable
from ..trial import FINISHED_STATUSES, INTERRUPTED, TRIAL_STATUSES, Trial
from ._format import counts_text, fmt_duration, fmt_num, fmt_params, fmt_rate, fmt_settings, last_line
from ._plots import PLOT_CAPTIONS, PLOT_TITLES, PLOTS, draw
from ._search import SearchView, load

#: The page template, a file of this package.
TEMPLATE = "page.html.j2"
#: Metrics values longer than this (as text) are left out of the report as bulky.
_MAX_METRIC_CHARS = 120
#: Longest value text in the configuration tables.
_MAX_VALUE_CHARS = 120
#: Engine record keys listed in the configuration table after strategy, direction, metric and seed, in order.
_ENGINE_KEYS = ("budget", "executor", "workers", "synchronous", "batch_size", "strategy_settings")
#: How many pruned trials the report lists (the most recent ones).
_PRUNED_LISTED = 20
#: Application configuration keys are joined down to this depth (``key.sub``); deeper values show as JSON.
_CONFIG_DEPTH = 2


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
# Markdown
# --------------------------------------------------------------------------- #
_MD_SPECIAL = re.compile(r"([\\`*\[\]|<])")
# An underscore that could open or close emphasis (one inside a word, as in val_loss, cannot).
_MD_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# An ampersand that would start an entity reference (&amp; &#38;).
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")


def _md_escape(text: Any) -> str:
    """Text safe inside a Markdown table cell or paragraph: one line, read literally."""
    out = _MD_SPECIAL.sub(r"\\\1", str(text))
    out = _MD_UNDERSCORE.sub(r"\\_", out)
    out = _MD_ENTITY.sub(r"\\&", out)
    return " ".join(out.split())


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> list[str]:
    lines = [
        "| " + " | ".join(_md_escape(h) for h in header) + " |",
        "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return lines


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return fmt_num(v, 4)
    if v is None:
        return "None"
    return str(v)


def _is_bulky(v: Any) -> bool:
    if isinstance(v, (Mapping, list, tuple, set)):
        return True
    return len(str(v)) > _MAX_METRIC_CHARS


def _json_text(value: Any) -> str:
    """A value as one line of text: strings as they are, anything else as compact JSON, cut to length."""
    text = value if isinstance(value, str) else json.dumps(jsonable(value, strict=False), sort_keys=True)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def _engine_rows(s: SearchView) -> list[tuple[str, str]]:
    """The search's facts as the engine recorded them (the store's search row and the loop's record)."""
    e = s.engine
    rows: list[tuple[str, str]] = []
    if s.info is not None:
        rows.append(("search", f"{s.info.id}" + (f" ({s.info.name})" if s.info.name else "")))
        rows.append(("created", _dt.datetime.fromtimestamp(s.info.created).strftime("%Y-%m-%d %H:%M:%S")))
    if "strategy" in e:
        rows.append(("strategy", fmt_num(e["strategy"])))
    rows += [("direction", s.direction), ("metric", s.metric), ("seed", fmt_num(s.seed))]
    for key in _ENGINE_KEYS:
        value = e.get(key)
        if value is not None:
            text = (
                fmt_settings(value)
                if isinstance(value, Mapping)
                else (_json_text(value) if isinstance(value, list) else fmt_num(value))
            )
            rows.append((key, text))
    pruner = e.get("pruner")
    if isinstance(pruner, Mapping):
        rows.append(("pruner", f"{pruner.get('name')} ({fmt_settings(pruner.get('settings') or {})})"))
    shown = {"strategy", "seed", "space", "pruner", *_ENGINE_KEYS}
    rows += [(key, _json_text(e[key])) for key in sorted(e) if key not in shown]  # keys of a newer engine
    return rows


def _flatten(config: Mapping[str, Any], depth: int = _CONFIG_DEPTH, prefix: str = "") -> list[tuple[str, str]]:
    """``(key.sub, value text)`` rows of a nested mapping, in its own order, joined down to ``depth`` keys.

    How the application's configuration is shown: without knowing any of its keys.
    """
    rows: list[tuple[str, str]] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and depth > 1:
            rows += _flatten(value, depth - 1, name + ".")
        else:
            rows.append((name, _json_text(value)))
    return rows


def _space_rows(s: SearchView) -> list[tuple[str, str]]:
    space = s.space()
    if space is None:
        return []
    rows = []
    for name, p in space.items():
        cond = f" (if {json.dumps(p.active_if)})" if getattr(p, "active_if", None) else ""
        rows.append((name, p.describe() + cond))
    return rows


def _trial_note(t: Trial) -> str:
    return f"cache hit of trial {t.cached_from}" if t.cache_hit else ""


def _title(s: SearchView) -> str:
    if s.info is None:
        return "Hyperparameter search report: no search"
    title = f"Hyperparameter search report: search {s.info.id}"
    return title + (f" ({s.info.name})" if s.info.name else "")


def _build_markdown(
    s: SearchView,
    top: int,
    plots: Mapping[str, Path],
    skipped: Mapping[str, str],
    extra_sections: Sequence[tuple[str, str]],
) -> str:
    title = _title(s)
    generated = _dt.datetime.fromtimestamp(s.now).strftime("%Y-%m-%d %H:%M:%S")
    md: list[str] = [f"# {_md_escape(title)}", "", f"Store `{s.path}`, generated {generated}.", ""]

    # -- summary --------------------------------------------------------------
    c = s.counts
    timing = s.timing()
    finished = sum(c.get(k, 0) for k in FINISHED_STATUSES)
    total = sum(c.get(k, 0) for k in TRIAL_STATUSES)
    md += ["## Summary", ""]
    if s.best is not None:
        md.append(
            f"- **Best {_md_escape(s.metric)}: {fmt_num(s.best.value)}** — trial {s.best.id} "
            f"(#{s.best.number}): {_md_escape(fmt_params(s.best.params, 400))}"
        )
    else:
        md.append("- **Best:** no finished trial with a value yet")
    md += [
        f"- Trials: {total} — {counts_text(c, s.writer)}",
        f"- Wall time: {fmt_duration(timing['elapsed_s'])} (first trial start to last trial end)",
        f"- Throughput: {fmt_rate(timing['trials_per_hour'])} finished trials per hour ({finished} finished)",
        f"- Mean trial duration: {fmt_duration(timing['mean_trial_s'])} (cache hits excluded)",
    ]
    if timing["overhead"] is not None:
        md.append(f"- Engine overhead: {100 * timing['overhead']:.1f}% of the wall time no worker was running a trial")
    else:
        md.append("- Engine overhead: – (no trial times)")
    md.append("")

    # -- configuration --------------------------------------------------------
    md += ["## Configuration", ""]
    md += _md_table(["setting", "value"], _engine_rows(s))
    md.append("")
    space_rows = _space_rows(s)
    if space_rows:
        md += ["### Search space", ""]
        md += _md_table(["parameter", "values"], space_rows)
        md.append("")
    if s.config:
        md += [
            "### Application configuration",
            "",
            "As the application recorded it with the search (nested keys joined by dots).",
            "",
        ]
        md += _md_table(["key", "value"], _flatten(s.config))
        md.append("")

    # -- best trial -----------------------------------------------------------
    md += ["## Best trial", ""]
    best = s.best
    if best is None:
        md += ["No trial has finished with a value yet.", ""]
    else:
        facts = [
            ("trial id", str(best.id)),
            ("trial number", str(best.number)),
            (s.metric, fmt_num(best.value)),
            ("duration", fmt_duration(best.duration)),
            ("worker", best.worker or "–"),
            ("device", best.device or "–"),
            ("seed", fmt_num(best.seed)),
        ]
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
        space = s.space()
        fixed = {n for n, p in space.items() if isinstance(p, Fixed)} if space is not None else set()
        pnames: list[str] = []
        for t in ranked:
            pnames += [k for k in t.params if k not in pnames and k not in fixed]
        header = ["rank", "trial", "#", s.metric, *pnames, "duration", "worker"]
        rows = []
        for rank, t in enumerate(ranked, 1):
            trial = f"{t.id}" + (f" (cache of {t.cached_from})" if t.cache_hit else "")
            rows.append(
                [
                    rank,
                    trial,
                    t.number,
                    fmt_num(t.value),
                    *(_cell(t.params[p]) if p in t.params else "–" for p in pnames),
                    "cached" if t.cache_hit else fmt_duration(t.duration),
                    t.worker or "–",
                ]
            )
        md += _md_table(header, rows, right=(0, 2, 3))
        md.append("")

    # -- several objectives ---------------------------------------------------
    if s.objectives:
        front = s.pareto()
        names = [m for m, _ in s.objectives]
        arrows = ["↑" if d == "maximize" else "↓" for _, d in s.objectives]
        md += [f"## Pareto front ({len(front)} trials)", ""]
        md += [
            "Objectives: "
            + ", ".join(f"{_md_escape(m)} ({d})" for m, d in s.objectives)
            + ". No other done trial is at least as good in every objective and better in one; "
            "`keras-geo-hpo export STORE --trial ID` writes any of these models.",
            "",
        ]
        if front:
            md += _md_table(
                ["trial", "#", *(f"{n} {a}" for n, a in zip(names, arrows)), "params"],
                [(t.id, t.number, *(fmt_num(v) for v in values), fmt_params(t.params, 160)) for t, values in front],
                right=tuple(range(2 + len(names))),
            )
        else:
            md += ["No done trial has every objective yet."]
        md.append("")

    # -- failures -------------------------------------------------------------
    failed = s.failed
    md += [f"## Failed trials ({len(failed)})", ""]
    if not failed:
        md += ["No trial failed.", ""]
    else:
        md += _md_table(
            ["trial", "#", "params", "worker", "last line of the error"],
            [(t.id, t.number, fmt_params(t.params, 160), t.worker or "–", last_line(t.error)) for t in failed],
        )
        md += ["", "Full tracebacks are in the store (`Trial.error`).", ""]
    pruned = s.pruned
    if pruned:
        shown = pruned[-_PRUNED_LISTED:]
        md += [f"## Pruned trials ({len(pruned)})", ""]
        md += [
            "Stopped early by the pruner; each is told to the strategy with the last value it reported"
            + (f" (the last {len(shown)} listed)." if len(shown) < len(pruned) else "."),
            "",
        ]
        md += _md_table(
            ["trial", "#", "stopped after step", f"last {s.metric}", "params"],
            [
                (
                    t.id,
                    t.number,
                    t.intermediate[-1][0] if t.intermediate else "–",
                    fmt_num(t.value),
                    fmt_params(t.params, 160),
                )
                for t in shown
            ],
            right=(0, 1, 2, 3),
        )
        md.append("")
    interrupted = [t for t in s.trials if t.status == INTERRUPTED]
    if interrupted:
        md += [f"Interrupted trials (re-run on resume): {', '.join(str(t.id) for t in interrupted)}.", ""]

    # -- plots ----------------------------------------------------------------
    md += ["## Plots", ""]
    for key in PLOTS:
        if key in plots:
            md += [
                f"### {PLOT_TITLES[key]}",
                "",
                PLOT_CAPTIONS[key],
                "",
                f"![{PLOT_TITLES[key]}]({plots[key].name})",
                "",
            ]
    if skipped:
        md += ["Plots not drawn:", ""]
        md += [f"- {PLOTS[k]}: {_md_escape(why)}" for k, why in skipped.items()]
        md.append("")

    # -- caller's sections ----------------------------------------------------
    for title_, body in extra_sections:
        md += [f"## {_md_escape(title_)}", "", str(body).strip(), ""]
    return "\n".join(md).rstrip() + "\n"


# --------------------------------------------------------------------------- #
# HTML
# --------------------------------------------------------------------------- #
@functools.cache
def _markdown_parser() -> Any:
    from markdown_it import MarkdownIt

    # CommonMark plus tables; raw HTML off (escaped as text); "<img ...>" rather than "<img ... />".
    return MarkdownIt("commonmark", {"html": False, "xhtmlOut": False}).enable("table")


def markdown_to_html(markdown: str) -> str:
    """The HTML body for ``markdown`` (CommonMark and tables; raw HTML in it is escaped as text)."""
    return _markdown_parser().render(markdown)


@functools.cache
def package_template(package: str, name: str) -> Any:
    """The Jinja2 template ``name`` shipped in ``package``: HTML-escaping, and an error on any undefined name."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template(name)


def _template() -> Any:
    return package_template("hpo.report", TEMPLATE)


def _html_page(title: str, markdown: str) -> str:
    """The self-contained page: ``title`` escaped, the rendered ``markdown`` inserted as markup."""
    from markupsafe import Markup

    return _template().render(title=title, body=Markup(markdown_to_html(markdown)))


# --------------------------------------------------------------------------- #
# the report
# --------------------------------------------------------------------------- #
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
        direction: ``"minimize"`` or ``"maximize"``. Defaults to the search's
            (:attr:`~hpo.store.SearchInfo.direction`). The objective is named after the
            search's :attr:`~hpo.store.SearchInfo.metric`.
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
            return write_report(
                opened,
                out_dir,
                direction=direction,
                top=top,
                search_id=search_id,
                extra_sections=extra_sections,
                plots=plots,
            )
    s = load(store, direction, search_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    for key, filename in PLOTS.items():
        path = out / filename
        why = draw(key, s, path) if plots else "plots were not requested"
        if why is None:
            drawn[key] = path
        else:
            skipped[key] = why
            path.unlink(missing_ok=True)  # an earlier report's plot would mislead
    markdown = _build_markdown(s, top, drawn, skipped, extra_sections)
    md_path = out / "report.md"
    md_path.write_text(markdown, encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(_html_page(_title(s), markdown), encoding="utf-8")
    return ReportFiles(out_dir=out, markdown=md_path, html=html_path, plots=drawn, skipped=skipped)

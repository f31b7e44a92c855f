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

What a report knows of the search -- the objective's name and direction, the
strategy and its settings, the space, the executor, the budget -- comes from
the store's search row (:class:`~hpo.store.SearchInfo` ``metric``,
``direction`` and ``engine``, recorded by :func:`hpo.loop.run_search`).  The
application's own configuration is shown as it is (a ``key.sub`` table),
never interpreted.

Matplotlib is imported only when plots are drawn, through its
object-oriented API (:class:`matplotlib.figure.Figure` with the Agg canvas):
writing a report never changes the pyplot backend or global state.  The page
is the Markdown rendered by markdown-it-py in a Jinja2 template of this
package, with its CSS inline: no external CSS or JavaScript.

Modules (private): ``_search`` loads a search and computes its figures,
``_format`` writes numbers, durations and counts as text, ``_summary`` holds
:func:`summary` and :func:`format_status`, ``_series`` computes what each plot
shows (the live dashboard, :mod:`hpo.dashboard`, draws the same data in the
browser), ``_plots`` draws it with matplotlib, ``_page``
the Markdown, the HTML page and :func:`write_report`.
"""

from __future__ import annotations

from ._page import ReportFiles, markdown_to_html, write_report
from ._plots import PLOTS
from ._summary import format_status, summary

__all__ = ["PLOTS", "ReportFiles", "format_status", "markdown_to_html", "summary", "write_report"]

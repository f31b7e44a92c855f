"""A live dashboard of searches: a small local web app over trial stores, read-only.

:func:`create_app` opens each store with ``TrialStore(path, read_only=True)`` (SQLite
``mode=ro``: the dashboard never writes, creates or upgrades a store, and reads beside
the running search thanks to WAL mode) and serves one page that polls a JSON API:

* ``GET /`` -- the page (``static/dashboard.html``, its script and CSS beside it, and
  Plotly.js from the plotly Python package: no CDN, nothing fetched from the network);
* ``GET /api/config`` -- the stores and the refresh interval;
* ``GET /api/state/N[?since=VERSION]`` -- store N's state: progress (the figures of
  :func:`hpo.report.summary`), the best trial, the trial table and the data of every
  plot of the report, computed by the same functions as the report's PNGs
  (:mod:`hpo.report._series`). The state is recomputed only when the database or its
  WAL file changes (or the writer comes or goes); ``since`` answers "unchanged" cheaply;
* ``GET /extra/N/FILE`` -- a file of the extra section's folder (path-checked).

Every string from a store (parameter values, errors, worker and metric names, the
configuration) is user data: the page inserts it as text (``textContent``), and the
strings it hands to Plotly (which renders a subset of HTML) are escaped first. The one
HTML the page inserts is an extra section's Markdown rendered by
:func:`hpo.report.markdown_to_html`, which escapes raw HTML.

An optional ``sections`` hook (:data:`SectionHook`) draws an extra section on the best
trial (keras_geo passes the task's samples of the best model); it runs in a background
thread whenever the best trial changes, into a private temporary folder.

:func:`bind` takes the port first (a port in use is a :class:`DashboardError`), then
:func:`serve` runs uvicorn on that socket. The dashboard knows nothing of Keras; it
needs the ``dashboard`` extra (starlette, uvicorn, plotly).
"""

from __future__ import annotations

from ._app import DashboardError, bind, create_app, is_loopback, plotly_js, run, serve, url_of
from ._state import SectionHook, StoreWatch, compute

__all__ = [
    "DashboardError",
    "SectionHook",
    "StoreWatch",
    "bind",
    "compute",
    "create_app",
    "is_loopback",
    "plotly_js",
    "run",
    "serve",
    "url_of",
]

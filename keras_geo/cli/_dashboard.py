"""``keras-geo-hpo dashboard``: a live web page over one or more stores, read-only (never imports TensorFlow itself).

The samples of the best model (:func:`keras_geo.search.sample_section`, which loads the
model with TensorFlow) are drawn in a background thread whenever the best trial
changes, unless ``--no-samples``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keras_geo.cli._common import UsageError


def _samples(store, folder: Path):
    """The dashboard's extra section: the task's samples of the store's best model."""
    from keras_geo.search import sample_section

    return sample_section(store, folder)


def _refresh(text: str) -> float:
    value = float(text)
    if not 0.2 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0.2 and 3600 seconds, got {value:g}")
    return value


def _cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from hpo import dashboard
    except ImportError as error:  # the extra is not installed
        raise UsageError(f"the dashboard needs the `dashboard` extra (starlette, uvicorn, plotly): {error}") from None
    from hpo.store import StoreError

    for path in args.stores:
        if not Path(path).exists():
            raise UsageError(f"no such store: {path}")
    try:
        app = dashboard.create_app(args.stores, refresh=args.refresh, sections=None if args.no_samples else _samples)
    except StoreError as error:
        raise UsageError(str(error)) from None
    try:
        sock = dashboard.bind(args.host, args.port)
    except dashboard.DashboardError as error:
        for watch in app.state.watches:
            watch.close()
        raise UsageError(str(error)) from None
    if not dashboard.is_loopback(args.host):
        print(
            f"keras-geo-hpo dashboard: warning: serving on {args.host}: anyone who can reach this machine "
            f"can read the search (the dashboard has no authentication)",
            file=sys.stderr,
        )
    server = dashboard.serve(app, sock)
    # The socket listens already: a browser opened now waits for the server, never fails.
    print(f"dashboard: {dashboard.url_of(sock)}  (read-only; Ctrl-C stops it)", flush=True)
    try:
        dashboard.run(server)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def add_parser(commands) -> None:
    """Registers ``dashboard``."""
    p = commands.add_parser(
        "dashboard",
        help="a live web page over one or more stores (read-only; refreshes while a search runs)",
        description="Serve a local web page that shows the searches of STORE... live: progress, best so far, "
        "the trial table and the report's plots. The stores are only read.",
    )
    p.add_argument("stores", nargs="+", metavar="STORE")
    p.add_argument("--port", type=int, default=8050, help="port to listen on (default 8050; 0: any free port)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; another one warns: no authentication)",
    )
    p.add_argument("--refresh", type=_refresh, default=2.0, metavar="S", help="seconds between the page's updates")
    p.add_argument("--no-samples", action="store_true", help="do not draw the samples of the best model")
    p.set_defaults(run=_cmd_dashboard)

"""The dashboard's web application (Starlette) and its server (uvicorn on a socket bound beforehand)."""

from __future__ import annotations

import contextlib
import errno
import html
import ipaddress
import json
import os
import re
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from ..store import StoreError
from ._state import SectionHook, StoreWatch, open_stores

_STATIC = Path(__file__).resolve().parent / "static"
_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]*)(")')
#: Headers of every response: no framing, no sniffing, scripts and styles only from this server.
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-eval'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
}


class DashboardError(Exception):
    """The dashboard cannot start (the port is taken, the address is unusable): one line for the user."""


def plotly_js() -> Path:
    """The ``plotly.min.js`` bundled with the plotly Python package (served locally: no CDN)."""
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if not path.is_file():  # pragma: no cover - a broken plotly install
        raise DashboardError(f"plotly.min.js not found in the plotly package ({path})")
    return path


def _section_html(watch: StoreWatch, markdown: str) -> str:
    """The section's markdown as HTML (raw HTML escaped), its relative images served from ``/extra``."""
    from ..report import markdown_to_html

    body = markdown_to_html(markdown)

    def local(match: re.Match[str]) -> str:
        src = html.unescape(match.group(2))
        if re.match(r"^[a-z][a-z0-9+.-]*:|^/|\.\.", src, re.IGNORECASE):
            return match.group(1) + match.group(3)  # only files of the section's folder
        return f"{match.group(1)}/extra/{watch.index}/{html.escape(src, quote=True)}{match.group(3)}"

    return _SRC.sub(local, body)


def create_app(
    paths: Sequence[str | os.PathLike[str]],
    *,
    refresh: float = 2.0,
    sections: SectionHook | None = None,
) -> Any:
    """The dashboard over the stores at ``paths``, each opened read-only.

    Args:
        paths: Trial stores; one tab each. A path that is no store raises
            :class:`~hpo.store.StoreError`.
        refresh: Seconds between the page's polls.
        sections: An optional hook drawing an extra section on the best trial
            (:data:`hpo.dashboard.SectionHook`); it runs in a background thread whenever
            the best trial changes.

    Returns:
        A Starlette application; ``app.state.watches`` holds the open stores (closed on shutdown).
    """
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    watches = open_stores([os.fspath(p) for p in paths], sections)
    script = plotly_js()

    def _json(data: Any, status: int = 200) -> Response:
        body = json.dumps(data, allow_nan=False, separators=(",", ":"))
        return Response(body, status_code=status, media_type="application/json", headers=_HEADERS)

    def _watch(request: Any) -> StoreWatch | None:
        i = request.path_params["index"]
        return watches[i] if 0 <= i < len(watches) else None

    async def page(request: Any) -> Response:
        return HTMLResponse((_STATIC / "dashboard.html").read_text(encoding="utf-8"), headers=_HEADERS)

    async def config(request: Any) -> Response:
        return _json(
            {
                "refresh_s": refresh,
                "stores": [{"index": w.index, "path": w.path, "name": os.path.basename(w.path)} for w in watches],
                "sections": sections is not None,
            }
        )

    def state(request: Any) -> Response:  # sync: Starlette runs it in a thread, SQLite reads block
        watch = _watch(request)
        if watch is None:
            return _json({"error": "no such store"}, 404)
        try:
            version, data = watch.state()
        except StoreError as error:  # damaged or removed meanwhile: the page says so and keeps polling
            return _json({"error": str(error)}, 503)
        section = watch.section()
        if section is not None and section.get("markdown"):
            section = {**section, "html": _section_html(watch, section["markdown"])}
        since = request.query_params.get("since")
        out: dict[str, Any] = {"version": version, "section": section}
        if since != str(version):
            out["state"] = data
        return _json(out)

    def extra(request: Any) -> Response:
        watch = _watch(request)
        folder = None if watch is None else watch.section_dir
        if folder is None:
            return Response("not found", status_code=404)
        target = (folder / request.path_params["name"]).resolve()
        if not target.is_relative_to(folder.resolve()) or not target.is_file():
            return Response("not found", status_code=404)
        return FileResponse(target, headers=_HEADERS)

    async def static(request: Any) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            return FileResponse(script, media_type="text/javascript", headers=_HEADERS)
        if name in ("dashboard.js", "dashboard.css"):
            kind = "text/javascript" if name.endswith(".js") else "text/css"
            return FileResponse(_STATIC / name, media_type=kind, headers=_HEADERS)
        return Response("not found", status_code=404)

    async def health(request: Any) -> Response:
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for w in watches:
                w.close()

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/config", config),
            Route("/api/state/{index:int}", state),
            Route("/extra/{index:int}/{name:path}", extra),
            Route("/static/{name}", static),
            Route("/health", health),
        ],
        lifespan=lifespan,
    )
    app.state.watches = watches
    return app


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost``, ``127.x``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str = "127.0.0.1", port: int = 8050) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one); :class:`DashboardError` when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DashboardError(f"cannot listen on {host}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        why = "the port is in use (pick another with --port)" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise DashboardError(f"cannot listen on {host}:{port}: {why}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """The page's address for a socket from :func:`bind`."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(app: Any, sock: socket.socket, *, on_ready: Callable[[], None] | None = None) -> Any:
    """A uvicorn server for ``app`` on ``sock``; ``server.run()`` serves until ``server.should_exit``.

    ``on_ready`` is called once the server accepts connections.
    """
    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if on_ready is not None and not self.should_exit:
                on_ready()

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = _Server(config)
    server.sockets_to_serve = [sock]  # type: ignore[attr-defined]
    return server


def run(server: Any) -> None:
    """Serves until ``server.should_exit`` is set (or SIGINT/SIGTERM in the main thread)."""
    server.run(sockets=server.sockets_to_serve)

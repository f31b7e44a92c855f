"""Serves a finished store with the live dashboard and saves a screenshot of the page for the README.

    python benchmarks/dashboard_screenshot.py STORE [--out docs/dashboard.png] [--width 1280] [--height 1500]

Uses Debian's Chromium through Playwright (as the tests do; ``KERAS_GEO_CHROMIUM`` names
another browser). The PNG is reduced to a palette of 256 colours to stay small.
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
from pathlib import Path

from hpo import dashboard


def _chromium() -> str:
    for name in (os.environ.get("KERAS_GEO_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        found = name and shutil.which(name)
        if found:
            return found
    raise SystemExit("no Chromium: install Debian's chromium or set KERAS_GEO_CHROMIUM")


def screenshot(store: str, out: Path, width: int = 1280, height: int = 1500) -> Path:
    """Serves ``store`` on a free loopback port and saves the page's top ``height`` pixels to ``out``."""
    from playwright.sync_api import sync_playwright

    app = dashboard.create_app([store], refresh=1.0)
    sock = dashboard.bind("127.0.0.1", 0)
    ready = threading.Event()
    server = dashboard.serve(app, sock, on_ready=ready.set)
    thread = threading.Thread(target=dashboard.run, args=(server,), daemon=True)
    thread.start()
    ready.wait(20)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"], headless=True)
            tab = browser.new_page(viewport={"width": width, "height": height})
            tab.goto(dashboard.url_of(sock))
            tab.wait_for_selector("#plot-workers .main-svg", timeout=20000)
            tab.wait_for_timeout(800)  # let the last plots settle
            out.parent.mkdir(parents=True, exist_ok=True)
            raw = out.with_suffix(".raw.png")
            tab.screenshot(path=str(raw), full_page=False)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    from PIL import Image

    with Image.open(raw) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    raw.unlink()
    return out


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1500)
    args = parser.parse_args()
    out = screenshot(args.store, args.out, args.width, args.height)
    print(f"{out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()

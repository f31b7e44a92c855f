"""Test-wide settings: quiet TensorFlow, a private dataset cache per test session, and a real browser
(Debian's Chromium driven by Playwright) for the tests of web pages."""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    # Generated data sets are cached on disk; tests must not read or fill the user's cache.
    os.environ["KERAS_GEO_CACHE"] = str(tmp_path_factory.mktemp("keras-geo-cache"))
    yield


def _find_chromium() -> tuple[str | None, str]:
    """The browser to drive, or None and why not."""
    named = os.environ.get("KERAS_GEO_CHROMIUM")
    if named:
        found = shutil.which(named)
        return (found, "") if found else (None, f"KERAS_GEO_CHROMIUM={named!r} is not an executable")
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found, ""
    return None, "no Chromium: set KERAS_GEO_CHROMIUM or install Debian's chromium (.ci/run does)"


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        pytest.skip(f"playwright is not importable ({error}); it is in the test extra")
    executable, why = _find_chromium()
    if executable is None:
        pytest.skip(why)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"], headless=True)
        yield launched
        launched.close()

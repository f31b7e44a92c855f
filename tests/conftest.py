"""Test-wide settings: quiet TensorFlow, and a private dataset cache per test session."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    # Generated data sets are cached on disk; tests must not read or fill the user's cache.
    os.environ["KERAS_GEO_CACHE"] = str(tmp_path_factory.mktemp("keras-geo-cache"))
    yield

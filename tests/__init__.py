"""keras-geo's test suite: ``tests/hpo`` and ``tests/keras_geo`` mirror the packages, ``tests/faults`` is the
fault-injection harness, ``tests/notebooks`` runs the notebooks, ``tests/data`` holds small fixtures."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root folder."""
DATA = ROOT / "tests" / "data"
"""The fixtures folder."""

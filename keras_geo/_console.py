"""What keras-geo's command line and its worker processes print: the user's lines, not the libraries'.

TensorFlow 2.17+ writes a burst of C++ log lines to standard error while it is imported
("All log messages before absl::InitializeLog() is called ...", "oneDNN custom operations
are on", "Could not find cuda drivers"), and since these come from absl before logging is
initialised, ``TF_CPP_MIN_LOG_LEVEL`` does not silence them. Every worker process imports
TensorFlow, so a search printed dozens of them into its progress bar. OpenCV logs a C++
line for each unreadable image, which keras-geo already reports by name.

:func:`configure` makes a process quiet: the first import of TensorFlow runs with the
process's standard error (file descriptor 2) captured, and only lines that are not such
start-up chatter (INFO/WARNING lines in absl's format, the absl banner, the cuFFT/cuDNN/
cuBLAS "Unable to register factory" lines) are written back; Python warnings print as one
line without the source line under them. ``keras-geo-hpo --verbose`` or
``KERAS_GEO_LOG=verbose`` in the environment leaves everything as the libraries print it.
The setting travels to worker processes through ``KERAS_GEO_LOG``. This module imports
no framework.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from keras_geo._imports import around_first_import

__all__ = ["LOG_VARIABLE", "QUIET_PACKAGES", "configure", "configure_worker", "is_chatter", "quiet_imports", "verbose"]

LOG_VARIABLE = "KERAS_GEO_LOG"
"""Environment variable: ``verbose`` shows the libraries' own logging, ``quiet`` (the CLI's default) hides it."""

QUIET_PACKAGES: tuple[str, ...] = ("tensorflow",)
"""Packages whose first import runs with standard error filtered (:func:`configure`)."""

_VERBOSE_VALUES = ("verbose", "debug", "1", "true", "yes")

_CHATTER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    # absl's format: severity letter, MMDD, time, thread id, file:line] message.
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\] .*"
    r"|E\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\] Unable to register cu\w+ factory.*"
)


def is_chatter(line: str) -> bool:
    """Whether a standard-error line is TensorFlow's start-up chatter (dropped in quiet mode)."""
    return _CHATTER.fullmatch(line.rstrip("\r\n")) is not None


def verbose() -> bool:
    """Whether this process shows the libraries' own logging (``KERAS_GEO_LOG=verbose``)."""
    return os.environ.get(LOG_VARIABLE, "").strip().lower() in _VERBOSE_VALUES


@contextlib.contextmanager
def _stderr_filtered() -> Iterator[None]:
    """Captures file descriptor 2 for the block, then writes back every line that is not chatter."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable standard error: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = "".join(line for line in text.splitlines(keepends=True) if not is_chatter(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def quiet_imports(names: Iterable[str] = ("tensorflow",)) -> None:
    """Filters the start-up chatter out of standard error while the named packages are first imported.

    Packages already imported are left alone (their chatter is past). Idempotent.
    """
    for name in names:
        around_first_import(name, _stderr_filtered)


_PROGRAM = "keras-geo"


def _one_line_warning(message: Any, category: type, *_: Any, **__: Any) -> str:
    """``PROGRAM: warning: MESSAGE`` on one line; no source file, line number or source excerpt."""
    text = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    return f"{_PROGRAM}: warning: {text}\n"


def configure(*, verbose_output: bool | None = None, program: str | None = None) -> None:
    """Makes this process print what is the user's: quiet TensorFlow start-up, one-line warnings.

    Args:
        verbose_output: True shows the libraries' logging as they print it; False hides it;
            None follows ``KERAS_GEO_LOG``. The choice is written to ``KERAS_GEO_LOG`` so
            that worker processes started later make the same one.
        program: Name that prefixes warnings (``"keras-geo-hpo"`` for the CLI). Defaults
            to `"keras-geo"`.
    """
    global _PROGRAM
    if verbose_output is None:
        verbose_output = verbose()
    os.environ[LOG_VARIABLE] = "verbose" if verbose_output else "quiet"
    if program:
        _PROGRAM = program
        os.environ["KERAS_GEO_PROGRAM"] = program
    else:
        _PROGRAM = os.environ.get("KERAS_GEO_PROGRAM", _PROGRAM)
    if verbose_output:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ lines after start-up
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")  # unreadable images are reported by name instead
    quiet_imports(QUIET_PACKAGES)
    # Warnings (files skipped in an image folder, ...) as plain lines, without a source excerpt.
    warnings.formatwarning = _one_line_warning


def configure_worker() -> None:
    """In a worker process: the choice its driver made (``KERAS_GEO_LOG``), if it made one."""
    if os.environ.get(LOG_VARIABLE):
        configure()

"""What the dashboard shows of one store: its state as plain JSON, recomputed only when the files change."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..report._format import last_line
from ..report._search import SearchView, finite, load
from ..report._series import SERIES
from ..report._summary import summarize
from ..store import TrialStore, jsonable

#: ``hook(store, folder)`` -> ``(title, markdown)`` or None: an extra section on the best trial,
#: drawn into ``folder`` (its images are served from there). ``store`` is the read-only store.
SectionHook = Callable[[TrialStore, Path], "tuple[str, str] | None"]

_ERROR_CHARS = 4000  # the end of a long traceback is where the error is


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _trial_row(t: Any) -> dict[str, Any]:
    error = t.error or ""
    return {
        "id": t.id,
        "number": t.number,
        "status": t.status,
        "value": finite(t.value),
        "params": t.params,
        "metrics": {k: v for k, v in t.metrics.items() if not isinstance(v, (dict, list))},
        "worker": t.worker,
        "device": t.device,
        "started": t.started,
        "ended": t.ended,
        "duration": t.duration,
        "cache_hit": t.cache_hit,
        "error": error[-_ERROR_CHARS:],
        "error_line": last_line(error) if error else "",
    }


def compute(s: SearchView) -> dict[str, Any]:
    """The dashboard's JSON for a loaded search: progress, the trial table and every plot's data."""
    plots: dict[str, Any] = {}
    for key, series in SERIES.items():
        try:
            data = series(s)
        except Exception as exc:  # noqa: BLE001 -- one bad plot must not cost the page
            data = f"failed ({type(exc).__name__}: {exc})"
        plots[key] = {"why": data} if isinstance(data, str) else data
    best = s.best
    return jsonable(
        {
            "summary": summarize(s),
            "search": {
                "name": "" if s.info is None else s.info.name,
                "metric": s.metric,
                "direction": s.direction,
                "objectives": [list(o) for o in s.objectives],
                "config": s.config,
            },
            "best": None
            if best is None
            else {
                "id": best.id,
                "number": best.number,
                "value": finite(best.value),
                "params": best.params,
                "metrics": {k: v for k, v in best.metrics.items() if not isinstance(v, (dict, list))},
            },
            "trials": [_trial_row(t) for t in s.trials],
            "plots": plots,
            "now": s.now,
        },
        strict=False,
    )


class StoreWatch:
    """One store opened read-only, its dashboard state cached until its files change.

    The state is recomputed when the database or its WAL file changes (modification time
    or size) or the writer comes or goes; an idle poll costs two ``stat`` calls and a lock
    probe. With a ``hook``, an extra section on the best trial is drawn in a background
    thread into a private temporary folder whenever the best trial changes.
    """

    def __init__(self, index: int, path: str | os.PathLike[str], hook: SectionHook | None = None) -> None:
        """Open ``path`` read-only (:class:`~hpo.store.StoreError` when it is no trial store)."""
        self.index = index
        self.path = os.fspath(path)
        self.store = TrialStore(self.path, read_only=True)
        self.hook = hook
        self._lock = threading.Lock()
        self._key: Any = None
        self._state: dict[str, Any] | None = None
        self._version = 0
        self._compute_s = 0.0
        self._best_id: int | None = None
        self._section: dict[str, Any] | None = None
        self._section_dir: Path | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._drawing = False  # a background drawing runs

    def _files_key(self) -> Any:
        return _stat(self.path), _stat(self.path + "-wal"), self.store.writer() is not None

    def state(self) -> tuple[int, dict[str, Any]]:
        """``(version, state)``: the version changes whenever the state does."""
        with self._lock:
            key = self._files_key()
            if key != self._key or self._state is None:
                start = time.perf_counter()
                with self.store.snapshot():
                    view = load(self.store, None, None)
                state = compute(view)
                self._compute_s = time.perf_counter() - start
                self._key, self._state = key, state
                self._version += 1
                best = state["best"]["id"] if state["best"] else None
                if self.hook is not None and best is not None and best != self._best_id:
                    self._best_id = best
                    self._start_section(best)
            return self._version, self._state

    @property
    def compute_s(self) -> float:
        """Seconds the latest state took to compute."""
        return self._compute_s

    # ---------------------------------------------------------- the hook --
    def section(self) -> dict[str, Any] | None:
        """The extra section: ``{trial_id, status ("drawing"/"ready"/"failed"), title, markdown}``, or None."""
        return self._section

    @property
    def section_dir(self) -> Path | None:
        """The folder the current extra section's files are in."""
        return self._section_dir

    def _start_section(self, trial_id: int) -> None:
        """Draw the section of ``trial_id`` in the background; one drawing at a time (called under the lock).

        A best trial that changes while a drawing runs is drawn next (only the latest one):
        a fast search never piles up drawings, each of which may load a model and a data set.
        """
        self._section = {"trial_id": trial_id, "status": "drawing", "title": "", "markdown": ""}
        if self._drawing:
            return  # the running drawing starts the latest best trial's when it ends
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="hpo-dashboard-")
        self._drawing = True
        threading.Thread(target=self._draw_sections, args=(trial_id,), daemon=True).start()

    def _draw_sections(self, trial_id: int) -> None:
        while True:
            folder = Path(self._tmp.name) / f"trial-{trial_id}"  # type: ignore[union-attr]
            folder.mkdir(parents=True, exist_ok=True)
            try:
                drawn = self.hook(self.store, folder)  # type: ignore[misc]
                title, markdown = ("", "") if drawn is None else (str(drawn[0]), str(drawn[1]))
                result = {"status": "ready", "title": title, "markdown": markdown}
            except Exception as exc:  # noqa: BLE001 -- the page stands without it; say why
                result = {"status": "failed", "title": "", "markdown": f"Not drawn: {type(exc).__name__}: {exc}"}
            with self._lock:
                if self._best_id == trial_id:
                    self._section = {"trial_id": trial_id, **result}
                    self._section_dir = folder
                    self._drawing = False
                    return
                trial_id = self._best_id  # a newer best trial came meanwhile: draw it now

    def close(self) -> None:
        """Close the store and remove the section's temporary folder."""
        self.store.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def open_stores(paths: list[str], hook: SectionHook | None = None) -> list[StoreWatch]:
    """A :class:`StoreWatch` per path; the first path that is no trial store raises :class:`~hpo.store.StoreError`.

    A store that holds no search yet is shown as empty until its search starts.
    """
    watches: list[StoreWatch] = []
    try:
        for i, path in enumerate(paths):
            watches.append(StoreWatch(i, path, hook))
    except BaseException:
        for w in watches:
            w.close()
        raise
    return watches

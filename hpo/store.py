"""The durable trial store: SQLite in WAL mode, JSON only.

One store file holds one or more searches and their trials.  The process that
runs the search loop is the only writer; readers (a dashboard, a notebook, a
second ``TrialStore`` on the same file) may open it concurrently thanks to
WAL mode.  The writer holds :meth:`TrialStore.acquire_lock` (an ``flock`` on
``STORE.lock`` beside the file, released by the kernel however the process
ends, SIGKILL included): a second search or resume on the same store is
refused with :class:`StoreLocked`, naming the process that holds it.

A damaged file (truncated by a full disk or a partial copy, overwritten) is
refused when it is opened (SQLite's ``quick_check``) with a :class:`StoreError`
that says so, and any SQLite error later on is raised as a :class:`StoreError`
too, never as a bare ``sqlite3`` traceback.

Durability rule: every write method runs in its own transaction, committed
(``synchronous=FULL``) before it returns -- so a result is on disk before the
strategy hears of it, and a crash loses at most the trials that were
running.  Resume = reopen the store, re-queue :meth:`TrialStore.running`
trials, replay finished ones (:meth:`Trial.to_result`) into a fresh strategy.

Everything structured (config, params, metrics, per-epoch history, meta
values) is stored as JSON text, never as serialised Python objects, so a
store can be read by any tool and opening one never executes code.  Numpy
scalars/arrays are converted; non-finite floats become ``null``.

Schema (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`,
``PRAGMA application_id`` marks the file as a keras-geo store)::

    search(id, name, config JSON, seed, created, metric, direction, engine JSON)
    trials(id, search_id, number, params JSON, params_hash, status, value,
           metrics JSON, history JSON, seed, worker, device, created, started,
           ended, error, cache_hit, cached_from, intermediate JSON)
    meta(key, value JSON)

Trial status: ``queued -> running -> done | failed | pruned | interrupted`` (and
``requeue`` puts running/interrupted trials back to ``queued``). ``pruned`` is a
trial a pruner stopped early (:mod:`hpo.pruners`); ``intermediate`` keeps what
a trial reported while it trained, ``[[step, value], ...]``.

A search row keeps two kinds of facts apart: ``config`` is the application's own
configuration, stored and shown as it is and never interpreted by the engine;
``metric``, ``direction`` and ``engine`` are what the engine knows: the objective's
name and direction (:meth:`TrialStore.create_search`), and the record the search loop
writes when it starts a run (:meth:`TrialStore.set_search_engine`; its keys are listed
in :func:`hpo.loop.engine_record`).

Read-only: ``TrialStore(path, read_only=True)`` opens an existing store for reading
only (a dashboard beside a running search): SQLite opens the file with ``mode=ro``, so
nothing is created, the journal mode is left as it is, an older schema is read as it
is and never upgraded, and every write method raises :class:`StoreError`. A missing
path, a directory or a file that is not a keras-geo store is refused with one line.
(A reader of a WAL database may leave the empty ``-wal`` and ``-shm`` side files that
SQLite uses to coordinate readers with the writer; the store file itself is never written.)

Schema versions: version 1 had no ``metric``, ``direction`` or ``engine``; version 2 had
no ``pruned`` status and no ``intermediate``. An older store opens as it is: reading it
writes nothing (its searches read as the upgrade would fill them), and its first write
transaction upgrades it in place, in that same transaction (:mod:`hpo._migrations`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sqlite3
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _migrations
from .space import params_hash as _params_hash
from .trial import DONE, INTERRUPTED, QUEUED, RUNNING, TRIAL_STATUSES, Trial

__all__ = [
    "TrialStore",
    "StoreError",
    "StoreLocked",
    "SearchInfo",
    "SCHEMA_VERSION",
    "APPLICATION_ID",
    "DIRECTIONS",
    "jsonable",
]

try:  # POSIX; elsewhere the writer lock is not available and a warning says so
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Version of the schema below, kept in ``PRAGMA user_version``.
SCHEMA_VERSION = 3
#: The directions of an objective.
DIRECTIONS = ("minimize", "maximize")
#: ``PRAGMA application_id`` of keras-geo stores ("KGHO" in ASCII).
APPLICATION_ID = 0x4B47484F

_SCHEMA = """
CREATE TABLE search (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    name     TEXT NOT NULL DEFAULT '',
    config   TEXT NOT NULL,
    seed     INTEGER,
    created  REAL NOT NULL,
    metric    TEXT NOT NULL DEFAULT 'value',
    direction TEXT NOT NULL DEFAULT 'minimize' CHECK (direction IN ('minimize','maximize')),
    engine    TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE trials (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    search_id    INTEGER NOT NULL REFERENCES search(id),
    number       INTEGER NOT NULL,
    params       TEXT NOT NULL,
    params_hash  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued','running','done','failed','interrupted','pruned')),
    value        REAL,
    metrics      TEXT NOT NULL DEFAULT '{}',
    history      TEXT NOT NULL DEFAULT '{}',
    seed         INTEGER,
    worker       TEXT,
    device       TEXT,
    created      REAL NOT NULL,
    started      REAL,
    ended        REAL,
    error        TEXT,
    cache_hit    INTEGER NOT NULL DEFAULT 0,
    cached_from  INTEGER REFERENCES trials(id),
    intermediate TEXT NOT NULL DEFAULT '[]',
    UNIQUE (search_id, number)
);
CREATE INDEX trials_hash ON trials (params_hash, status);
CREATE INDEX trials_status ON trials (search_id, status);
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class StoreError(Exception):
    """The file is not a usable keras-geo trial store, or an operation is invalid for its state."""


class StoreLocked(StoreError):
    """Another process is writing to the store (a search or resume runs on it)."""


# The writer locks this process holds: lock file path -> [open lock file, number of stores sharing it].
_HELD: dict[str, list[Any]] = {}
_HELD_LOCK = threading.Lock()
# How long a writer waits for the lock before it refuses: covers a reader's instant probe.
_LOCK_PATIENCE_S = 0.5


@dataclass(frozen=True)
class SearchInfo:
    """One row of the ``search`` table.

    Attributes:
        id: The search id.
        name: Its name (may be empty).
        config: The application's configuration, as given to :meth:`TrialStore.create_search`.
        seed: The search seed, if given.
        created: When it was created (Unix seconds).
        metric: The objective's name (``"value"`` unless the application named it).
        direction: ``"minimize"`` or ``"maximize"``.
        engine: The search loop's record of its latest run (:func:`hpo.loop.engine_record`);
            empty until a run started.
    """

    id: int
    name: str
    config: dict[str, Any]
    seed: int | None
    created: float
    metric: str = "value"
    direction: str = "minimize"
    engine: dict[str, Any] = field(default_factory=dict)

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------- #
# JSON helpers
# --------------------------------------------------------------------------- #
def jsonable(obj: Any, *, strict: bool = True) -> Any:
    """Plain JSON types from numpy scalars/arrays, tuples, sets; non-finite floats -> None.

    Anything else raises TypeError, or becomes its ``str`` with ``strict=False`` (for display).
    """
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v, strict=strict) for v in obj]
    # numpy without importing it: scalars have .item(), arrays .tolist()
    if hasattr(obj, "tolist") and callable(obj.tolist):
        return jsonable(obj.tolist(), strict=strict)
    if hasattr(obj, "item") and callable(obj.item):
        return jsonable(obj.item(), strict=strict)
    if not strict:
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} as JSON: {obj!r}")


def _dumps(obj: Any) -> str:
    return json.dumps(jsonable(obj), allow_nan=False, separators=(",", ":"))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _objective(metric: Any, direction: Any) -> tuple[str, str]:
    """A search's ``metric`` and ``direction``, checked."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'minimize' or 'maximize'; received {direction!r}")
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"metric must be a non-empty name; received {metric!r}")
    return metric, direction


def _value(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


# --------------------------------------------------------------------------- #
# the store
# --------------------------------------------------------------------------- #
class TrialStore:
    """A keras-geo trial store in one SQLite file (see the module docstring).

    ``TrialStore(path)`` creates the file (and parent directories) or opens an
    existing store; anything else raises :class:`StoreError`.  Use it as a
    context manager, or call :meth:`close`.  Methods taking ``search_id``
    default to the most recent search.  Thread-safe (one lock around the
    connection), but meant for a single writing process.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0, read_only: bool = False) -> None:
        """Open or create the store at ``path``; with ``read_only``, open an existing store for reading only."""
        self.path = os.fspath(path)
        self.read_only = bool(read_only)
        if self.read_only:
            if self.path == ":memory:":
                raise StoreError("an in-memory store cannot be opened read-only")
            if os.path.isdir(self.path):
                raise StoreError(f"{self.path!r} is a directory, not a trial store")
            if not os.path.isfile(self.path):
                raise StoreError(f"no such trial store: {self.path!r}")
        elif self.path != ":memory:":
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, exist_ok=True)
            if os.path.isdir(self.path):
                raise StoreError(f"{self.path!r} is a directory, not a trial store")
        self._lock = threading.RLock()
        self._lock_key: str | None = None  # set while this store shares the process's writer lock
        self._version = SCHEMA_VERSION  # the file's schema version; an older one is upgraded by the first write
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per write.
            if self.read_only:  # mode=ro: SQLite itself refuses every write, creates no file and upgrades nothing
                uri = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro"
                self._conn = sqlite3.connect(
                    uri, timeout=timeout, isolation_level=None, check_same_thread=False, uri=True
                )
            else:
                self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open trial store {self.path!r}: {exc}") from exc
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{self.path!r} is damaged or not a keras-geo trial store (SQLite: {exc})") from None
        except StoreError:
            self._conn.close()
            raise

    def _open(self) -> None:
        c = self._conn
        c.execute("BEGIN")  # one snapshot for the three reads: another process may be creating the store
        try:
            app_id = c.execute("PRAGMA application_id").fetchone()[0]
            version = c.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            c.execute("COMMIT")
        if app_id == 0 and version == 0 and not tables and self.read_only:
            raise StoreError(f"{self.path!r} is not a keras-geo trial store (an empty file or database)")
        if app_id == 0 and version == 0 and not tables:
            self._create()
        elif app_id != APPLICATION_ID:
            raise StoreError(
                f"{self.path!r} is an SQLite database but not a keras-geo trial store "
                f"(application_id={app_id:#x}, tables={sorted(tables)})"
            )
        elif version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path!r} has store schema version {version}; this hpo supports up to {SCHEMA_VERSION} "
                f"(upgrade hpo)"
            )
        elif version < 1:
            raise StoreError(f"{self.path!r} has an unknown store schema version {version}")
        else:
            # A truncated or overwritten file may still open: check its pages once (fast, linear).
            problems = [r[0] for r in c.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise StoreError(
                    f"{self.path!r} is a damaged keras-geo trial store (SQLite quick_check: "
                    f"{'; '.join(problems)}); restore it from a copy"
                )
            self._version = version
        if self.read_only:
            return  # the journal mode and the settings below are the writer's business
        if self.path != ":memory:":
            mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"cannot switch {self.path!r} to WAL mode (got {mode!r})")
        c.execute("PRAGMA synchronous=FULL")
        c.execute("PRAGMA foreign_keys=ON")

    def _create(self) -> None:
        with self._write() as c:
            if c.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
                # Another connection (a search starting, a `status` opened at that moment) created
                # the schema between our look and this write lock: nothing left to do here.
                if c.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                    raise StoreError(f"{self.path!r} is an SQLite database but not a keras-geo trial store")
                self._version = c.execute("PRAGMA user_version").fetchone()[0]
                return
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    c.execute(stmt)
            c.execute(f"PRAGMA application_id={APPLICATION_ID}")
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # ------------------------------------------------------------ plumbing --
    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed before the caller's method returns.

        On a store of an older schema version, the transaction first upgrades it: the
        upgrade and the caller's statements are committed together, or not at all.
        """
        with self._lock, self._sqlite_errors():
            if self._conn is None:
                raise StoreError("the trial store is closed")
            if self.read_only:
                raise StoreError(f"{self.path!r} is open read-only: writing to it is refused")
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                upgraded = self._upgrade(c) if self._version < SCHEMA_VERSION else None
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")
            if upgraded is not None:  # only once committed: a rolled back upgrade is done again
                self._version = upgraded

    def _upgrade(self, c: sqlite3.Connection) -> int:
        """Upgrades the file to :data:`SCHEMA_VERSION` inside the open write transaction; the version now.

        The version is read again under the write lock: another connection may have
        upgraded the file since this one opened it.
        """
        version = c.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            _migrations.upgrade(c, version)
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return SCHEMA_VERSION

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside this block see one consistent state of the file (a read transaction).

        A reader beside a running search (a dashboard) reads the trials, the counts and the
        best trial in one snapshot, so that they agree with each other.
        """
        with self._lock, self._sqlite_errors():
            if self._conn is None:
                raise StoreError("the trial store is closed")
            if self._conn.in_transaction:  # nested: the outer block holds the snapshot
                yield
                return
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                if self._conn is not None and self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock, self._sqlite_errors():
            if self._conn is None:
                raise StoreError("the trial store is closed")
            cur = self._conn.execute(sql, tuple(args))
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    @contextlib.contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        """SQLite failures after opening (a file damaged meanwhile, a full disk) as :class:`StoreError`."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path!r}: SQLite error: {exc}") from exc

    # ---------------------------------------------------------------- lock --
    @property
    def lock_path(self) -> str:
        """The lock file beside the store (``STORE.lock``)."""
        return self.path + ".lock"

    def acquire_lock(self) -> bool:
        """Makes this process the store's only writer; True if this store took the lock now, False if it had it.

        The lock is an ``flock`` on :attr:`lock_path`, which records who holds it. The
        kernel releases it when its process ends in any way (SIGKILL and node crashes
        included), so a killed search never blocks its resume. The lock belongs to the
        process: several ``TrialStore`` objects of one process on one file share it (a
        notebook cell run twice opens the store again before the first object is gone),
        and it is released when the last of them closes. An in-memory store needs no lock.

        Raises:
            StoreLocked: another process holds it.
        """
        if self.read_only:
            raise StoreError(f"{self.path!r} is open read-only: it cannot take the writer lock")
        if self._lock_key is not None or self.path == ":memory:":
            return False
        if fcntl is None:  # pragma: no cover - Windows
            import warnings

            warnings.warn("no flock on this platform: nothing stops a second writer on the store", stacklevel=2)
            return False
        key = os.path.realpath(self.lock_path)
        with _HELD_LOCK:
            if key in _HELD:  # this process writes already: share its lock
                _HELD[key][1] += 1
                self._lock_key = key
            else:
                self._lock_key = key
                try:
                    _HELD[key] = [self._flock(), 1]
                except BaseException:
                    self._lock_key = None
                    raise
        if self._version < SCHEMA_VERSION:  # the writer upgrades an older store at once
            try:
                with self._write():
                    pass
            except BaseException:
                self.release_lock()
                raise
        return True

    def _flock(self) -> Any:
        """Takes the ``flock`` of :attr:`lock_path` and writes who holds it; the open lock file."""
        handle = open(self.lock_path, "a+")
        # A reader probing the lock (:meth:`writer`, for `status`) holds it for microseconds:
        # only a lock still held after a short wait belongs to another writer.
        deadline = time.monotonic() + _LOCK_PATIENCE_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise StoreLocked(
                    f"{self.path} is in use by {holder}; a store has one writer at a time. Wait for that search "
                    f"to end (or stop it), or search into another store"
                ) from None
        handle.seek(0)
        handle.truncate()
        command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:4]))
        handle.write(
            f"pid {os.getpid()} on {socket.gethostname()} ({command or 'python'}), since "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        )
        handle.flush()
        return handle

    def writer(self) -> str | None:
        """Who writes to the store now: the lock holder's record (``"pid 12 on node3 (...)"``), or None.

        None means no live process holds the writer lock, so trials still marked
        ``running`` or ``queued`` belong to a search whose driver is gone (killed, or its
        node lost): ``resume`` re-runs them. The kernel drops a dead process's lock, so
        this holds after ``kill -9`` too. Probing takes a shared lock for an instant and
        creates nothing; without ``flock`` (Windows) the answer is always None.
        """
        if self.path == ":memory:" or fcntl is None:
            return None
        key = os.path.realpath(self.lock_path)
        with _HELD_LOCK:
            if key in _HELD:  # this process is the writer (flock would conflict with our own lock)
                return f"pid {os.getpid()} (this process)"
        try:
            handle = open(self.lock_path)
        except OSError:  # no lock file: no search ever wrote here, or it is unreadable
            return None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return handle.read().strip() or "another process"
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None

    def release_lock(self) -> None:
        """Gives this store's share of the writer lock back (idempotent); :meth:`close` does it too."""
        if self._lock_key is None:
            return
        with _HELD_LOCK:
            key, self._lock_key = self._lock_key, None
            held = _HELD.get(key)
            if held is None:
                return
            held[1] -= 1
            if held[1] > 0:
                return
            handle = _HELD.pop(key)[0]
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        handle.close()  # closing the file releases the flock

    def close(self) -> None:
        """Close the connection and release the writer lock (idempotent)."""
        with self._lock:
            self.release_lock()
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._conn is None

    def __enter__(self) -> TrialStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TrialStore({self.path!r}{', read_only=True' if self.read_only else ''})"

    # --------------------------------------------------------------- search --
    def create_search(
        self,
        config: Mapping[str, Any],
        seed: int | None = None,
        name: str = "",
        *,
        metric: str = "value",
        direction: str = "minimize",
    ) -> int:
        """Record a new search; return its id.

        Args:
            config: The application's JSON-able configuration, kept as it is (the engine
                never reads it).
            seed: The search seed.
            name: A name for people.
            metric: The objective's name, for reports. Defaults to `"value"`.
            direction: ``"minimize"`` or ``"maximize"`` the objective. Defaults to `"minimize"`.
        """
        metric, direction = _objective(metric, direction)
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO search (name, config, seed, created, metric, direction) VALUES (?, ?, ?, ?, ?, ?)",
                (str(name), _dumps(dict(config)), None if seed is None else int(seed), time.time(), metric, direction),
            )
            return int(cur.lastrowid)  # type: ignore[arg-type]

    def set_search_engine(
        self,
        record: Mapping[str, Any],
        *,
        metric: str | None = None,
        direction: str | None = None,
        search_id: int | None = None,
    ) -> None:
        """Record what the engine knows of a search's run (:attr:`SearchInfo.engine`), in one transaction.

        ``record`` (JSON-able) replaces the previous one; ``metric`` and ``direction``, when
        given, replace the search's. :func:`hpo.loop.run_search` calls it as a run starts.
        """
        if metric is not None or direction is not None:
            _objective("value" if metric is None else metric, "minimize" if direction is None else direction)
        sid = self._search_id(search_id)
        with self._write() as c:
            cur = c.execute(
                "UPDATE search SET engine = ?, metric = COALESCE(?, metric), direction = COALESCE(?, direction) "
                "WHERE id = ?",
                (_dumps(dict(record)), metric, direction, sid),
            )
            if cur.rowcount != 1:
                raise StoreError(f"{self.path!r} holds no search with id {sid}")

    @staticmethod
    def _search_info(r: Mapping[str, Any]) -> SearchInfo:
        config = _loads(r["config"])
        if "engine" in r:
            metric, direction, engine = r["metric"], r["direction"], _loads(r["engine"])
        else:  # a version-1 store read without writing: the row as the upgrade will fill it
            metric, direction, engine = _migrations.v1_search_fields(config)
        return SearchInfo(r["id"], r["name"], config, r["seed"], r["created"], metric, direction, engine)

    def get_search(self, search_id: int | None = None) -> SearchInfo | None:
        """The search ``search_id`` (default: the latest), or None when the store has none."""
        if search_id is None:
            rows = self._read("SELECT * FROM search ORDER BY id DESC LIMIT 1")
        else:
            rows = self._read("SELECT * FROM search WHERE id = ?", (int(search_id),))
        return self._search_info(rows[0]) if rows else None

    def searches(self) -> list[SearchInfo]:
        """All searches, oldest first."""
        return [self._search_info(r) for r in self._read("SELECT * FROM search ORDER BY id")]

    def _search_id(self, search_id: int | None) -> int:
        if search_id is not None:
            return int(search_id)
        rows = self._read("SELECT id FROM search ORDER BY id DESC LIMIT 1")
        if not rows:
            raise StoreError(f"{self.path!r} holds no search yet; call create_search() first")
        return int(rows[0]["id"])

    # --------------------------------------------------------------- trials --
    @staticmethod
    def _next_number(c: sqlite3.Connection, search_id: int) -> int:
        """The next trial number of a search (counts from 0), read inside the writing transaction."""
        return int(c.execute("SELECT COUNT(*) FROM trials WHERE search_id = ?", (search_id,)).fetchone()[0])

    def add_trial(
        self,
        params: Mapping[str, Any],
        seed: int | None = None,
        status: str = QUEUED,
        *,
        params_hash: str | None = None,
        search_id: int | None = None,
    ) -> int:
        """Add a trial (default ``queued``) and return its id.

        ``params_hash`` defaults to :func:`hpo.space.params_hash`; pass
        ``space.params_hash(params)`` when you have the space (same value for
        valid params).  The trial ``number`` counts from 0 within its search.
        """
        if status not in (QUEUED, RUNNING):
            raise ValueError(f"a new trial is 'queued' or 'running'; received status={status!r}")
        h = params_hash or _params_hash(params)
        sid = self._search_id(search_id)
        now = time.time()
        with self._write() as c:
            number = self._next_number(c, sid)
            cur = c.execute(
                "INSERT INTO trials (search_id, number, params, params_hash, status, seed, created, started) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sid, number, _dumps(dict(params)), h, status, seed, now, now if status == RUNNING else None),
            )
            return int(cur.lastrowid)  # type: ignore[arg-type]

    def add_cached(
        self,
        params: Mapping[str, Any],
        source: Trial,
        seed: int | None = None,
        *,
        params_hash: str | None = None,
        search_id: int | None = None,
    ) -> int:
        """Record a cache hit: a ``done`` trial copying ``source``'s value, metrics, history and reported values.

        ``cache_hit`` is set and ``cached_from`` points at ``source``; no
        training happened, so ``started == ended``.
        """
        if source.status != DONE:
            raise StoreError(f"trial {source.id} is {source.status!r}; only done trials can serve as a cache")
        h = params_hash or source.params_hash
        sid = self._search_id(search_id)
        now = time.time()
        with self._write() as c:
            number = self._next_number(c, sid)
            cur = c.execute(
                "INSERT INTO trials (search_id, number, params, params_hash, status, value, metrics, history, "
                "seed, created, started, ended, cache_hit, cached_from, intermediate) "
                "VALUES (?, ?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                (
                    sid,
                    number,
                    _dumps(dict(params)),
                    h,
                    _value(source.value),
                    _dumps(source.metrics),
                    _dumps(source.history),
                    seed,
                    now,
                    now,
                    now,
                    source.id,
                    _dumps(source.intermediate),
                ),
            )
            return int(cur.lastrowid)  # type: ignore[arg-type]

    def _transition(self, trial_id: int, allowed: tuple[str, ...], sets: str, args: tuple[Any, ...]) -> None:
        with self._write() as c:
            row = c.execute("SELECT status FROM trials WHERE id = ?", (int(trial_id),)).fetchone()
            if row is None:
                raise StoreError(f"no trial with id {trial_id}")
            if row[0] not in allowed:
                raise StoreError(f"trial {trial_id} is {row[0]!r}; expected one of {list(allowed)}")
            c.execute(f"UPDATE trials SET {sets} WHERE id = ?", (*args, int(trial_id)))

    def start(self, trial_id: int, worker: str | None = None, device: str | None = None) -> None:
        """Mark a queued trial ``running`` on ``worker``/``device``."""
        self._transition(
            trial_id,
            (QUEUED, RUNNING),
            "status='running', worker=?, device=?, started=?, ended=NULL, error=NULL",
            (worker, device, time.time()),
        )

    def finish(
        self,
        trial_id: int,
        value: float | None,
        metrics: Mapping[str, Any] | None = None,
        history: Mapping[str, Any] | list[Any] | None = None,
        *,
        ran: Mapping[str, Any] | None = None,
        intermediate: Iterable[Iterable[float]] | None = None,
    ) -> None:
        """Mark a trial ``done`` with its objective ``value``, final ``metrics`` and per-epoch ``history``.

        A None or non-finite value cannot rank a trial: the trial is recorded
        as ``failed`` (error "non-finite objective value"), metrics kept.
        ``ran`` may give where and when the trial actually ran, as reported by
        its worker: ``worker``, ``device``, ``started``, ``ended`` (each optional).
        ``intermediate`` is what the trial reported while it trained, ``[(step, value), ...]``.
        """
        v = _value(value)
        if v is None:
            self.fail(
                trial_id, f"non-finite objective value: {value!r}", metrics, history, ran=ran, intermediate=intermediate
            )
            return
        self._close(trial_id, "done", v, metrics, history, None, ran, intermediate)

    def prune(
        self,
        trial_id: int,
        value: float | None,
        metrics: Mapping[str, Any] | None = None,
        history: Mapping[str, Any] | list[Any] | None = None,
        *,
        ran: Mapping[str, Any] | None = None,
        intermediate: Iterable[Iterable[float]] | None = None,
    ) -> None:
        """Mark a trial ``pruned`` (stopped early by a pruner) with its last reported ``value``.

        A pruned trial is finished (resume does not re-run it) but never the best trial and
        never a cache hit; arguments as in :meth:`finish`.
        """
        self._close(trial_id, "pruned", _value(value), metrics, history, None, ran, intermediate)

    def fail(
        self,
        trial_id: int,
        error: str,
        metrics: Mapping[str, Any] | None = None,
        history: Mapping[str, Any] | list[Any] | None = None,
        *,
        ran: Mapping[str, Any] | None = None,
        intermediate: Iterable[Iterable[float]] | None = None,
    ) -> None:
        """Mark a trial ``failed`` with an ``error`` text (e.g. a traceback); the rest as in :meth:`finish`."""
        self._close(trial_id, "failed", None, metrics, history, str(error), ran, intermediate)

    def _close(
        self,
        trial_id: int,
        status: str,
        value: float | None,
        metrics: Mapping[str, Any] | None,
        history: Mapping[str, Any] | list[Any] | None,
        error: str | None,
        ran: Mapping[str, Any] | None,
        intermediate: Iterable[Iterable[float]] | None = None,
    ) -> None:
        ran = ran or {}
        self._transition(
            trial_id,
            (QUEUED, RUNNING),
            "status=?, value=?, metrics=?, history=?, intermediate=?, error=?, ended=?, "
            "worker=COALESCE(?, worker), device=COALESCE(?, device), started=COALESCE(?, started)",
            (
                status,
                value,
                _dumps(metrics or {}),
                _dumps(history or {}),
                _dumps([[int(s), v] for s, v in (intermediate or [])]),
                error,
                ran.get("ended") or time.time(),
                ran.get("worker"),
                ran.get("device"),
                ran.get("started"),
            ),
        )

    def interrupt(self, trial_id: int, reason: str = "interrupted") -> None:
        """Mark a running (or queued) trial ``interrupted`` (e.g. on Ctrl-C); :meth:`requeue` revives it."""
        self._transition(trial_id, (QUEUED, RUNNING), "status='interrupted', ended=?, error=?", (time.time(), reason))

    def requeue(self, trial_id: int) -> None:
        """Put a running or interrupted trial back to ``queued`` (resume after a crash)."""
        self._transition(
            trial_id,
            (RUNNING, INTERRUPTED, QUEUED),
            "status='queued', worker=NULL, device=NULL, started=NULL, ended=NULL, error=NULL",
            (),
        )

    # --------------------------------------------------------------- reads --
    @staticmethod
    def _trial(r: Mapping[str, Any]) -> Trial:
        return Trial(
            id=r["id"],
            search_id=r["search_id"],
            number=r["number"],
            params=_loads(r["params"]),
            params_hash=r["params_hash"],
            status=r["status"],
            value=r["value"],
            metrics=_loads(r["metrics"]) or {},
            history=_loads(r["history"]) or {},
            seed=r["seed"],
            worker=r["worker"],
            device=r["device"],
            created=r["created"],
            started=r["started"],
            ended=r["ended"],
            error=r["error"],
            cache_hit=bool(r["cache_hit"]),
            cached_from=r["cached_from"],
            intermediate=_loads(r.get("intermediate")) or [],  # absent from a store of version 2 or older
        )

    def get_trial(self, trial_id: int) -> Trial:
        """The trial with id ``trial_id`` (StoreError if none)."""
        rows = self._read("SELECT * FROM trials WHERE id = ?", (int(trial_id),))
        if not rows:
            raise StoreError(f"no trial with id {trial_id}")
        return self._trial(rows[0])

    def trials(self, status: str | Iterable[str] | None = None, *, search_id: int | None = None) -> list[Trial]:
        """Trials of a search in ``number`` order, optionally only those with ``status`` (one or several)."""
        sid = self._search_id(search_id)
        if status is None:
            rows = self._read("SELECT * FROM trials WHERE search_id = ? ORDER BY number", (sid,))
        else:
            statuses = [status] if isinstance(status, str) else list(status)
            bad = [s for s in statuses if s not in TRIAL_STATUSES]
            if bad:
                raise ValueError(f"unknown status {bad}; allowed: {list(TRIAL_STATUSES)}")
            marks = ",".join("?" * len(statuses))
            rows = self._read(
                f"SELECT * FROM trials WHERE search_id = ? AND status IN ({marks}) ORDER BY number", (sid, *statuses)
            )
        return [self._trial(r) for r in rows]

    def finished(self, *, search_id: int | None = None) -> list[Trial]:
        """Done, failed and pruned trials in the order they finished -- the order to replay through ``tell``."""
        sid = self._search_id(search_id)
        rows = self._read(
            "SELECT * FROM trials WHERE search_id = ? AND status IN ('done','failed','pruned') ORDER BY ended, id",
            (sid,),
        )
        return [self._trial(r) for r in rows]

    def reported(self, *, search_id: int | None = None) -> list[tuple[int | None, list[list[float]]]]:
        """``(seed, intermediate)`` of the search's done and pruned trials that reported values: a pruner's peers."""
        sid = self._search_id(search_id)
        if self._version < 3:
            return []  # nothing was reported before version 3
        rows = self._read(
            "SELECT seed, intermediate FROM trials WHERE search_id = ? AND status IN ('done','pruned') "
            "AND intermediate != '[]' ORDER BY ended, id",
            (sid,),
        )
        return [(r["seed"], _loads(r["intermediate"])) for r in rows]

    def running(self, *, search_id: int | None = None) -> list[Trial]:
        """Trials still marked ``running`` (after a crash: to :meth:`requeue` on resume)."""
        return self.trials(RUNNING, search_id=search_id)

    def find_done(self, params_hash: str, *, search_id: int | None = None, any_search: bool = False) -> Trial | None:
        """The cache: the first ``done`` trial with this params hash (in this search, or any with ``any_search``)."""
        if any_search:
            rows = self._read(
                "SELECT * FROM trials WHERE params_hash = ? AND status = 'done' ORDER BY id LIMIT 1", (params_hash,)
            )
        else:
            sid = self._search_id(search_id)
            rows = self._read(
                "SELECT * FROM trials WHERE params_hash = ? AND status = 'done' AND search_id = ? ORDER BY id LIMIT 1",
                (params_hash, sid),
            )
        return self._trial(rows[0]) if rows else None

    def best(self, direction: str = "minimize", *, search_id: int | None = None) -> Trial | None:
        """The done trial with the lowest (``minimize``) or highest (``maximize``) value; first on ties."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'minimize' or 'maximize'; received {direction!r}")
        sid = self._search_id(search_id)
        order = "ASC" if direction == "minimize" else "DESC"
        rows = self._read(
            f"SELECT * FROM trials WHERE search_id = ? AND status = 'done' AND value IS NOT NULL "
            f"ORDER BY value {order}, id ASC LIMIT 1",
            (sid,),
        )
        return self._trial(rows[0]) if rows else None

    def counts(self, *, search_id: int | None = None) -> dict[str, int]:
        """Number of trials per status (every status present, zeros included) plus ``cache_hits``."""
        sid = self._search_id(search_id)
        out = {s: 0 for s in TRIAL_STATUSES}
        for r in self._read("SELECT status, COUNT(*) AS n FROM trials WHERE search_id = ? GROUP BY status", (sid,)):
            out[r["status"]] = r["n"]
        out["cache_hits"] = self._read(
            "SELECT COUNT(*) AS n FROM trials WHERE search_id = ? AND cache_hit = 1", (sid,)
        )[0]["n"]
        return out

    # ----------------------------------------------------------------- meta --
    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-able ``value`` under ``key`` (e.g. the best model's path)."""
        self.update_meta({key: value})

    def update_meta(self, values: Mapping[str, Any]) -> None:
        """Store several JSON-able values in one transaction: all of them are written, or none."""
        with self._write() as c:
            c.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(str(k), _dumps(v)) for k, v in values.items()],
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        rows = self._read("SELECT value FROM meta WHERE key = ?", (str(key),))
        return _loads(rows[0]["value"]) if rows else default

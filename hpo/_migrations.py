"""Upgrades of older trial stores -- and the only code that reads an application's configuration layout.

Schema version 1 (hpo up to commit cbbd815) kept no engine facts in the ``search`` row:
the report found the objective's name and direction, the strategy, the executor and
the rest by reading the application's configuration, in either of two layouts:

* flat, the engine's own keys: ``metric``, ``direction``, ``strategy`` (a name),
  ``strategy_settings``, ``executor`` (a name), ``workers``, ``synchronous``,
  ``batch_size``, ``budget``, ``space``, ``seed``;
* nested, as keras-geo's YAML: ``objective: {metric, direction}``,
  ``strategy: {name, settings}``, ``executor: {name, workers}``, ``mode: sync|async``
  (a flat key wins over its nested counterpart).

Version 2 records those facts in the row: ``metric``, ``direction`` and ``engine`` (the
search loop's record of a run, see :func:`hpo.loop.engine_record`). Upgrading a
version-1 store fills them once from each search's old configuration with the old
reading (:func:`v1_search_fields`); the store also reads the rows of a version-1 file it
does not write through it. Nothing else in hpo interprets an application's configuration:
keep that reading here, frozen, and do not use it for new stores.

Version 3 adds pruning: the trial status ``pruned`` (SQLite cannot change a CHECK
constraint, so the ``trials`` table is rebuilt with its rows, ids and indexes) and the
``intermediate`` column (the values a trial reported while it trained, ``[]`` for the
trials of older versions).

Each upgrade runs inside the write transaction of the :class:`~hpo.store.TrialStore`
that found the older version (schema changes are transactional in SQLite): a crash
during an upgrade leaves the file as it was.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

__all__ = ["upgrade", "v1_search_fields"]

# The columns version 2 added to ``search``, as ``ALTER TABLE ... ADD COLUMN`` takes them (frozen:
# the schema of version 2 in hpo.store must stay equal to a version-1 store upgraded with these).
_V2_SEARCH_COLUMNS = (
    "metric    TEXT NOT NULL DEFAULT 'value'",
    "direction TEXT NOT NULL DEFAULT 'minimize' CHECK (direction IN ('minimize','maximize'))",
    "engine    TEXT NOT NULL DEFAULT '{}'",
)

# Engine record keys a version-1 configuration could hold under the same name (flat layout).
_V1_FLAT_KEYS = (
    "strategy",
    "strategy_settings",
    "space",
    "executor",
    "workers",
    "synchronous",
    "batch_size",
    "budget",
    "seed",
)


def v1_search_fields(config: Any) -> tuple[str, str, dict[str, Any]]:
    """``(metric, direction, engine record)`` of a version-1 search, read from its configuration.

    The reading of version 1's report, in either layout (see the module docstring); a
    direction that is neither ``minimize`` nor ``maximize`` reads as ``minimize``, a
    missing metric as ``value``.
    """
    if not isinstance(config, Mapping):
        return "value", "minimize", {}
    view = dict(config)
    objective = config.get("objective")
    if isinstance(objective, Mapping):
        view.setdefault("direction", objective.get("direction"))
        view.setdefault("metric", objective.get("metric"))
    strategy = config.get("strategy")
    if isinstance(strategy, Mapping):
        view["strategy"] = strategy.get("name")
        view.setdefault("strategy_settings", strategy.get("settings") or {})
    executor = config.get("executor")
    if isinstance(executor, Mapping):
        view["executor"] = executor.get("name")
        view.setdefault("workers", 1 if executor.get("name") == "serial" else executor.get("workers"))
    if "mode" in config:
        view.setdefault("synchronous", config.get("mode") == "sync")
    direction = view.get("direction")
    direction = direction if direction in ("minimize", "maximize") else "minimize"
    metric = str(view.get("metric") or "value")
    engine = {key: view[key] for key in _V1_FLAT_KEYS if view.get(key) is not None}
    return metric, direction, engine


def _v1_to_v2(c: sqlite3.Connection) -> None:
    for column in _V2_SEARCH_COLUMNS:
        c.execute(f"ALTER TABLE search ADD COLUMN {column}")
    for search_id, config in c.execute("SELECT id, config FROM search").fetchall():
        metric, direction, engine = v1_search_fields(json.loads(config))
        c.execute(
            "UPDATE search SET metric = ?, direction = ?, engine = ? WHERE id = ?",
            (metric, direction, json.dumps(engine, allow_nan=False, separators=(",", ":")), search_id),
        )


# The trials table and its indexes of version 3 (frozen: equal to hpo.store's schema of version 3).
_V3_TRIALS = """
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
CREATE INDEX trials_status ON trials (search_id, status)
"""
_V2_TRIAL_COLUMNS = (
    "id, search_id, number, params, params_hash, status, value, metrics, history, seed, worker, device, "
    "created, started, ended, error, cache_hit, cached_from"
)


def _v2_to_v3(c: sqlite3.Connection) -> None:
    # The old table moves aside (its self-reference follows the rename), the new one takes its
    # name and rows, and the old one goes: no foreign key ever points at a missing row.
    c.execute("ALTER TABLE trials RENAME TO trials_v2")
    create, *indexes = [s for s in _V3_TRIALS.split(";") if s.strip()]
    c.execute(create)
    c.execute(f"INSERT INTO trials ({_V2_TRIAL_COLUMNS}) SELECT {_V2_TRIAL_COLUMNS} FROM trials_v2 ORDER BY id")
    c.execute("DROP TABLE trials_v2")
    for index in indexes:
        c.execute(index)


#: version -> the step that upgrades a store of that version to the next one.
_STEPS = {1: _v1_to_v2, 2: _v2_to_v3}


def upgrade(c: sqlite3.Connection, version: int) -> None:
    """Upgrades a store of schema ``version`` step by step to the newest, inside the open transaction.

    The caller sets ``PRAGMA user_version`` afterwards, in the same transaction.
    """
    while version in _STEPS:
        _STEPS[version](c)
        version += 1

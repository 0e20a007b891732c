"""Experiments in a SQL store (migration 5): one row per experiment, its definition as JSON.

Functions over a :class:`~shopsage.data.stores.sql.SqlStore`, behind its ``write_experiment``,
``experiments`` and ``stop_experiment`` methods. The store keeps the definition as plain JSON and
validates nothing about it: :mod:`shopsage.experiments` owns the type (imports point one way).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from shopsage.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from shopsage.data.stores.sql import SqlStore

__all__ = ["write_experiment", "read_experiments", "stop_experiment"]


def write_experiment(store: SqlStore, definition: dict[str, Any], replace: bool = False) -> None:
    """Store a new experiment (``definition`` holds at least ``name`` and ``scope``); an existing name is a
    :class:`ValidationError` unless ``replace``."""
    name, scope = str(definition["name"]), str(definition["scope"])
    status = str(definition.get("status", "running"))
    created = float(definition.get("created_at") or time.time())
    body = json.dumps({**definition, "created_at": created}, sort_keys=True)
    with store.transaction():
        found = store._query("SELECT 1 FROM experiments WHERE name = ?", (name,))
        if found and not replace:
            raise ValidationError(f"an experiment named {name!r} exists already: choose another name (names stay "
                                  "unique so that old exposures keep meaning what they meant)")
        if found:
            store._exec("DELETE FROM experiments WHERE name = ?", (name,))
        store._exec("INSERT INTO experiments (name, scope, status, definition, created_at, stopped_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (name, scope, status, body, created, definition.get("stopped_at")))


def read_experiments(store: SqlStore, name: str | None = None) -> list[dict[str, Any]]:
    """Every stored experiment's definition (or only ``name``'s), oldest first, with its current status
    and stop time."""
    sql = "SELECT definition, status, stopped_at FROM experiments"
    rows = store._query(sql + " WHERE name = ?" if name is not None else sql + " ORDER BY created_at, name",
                        (name,) if name is not None else ())
    return [{**json.loads(d), "status": str(s), "stopped_at": None if t is None else float(t)} for d, s, t in rows]


def stop_experiment(store: SqlStore, name: str) -> float:
    """Mark ``name`` stopped (idempotent: a stopped experiment keeps its first stop time); returns the
    stop time."""
    with store.transaction():
        rows = store._query("SELECT status, stopped_at FROM experiments WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(f"no experiment named {name!r}: `shopsage experiments list` shows them")
        if rows[0][0] == "stopped" and rows[0][1] is not None:
            return float(rows[0][1])
        at = time.time()
        store._exec("UPDATE experiments SET status = 'stopped', stopped_at = ? WHERE name = ?", (at, name))
        return at

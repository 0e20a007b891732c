"""Exposures in a SQL store: what the service showed, and the events attributed to it.

Functions over a :class:`~shopsage.data.stores.sql.SqlStore`, behind its ``write_exposures``,
``read_exposures`` and ``read_attributed`` methods (as :mod:`~shopsage.data.stores.ledger` is behind
the exactly-once ingest). The table is migration 4: one row per ``(exposure_id, position)``.

Exposures are facts, like events: a row stored again with the same content is already present, with
other content it is a conflict (the import runner quarantines it; the live writer never repeats an
id). Reads page through the table by key (never holding the store's lock between pages), so a
reader streams any number of rows in bounded memory. Attribution itself, which exposure a click
belongs to, is :mod:`shopsage.feedback.attribution`'s rule; this module only fetches what it needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from shopsage.data.rows import WriteResult
from shopsage.data.stores import tombstones
from shopsage.feedback.attribution import DEFAULT_WINDOW_S, Outcome, attribute, reference
from shopsage.feedback.records import ATTRIBUTED_TYPES, EXPOSURE_KINDS, AttributedEvent, ExposureRow

if TYPE_CHECKING:
    from shopsage.data.stores.sql import SqlStore

__all__ = ["write_exposures", "read_exposures", "read_attributed", "erase_exposures", "COLUMNS"]

COLUMNS = ("exposure_id", "position", "kind", "scenario", "experiment", "variant", "user_id", "session_id", "item",
           "propensity", "ts", "query", "variant_propensity")
"""The table's columns, in :class:`~shopsage.feedback.records.ExposureRow`'s field order."""
_PAGE = 10_000
_CHUNK = 900


def _invalid(r: ExposureRow) -> str | None:
    if not r.exposure_id or not r.item:
        return "refused: an exposure needs an id and an item"
    if r.position < 1:
        return f"refused: position {r.position} is not 1-based"
    if r.kind not in EXPOSURE_KINDS:
        return f"refused: kind {r.kind!r} is not one of {', '.join(EXPOSURE_KINDS)}"
    if r.propensity is not None and not 0.0 < r.propensity <= 1.0:
        return f"refused: propensity {r.propensity} is not in (0, 1]"
    if r.variant_propensity is not None and not 0.0 < r.variant_propensity <= 1.0:
        return f"refused: variant_propensity {r.variant_propensity} is not in (0, 1]"
    return None


def _row(v: Sequence[Any]) -> ExposureRow:
    return ExposureRow(str(v[0]), int(v[1]), v[2], v[3], v[4], v[5], v[6], v[7], v[8],
                       None if v[9] is None else float(v[9]), float(v[10]), v[11], None if v[12] is None else float(v[12]))


def _stored(store: SqlStore, ids: Sequence[str]) -> dict[tuple[str, int], ExposureRow]:
    out: dict[tuple[str, int], ExposureRow] = {}
    for values in store._lookup("exposures", "exposure_id", list(dict.fromkeys(ids)), ", ".join(COLUMNS)):
        r = _row(values)
        out[(r.exposure_id, r.position)] = r
    return out


def write_exposures(store: SqlStore, rows: Sequence[ExposureRow]) -> WriteResult:
    """Store new exposures in one transaction; identical ones count as present, a stored key with other
    content (or an invalid row, or one shown to an erased user or session) is a conflict, indexed by
    position in ``rows``."""
    res = WriteResult()
    if not rows:
        return res
    with store.transaction():
        erased = set(tombstones.erased_positions(store, [r.user_id for r in rows], [r.session_id for r in rows]))
        stored = _stored(store, [r.exposure_id for r in rows])
        fresh: list[tuple[Any, ...]] = []
        for i, r in enumerate(rows):
            why = tombstones.ERASED_REASON if i in erased else _invalid(r)
            if why is not None:
                res.conflicts.append((i, why))
                continue
            r = ExposureRow(*r)  # a subclass or a plain tuple compares as the stored row does
            prior = stored.get((r.exposure_id, r.position))
            if prior is None:
                stored[(r.exposure_id, r.position)] = r
                fresh.append(tuple(r))
            elif prior == r:
                res.already_present += 1
            else:
                res.conflicts.append((i, f"conflicting duplicate: exposure {r.exposure_id} position {r.position} "
                                         "is already stored with other content"))
        inserted = store._bulk_insert("exposures", COLUMNS, fresh) if fresh else 0
        res.inserted += inserted
        res.already_present += len(fresh) - inserted  # a concurrent writer stored them first
    return res


def _where(experiment: str | None, since: float | None, prefix: str = "") -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if experiment is not None:
        where.append(f"{prefix}experiment = ?")
        params.append(experiment)
    if since is not None:
        where.append(f"{prefix}ts >= ?")
        params.append(float(since))
    return where, params


def read_exposures(store: SqlStore, experiment: str | None = None, since: float | None = None) -> Iterator[ExposureRow]:
    """Every exposure (of ``experiment``, at or after ``since``), by time, then id and position."""
    where, params = _where(experiment, since)
    last: tuple[float, str, int] | None = None
    cols = ", ".join(COLUMNS)
    while True:
        page_where = list(where)
        page_params = list(params)
        if last is not None:
            page_where.append("(ts > ? OR (ts = ? AND (exposure_id > ? OR (exposure_id = ? AND position > ?))))")
            page_params += [last[0], last[0], last[1], last[1], last[2]]
        clause = f"WHERE {' AND '.join(page_where)}" if page_where else ""
        rows = store._query(f"SELECT {cols} FROM exposures {clause} ORDER BY ts, exposure_id, position LIMIT ?",
                            [*page_params, _PAGE])
        for values in rows:
            yield _row(values)
        if len(rows) < _PAGE:
            return
        r = rows[-1]
        last = (float(r[10]), str(r[0]), int(r[1]))


def _outcomes(store: SqlStore, since: float | None, after: int) -> list[Outcome]:
    """The next page of clicks, carts and purchases (by row id), with their exposure references."""
    marks = ",".join("?" * len(ATTRIBUTED_TYPES))
    where = [f"e.type IN ({marks})", "e.id > ?", "e.item_id IS NOT NULL"]
    params: list[Any] = [*ATTRIBUTED_TYPES, after]
    if since is not None:
        where.append("e.ts >= ?")
        params.append(float(since))
    rows = store._query(
        "SELECT e.id, e.type, e.value, e.ts, u.ext_id, e.session, i.ext_id, e.context FROM events e "
        "LEFT JOIN users u ON u.id = e.user_id JOIN items i ON i.id = e.item_id "
        f"WHERE {' AND '.join(where)} ORDER BY e.id LIMIT ?", [*params, _PAGE])
    out = []
    for eid, typ, value, ts, user, session, item, ctx in rows:
        ref, position = reference(json.loads(ctx) if ctx else None)
        out.append(Outcome(int(eid), str(typ), None if value is None else float(value),
                           None if ts is None else float(ts), user, session, str(item), ref, position))
    return out


def _candidates(store: SqlStore, outcomes: list[Outcome], window_s: float) -> list[ExposureRow]:
    """Exposures an outcome of the page may be attributed to: those it names, and those of its items
    within the window before it."""
    cols = ", ".join(COLUMNS)
    found: dict[tuple[str, int], ExposureRow] = {}
    named = [o.reference for o in outcomes if o.reference is not None]
    if named:
        found.update(_stored(store, named))
    timed = [o for o in outcomes if o.ts is not None]
    if timed:
        lo = min(o.ts for o in timed) - window_s  # type: ignore[type-var,operator]
        hi = max(o.ts for o in timed)  # type: ignore[type-var]
        items = list(dict.fromkeys(o.item for o in timed))
        for i in range(0, len(items), _CHUNK):
            chunk = items[i:i + _CHUNK]
            for values in store._query(f"SELECT {cols} FROM exposures WHERE item IN ({','.join('?' * len(chunk))}) "
                                       "AND ts >= ? AND ts <= ?", [*chunk, lo, hi]):
                r = _row(values)
                found[(r.exposure_id, r.position)] = r
    return list(found.values())


def read_attributed(store: SqlStore, experiment: str | None = None, since: float | None = None,
                    window_s: float = DEFAULT_WINDOW_S) -> Iterator[AttributedEvent]:
    """Clicks, carts and purchases (at or after ``since``) with the exposure each is attributed to
    (:func:`shopsage.feedback.attribution.attribute`), in event order; with ``experiment``, only those
    attributed to that experiment's exposures. Events attributed to no exposure are left out."""
    after = 0
    while True:
        page = _outcomes(store, since, after)
        if not page:
            return
        for a in attribute(page, _candidates(store, page, window_s), window_s):
            if experiment is None or a.experiment == experiment:
                yield a
        if len(page) < _PAGE:
            return
        after = page[-1].event_id


def erase_exposures(store: SqlStore, user: str | None, sessions: Sequence[str]) -> int:
    """Delete the exposures shown to ``user`` or in any of ``sessions`` (inside the caller's transaction)."""
    n = 0
    if user is not None:
        n += max(store._exec("DELETE FROM exposures WHERE user_id = ?", (user,)).rowcount, 0)
    sessions = list(sessions)
    for i in range(0, len(sessions), _CHUNK):
        chunk = sessions[i:i + _CHUNK]
        n += max(store._exec(f"DELETE FROM exposures WHERE session_id IN ({','.join('?' * len(chunk))})",
                             chunk).rowcount, 0)
    return n

"""``shopsage export ubi``: the store's exposures and attributed events as OpenSearch UBI JSON Lines.

Writes ``ubi_queries.jsonl`` (one UBI query per answer: ``query_id``, ``user_query``, ``client_id``,
``timestamp``, ``query_response_hit_ids`` in position order, and in ``query_attributes`` what UBI
has no field for: ``kind``, ``scenario``, ``experiment``, ``variant``, ``variant_propensity`` (when the
variant was drawn by a bandit), ``user_id``, ``session_id``, ``propensities``, and ``first_position``
for a later page of a search: positions, in answers and in events' ``position.ordinal``, count from the
first result of the first page) and ``ubi_events.jsonl`` (one UBI event per attributed click,
add-to-cart or purchase: ``action_name``, the ``query_id`` it is attributed to,
``event_attributes.object.object_id`` and ``position.ordinal``, ``value``; ``recomm_id`` when the answer was a recommendation). The ``ubi``
importer (:mod:`shopsage.data.importers.ubi`) reads both back: an export imported into an empty
store exports the same files again.

Recommendation answers are written as UBI queries too (``application`` ``shopsage-recommendations``,
an empty ``user_query``), so one UBI tool reads both. An event attributed implicitly is written with
the ``query_id`` it was attributed to (UBI has no "implicit"); events known by order only (no time)
are left out, UBI requires a timestamp. User and session ids are written as stored: the keyed
pseudonyms, unless the shop keeps raw ids. Search queries are stored scrubbed (and are decrypted
here with ``SHOPSAGE_FIELD_KEY`` when they were stored encrypted).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopsage.data.importers.ubi import ACTION_OF, EVENTS_FILE, QUERIES_FILE, RECOMMENDATIONS_APPLICATION
from shopsage.data.stores.base import StoreReader
from shopsage.errors import FieldKeyError
from shopsage.feedback.records import AttributedEvent, ExposureRow
from shopsage.privacy.cipher import FIELD_KEY_ENV, FieldCipher, is_encrypted

__all__ = ["export_ubi", "query_documents", "event_documents", "document_line"]


def iso(ts: float) -> str:
    """Epoch seconds as UBI's ISO 8601 time, UTC with a ``Z`` (what OpenSearch requires), to the microsecond."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _answers(rows: Iterator[ExposureRow]) -> Iterator[list[ExposureRow]]:
    """Rows of one answer at a time (the store reads them by time, then id: an answer's rows are adjacent)."""
    current: list[ExposureRow] = []
    for r in rows:
        if current and r.exposure_id != current[0].exposure_id:
            yield current
            current = []
        current.append(r)
    if current:
        yield current


def _reveal(query: str | None, cipher: FieldCipher | None) -> str | None:
    if query is None or not is_encrypted(query):
        return query
    if cipher is None:
        raise FieldKeyError(f"the store's search queries are encrypted: set {FIELD_KEY_ENV} to the key they were "
                            "written with to export them")
    return cipher.decrypt(query, "query")


def query_documents(rows: Iterator[ExposureRow], cipher: FieldCipher | None = None) -> Iterator[dict[str, Any]]:
    """One UBI query document per answer."""
    for shown in _answers(rows):
        first = shown[0]
        shown.sort(key=lambda r: r.position)
        attrs: dict[str, Any] = {"kind": first.kind, "scenario": first.scenario, "user_id": first.user_id,
                                 "session_id": first.session_id, "propensities": [r.propensity for r in shown]}
        if first.experiment is not None:
            attrs.update(experiment=first.experiment, variant=first.variant)
        if first.variant_propensity is not None:
            attrs["variant_propensity"] = first.variant_propensity
        if shown[0].position != 1:  # a later page of a search: positions count from the first page
            attrs["first_position"] = shown[0].position
        yield {"query_id": first.exposure_id,
               "application": "shopsage-search" if first.kind == "search" else RECOMMENDATIONS_APPLICATION,
               "user_query": _reveal(first.query, cipher) or "", "client_id": first.session_id or first.user_id or "",
               "timestamp": iso(first.ts), "object_id_field": "id",
               "query_response_hit_ids": [r.item for r in shown], "query_attributes": attrs}


def event_documents(events: Iterator[AttributedEvent]) -> Iterator[dict[str, Any]]:
    """One UBI event document per attributed event that has a time."""
    for a in events:
        if a.ts is None:
            continue
        attrs: dict[str, Any] = {"object": {"object_id": a.item, "object_id_field": "id"},
                                 "position": {"ordinal": a.position}}
        if a.value is not None:
            attrs["value"] = a.value
        if a.kind == "recommendation":
            attrs["recomm_id"] = a.exposure_id
        yield {"action_name": ACTION_OF[a.type], "query_id": a.exposure_id, "user_id": a.user_id,
               "session_id": a.session_id, "client_id": a.session_id or a.user_id or "", "timestamp": iso(a.ts),
               "message_type": "CLICK" if a.type == "click" else "CONVERSION", "event_attributes": attrs}


def document_line(doc: dict[str, Any]) -> str:
    """One UBI document as the export writes it: one line of compact JSON, non-ASCII kept as UTF-8."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"


def _write(path: Path, docs: Iterator[dict[str, Any]]) -> int:
    """Write JSON Lines through a temporary file renamed at the end: a killed export leaves no half file."""
    tmp = path.with_name(path.name + ".part")
    n = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(document_line(d))
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    return n


def export_ubi(store: StoreReader, folder: Path, since: float | None = None,
               experiment: str | None = None) -> dict[str, int]:
    """Write ``folder/ubi_queries.jsonl`` and ``folder/ubi_events.jsonl`` (answers and attributed events at or
    after ``since``, of ``experiment`` when given); returns how many documents each holds."""
    folder.mkdir(parents=True, exist_ok=True)
    cipher = FieldCipher.from_env()
    queries = _write(folder / QUERIES_FILE, query_documents(store.read_exposures(experiment, since), cipher))
    events = _write(folder / EVENTS_FILE, event_documents(store.read_attributed(experiment, since)))
    return {"queries": queries, "events": events}

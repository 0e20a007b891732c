"""``ubi``: OpenSearch User Behavior Insights (UBI 1.x) queries and events, as JSON Lines.

A folder with ``ubi_queries.jsonl`` and/or ``ubi_events.jsonl`` (one UBI document a line, as the
``ubi_queries`` and ``ubi_events`` indexes hold them; ``shopsage export ubi`` writes the same two files).

- A **query** (``query_id``, ``user_query``, ``client_id``, ``timestamp``, ``query_response_hit_ids``)
  becomes the exposures of one answer: hit ``k`` of ``query_response_hit_ids`` at position ``k``
  (1-based; from ``query_attributes.first_position`` for a later page), kind ``search``.
  ``query_attributes`` may carry what a UBI query has no field for and
  ShopSage's export writes: ``kind`` (``recommendation``), ``scenario``, ``experiment``,
  ``variant``, ``user_id``, ``session_id``, ``propensities`` (one per hit). The session is
  ``query_attributes.session_id`` when the key is there (null: none), else ``client_id``. A query without hits showed nothing, so it has
  no exposure to store: it is quarantined with that reason (still counted, still visible).
- An **event** (``action_name``, ``query_id``, ``timestamp``, ``event_attributes.object.object_id``,
  ``event_attributes.position.ordinal``, ``user_id``, ``session_id`` (or ``event_attributes.session_id``;
  without either key, ``client_id``)) becomes an event whose context names the
  answer (``context.query_id``, or ``recomm_id`` when ``event_attributes.recomm_id`` says so) and
  the position, so it is attributed to that exposure. Actions: ``click`` and ``click_through`` ->
  click, ``add_to_cart``, ``purchase``, ``view`` and ``watch`` -> view, ``impression``, ``on_search``
  -> search (its ``message`` is the query); ``event_attributes.value`` is the event's value. Other
  actions (``product_hover``, ``brand_filter``, ``login``...) are quarantined with the reason.

Every line is read with the import limits; a bad line (not JSON, no ``query_id``, a timestamp
without a time zone, an unknown action, an id with control characters...) goes to the quarantine
with its reason and the rest is stored. Ids are pseudonymised and queries scrubbed on the way in by
the shop's privacy edge, as every import is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shopsage.data.cleaning import BadValue, check_id, check_json_value, check_text, parse_timestamp
from shopsage.data.importers._lines import read_lines
from shopsage.data.importers.base import Importer, Record, Reject, source_name
from shopsage.data.importers.table import TableImporter
from shopsage.data.rows import EventRow, RowKey
from shopsage.errors import ImportFormatError
from shopsage.feedback.records import EXPOSURE_KINDS, ExposureRow

__all__ = ["UbiImporter", "QUERIES_FILE", "EVENTS_FILE", "ACTIONS", "ACTION_OF", "RECOMMENDATIONS_APPLICATION"]

QUERIES_FILE = "ubi_queries.jsonl"
EVENTS_FILE = "ubi_events.jsonl"
RECOMMENDATIONS_APPLICATION = "shopsage-recommendations"
"""The ``application`` of exported recommendation answers (search answers: ``shopsage-search``)."""

ACTIONS: dict[str, str] = {"click": "click", "click_through": "click", "add_to_cart": "add_to_cart",
                           "purchase": "purchase", "view": "view", "watch": "view", "impression": "impression",
                           "on_search": "search"}
"""UBI ``action_name`` -> ShopSage event type."""
ACTION_OF: dict[str, str] = {"click": "click", "add_to_cart": "add_to_cart", "purchase": "purchase", "view": "view",
                             "impression": "impression", "search": "on_search"}
"""ShopSage event type -> UBI ``action_name`` (the export's)."""


def _id(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadValue(f"{what} must be a string or an integer")
    return check_id(str(value), what)


def _opt_id(value: Any, what: str) -> str | None:
    return None if value is None or value == "" else _id(value, what)


def _obj(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadValue(f"{what} must be a JSON object")
    return value


class UbiImporter(Importer):
    format = "ubi"
    description = f"a folder with {QUERIES_FILE} and/or {EVENTS_FILE} (OpenSearch User Behavior Insights)"

    def records(self) -> Iterator[Record]:
        if not self.path.is_dir():
            raise ImportFormatError(f"{self.path} is not a folder; the ubi format reads a folder with {QUERIES_FILE} "
                                    f"and/or {EVENTS_FILE} (one UBI document per line).")
        files = [(self.path / name, parse) for name, parse in ((QUERIES_FILE, self._query), (EVENTS_FILE, self._event))
                 if (self.path / name).is_file()]
        if not files:
            raise ImportFormatError(f"{self.path} holds neither {QUERIES_FILE} nor {EVENTS_FILE}: export them from the "
                                    "ubi_queries and ubi_events indexes as JSON Lines, one document a line.")
        for path, parse in files:
            src = source_name(path)
            for line in read_lines(path, limits=self.limits):
                if line.text is None:
                    yield line.reject(src)
                    continue
                doc, problem = TableImporter._json(self, line.text)  # type: ignore[arg-type]  # needs only .limits
                if doc is None:
                    yield line.reject(src, problem)
                    continue
                try:
                    check_json_value(doc, "the document", self.limits.max_depth, self.limits.max_field_chars)
                    yield from parse(doc, RowKey(src, line.lineno, 0))
                except BadValue as exc:
                    yield line.reject(src, str(exc))

    def _query(self, doc: dict[str, Any], key: RowKey) -> Iterator[Record]:
        qid = _id(doc.get("query_id"), "query_id")
        attrs = _obj(doc.get("query_attributes"), "query_attributes")
        hits = doc.get("query_response_hit_ids") or []
        if not isinstance(hits, list):
            raise BadValue("query_response_hit_ids must be a list of ids")
        items = [_id(h, "a hit id") for h in hits]
        if len(set(items)) != len(items):
            raise BadValue("query_response_hit_ids names an id twice: an answer shows each item once")
        ts = parse_timestamp(doc.get("timestamp"))
        kind = attrs.get("kind", "search")
        if kind not in EXPOSURE_KINDS:
            raise BadValue(f"query_attributes.kind {kind!r} is not one of {', '.join(EXPOSURE_KINDS)}")
        probs = attrs.get("propensities")
        if probs is not None and (not isinstance(probs, list) or len(probs) != len(items) or not all(
                p is None or (isinstance(p, int | float) and not isinstance(p, bool) and 0 < p <= 1) for p in probs)):
            raise BadValue("query_attributes.propensities must hold one probability in (0, 1] (or null) per hit")
        query = doc.get("user_query")
        if query is not None and not isinstance(query, str):
            raise BadValue("user_query must be a string")
        query = check_text(query, "user_query", self.limits.max_field_chars) or None
        scenario = attrs.get("scenario") or "search"
        names = {k: _opt_id(attrs.get(k), f"query_attributes.{k}") for k in ("experiment", "variant", "user_id",
                                                                              "session_id")}
        session = names["session_id"] if "session_id" in attrs else _opt_id(doc.get("client_id"), "client_id")
        if not items:
            yield Reject(key, "a query with no hits shows nothing: no exposure to store", "")  # counted, kept visible
            return
        first = attrs.get("first_position", 1)
        if isinstance(first, bool) or not isinstance(first, int) or first < 1:
            raise BadValue("query_attributes.first_position must be a positive integer")
        for i, item in enumerate(items):
            yield ExposureRow(qid, first + i, kind, _id(scenario, "query_attributes.scenario"), names["experiment"],
                              names["variant"], names["user_id"], session, item,
                              1.0 if probs is None else None if probs[i] is None else float(probs[i]), ts,
                              query if kind == "search" else None)

    def _event(self, doc: dict[str, Any], key: RowKey) -> Iterator[Record]:
        action = doc.get("action_name")
        if not isinstance(action, str) or action not in ACTIONS:
            shown = repr(action)[:60]
            raise BadValue(f"action_name {shown} is not one ShopSage stores ({', '.join(ACTIONS)})")
        typ = ACTIONS[action]
        attrs = _obj(doc.get("event_attributes"), "event_attributes")
        obj = _obj(attrs.get("object"), "event_attributes.object")
        item = _opt_id(obj.get("object_id"), "event_attributes.object.object_id")
        message = doc.get("message")
        query = check_text(message, "message", self.limits.max_field_chars) if isinstance(message, str) else None
        if typ == "search" and not query:
            raise BadValue("an on_search event needs its query in message")
        if typ != "search" and item is None:
            raise BadValue(f"a {action} event needs event_attributes.object.object_id")
        user = _opt_id(doc.get("user_id"), "user_id")
        where = doc if "session_id" in doc else attrs if "session_id" in attrs else {"session_id": doc.get("client_id")}
        session = _opt_id(where.get("session_id"), "session_id")
        if user is None and session is None:
            raise BadValue("an event needs a user_id, a session_id or a client_id")
        ordinal = _obj(attrs.get("position"), "event_attributes.position").get("ordinal")
        if ordinal is not None and (isinstance(ordinal, bool) or not isinstance(ordinal, int) or ordinal < 0):
            raise BadValue("event_attributes.position.ordinal must be a non-negative integer")
        qid = _opt_id(doc.get("query_id"), "query_id")
        value = attrs.get("value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise BadValue("event_attributes.value must be a number")
        context: dict[str, Any] = {}
        if qid is not None:
            context["recomm_id" if attrs.get("recomm_id") == qid else "query_id"] = qid
        if ordinal is not None:
            context["position"] = ordinal
        yield EventRow(key, typ, item, user, session, query if typ == "search" else None,
                       None if value is None else float(value), parse_timestamp(doc.get("timestamp")), None, None,
                       context or None)


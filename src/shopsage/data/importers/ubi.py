"""``ubi``: OpenSearch User Behavior Insights (UBI 1.x) queries and events, as JSON Lines.

A folder with ``ubi_queries.jsonl`` and/or ``ubi_events.jsonl`` (one UBI document a line, as the
``ubi_queries`` and ``ubi_events`` indexes hold them; ``shopsage export ubi`` writes the same two files).

- A **query** (``query_id``, ``user_query``, ``client_id``, ``timestamp``, ``query_response_hit_ids``)
  becomes the exposures of one answer: hit ``k`` of ``query_response_hit_ids`` at position ``k``
  (1-based; from ``query_attributes.first_position`` for a later page), kind ``search``.
  ``query_attributes`` may carry what a UBI query has no field for and
  ShopSage's export writes: ``kind`` (``recommendation``), ``scenario``, ``experiment``,
  ``variant``, ``variant_propensity`` (the probability the variant had: a bandit-allocated experiment),
  ``user_id``, ``session_id``, ``propensities`` (one per hit). The session is
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
without a time zone, not a time (a boolean, a list...) or outside 1970..3000, an unknown action, an
id with control characters, a value of the wrong JSON type...) goes to the quarantine with its reason
and the rest is stored. Within a file, a ``query_id`` read again is quarantined as an exact duplicate of its first line (or a conflicting
one when the answer differs), and so is an event document repeated whole; an answer already stored
by an earlier import counts as already present (other content: a conflict, quarantined at its
line). Ids are pseudonymised and queries scrubbed on the way in by the shop's privacy edge, as
every import is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shopsage.data.cleaning import BadValue, check_id, check_json_value, check_text, parse_timestamp
from shopsage.data.importers._lines import json_object, read_lines
from shopsage.data.importers.base import Importer, Record, ShownAnswer, source_name
from shopsage.data.rows import EventRow, RowKey
from shopsage.errors import ImportFormatError
from shopsage.feedback.records import EXPOSURE_KINDS, ExposureRow

__all__ = ["UbiImporter", "QUERIES_FILE", "EVENTS_FILE", "ACTIONS", "ACTION_OF", "RECOMMENDATIONS_APPLICATION",
           "MAX_POSITION"]

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


MAX_POSITION = 2**31 - 1
"""Largest position an answer can show an item at (the store's 32-bit position column)."""


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


def _shown(value: Any) -> str:
    """A value for a reason, cut short (a 100,000-character kind must not become a 100,000-character reason)."""
    return repr(value)[:60]


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
        seen: dict[Any, tuple[int, int]] = {}  # query_id (or a whole event) -> (its first line, its rows' digest)
        for path, parse in files:
            src = source_name(path)
            seen.clear()
            for line in read_lines(path, limits=self.limits):
                if line.text is None:
                    yield line.reject(src)
                    continue
                doc, problem = json_object(line.text, self.limits)
                if doc is None:
                    yield line.reject(src, problem)
                    continue
                try:
                    check_json_value(doc, "the document", self.limits.max_depth, self.limits.max_field_chars)
                    yield _first_time(parse(doc, RowKey(src, line.lineno, 0)), seen, line.lineno)
                except BadValue as exc:
                    yield line.reject(src, str(exc))

    def _query(self, doc: dict[str, Any], key: RowKey) -> tuple[str, ShownAnswer]:
        qid = _id(doc.get("query_id"), "query_id")
        attrs = _obj(doc.get("query_attributes"), "query_attributes")
        hits = doc.get("query_response_hit_ids")
        if hits is not None and not isinstance(hits, list):
            raise BadValue("query_response_hit_ids must be a list of ids")
        items = [_id(h, "a hit id") for h in hits or ()]
        if len(set(items)) != len(items):
            raise BadValue("query_response_hit_ids names an id twice: an answer shows each item once")
        ts = parse_timestamp(doc.get("timestamp"))
        kind = attrs.get("kind", "search")
        if kind not in EXPOSURE_KINDS:
            raise BadValue(f"query_attributes.kind {_shown(kind)} is not one of {', '.join(EXPOSURE_KINDS)}")
        probs = attrs.get("propensities")
        if probs is not None and (not isinstance(probs, list) or len(probs) != len(items) or not all(
                p is None or (isinstance(p, int | float) and not isinstance(p, bool) and 0 < p <= 1) for p in probs)):
            raise BadValue("query_attributes.propensities must hold one probability in (0, 1] (or null) per hit")
        chance = attrs.get("variant_propensity")
        if chance is not None and (isinstance(chance, bool) or not isinstance(chance, int | float) or not 0 < chance <= 1):
            raise BadValue(f"query_attributes.variant_propensity {_shown(chance)} must be a probability in (0, 1] "
                           "(or null)")
        query = doc.get("user_query")
        if query is not None and not isinstance(query, str):
            raise BadValue("user_query must be a string")
        query = check_text(query, "user_query", self.limits.max_field_chars) or None
        scenario = _id(attrs.get("scenario") or "search", "query_attributes.scenario")
        names = {k: _opt_id(attrs.get(k), f"query_attributes.{k}") for k in ("experiment", "variant", "user_id",
                                                                              "session_id")}
        session = names["session_id"] if "session_id" in attrs else _opt_id(doc.get("client_id"), "client_id")
        if not items:
            raise BadValue("a query with no hits shows nothing: no exposure to store")
        first = attrs.get("first_position", 1)
        if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first <= MAX_POSITION - len(items) + 1:
            raise BadValue(f"query_attributes.first_position must be an integer from 1 to {MAX_POSITION - len(items) + 1:,}")
        return qid, ShownAnswer(key, tuple(
            ExposureRow(qid, first + i, kind, scenario, names["experiment"], names["variant"], names["user_id"], session,
                        item, 1.0 if probs is None else None if probs[i] is None else float(probs[i]), ts,
                        query if kind == "search" else None, None if chance is None else float(chance))
            for i, item in enumerate(items)))

    def _event(self, doc: dict[str, Any], key: RowKey) -> tuple[int, EventRow]:
        action = doc.get("action_name")
        if not isinstance(action, str) or action not in ACTIONS:
            raise BadValue(f"action_name {_shown(action)} is not one ShopSage stores ({', '.join(ACTIONS)})")
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
        row = EventRow(key, typ, item, user, session, query if typ == "search" else None,
                       None if value is None else float(value), parse_timestamp(doc.get("timestamp")), None, None,
                       context or None)
        return hash(repr(row[1:])), row  # an event is known by what it says, not by its line


def _first_time(parsed: tuple[Any, Record], seen: dict[Any, tuple[int, int]], line: int) -> Record:
    """The record of one line, unless an earlier line of the file said it: a query_id read again is a
    duplicate (exact, or conflicting when its answer differs), and so is an event repeated whole."""
    name, record = parsed
    digest = hash(record.rows) if isinstance(record, ShownAnswer) else 0
    first = seen.setdefault(name, (line, digest))
    if first[0] == line:
        return record
    if first[1] == digest:
        raise BadValue(f"exact duplicate of line {first[0]}")
    raise BadValue(f"conflicting duplicate: query_id {name} was read at line {first[0]} with another answer")

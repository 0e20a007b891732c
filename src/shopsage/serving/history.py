"""What the store already knows about shoppers, read once at start: histories, purchases, popularity.

Live events go to the state (:mod:`shopsage.state`); a shopper's history is the stored one
followed by the live one. A shared state (Redis) outlives a restart, so some of its interactions
were stored before this service read the store: :meth:`StoredHistory.unseen` keeps only the live
interactions that the stored history does not hold (same item, type and time), so each event counts once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from shopsage.data.splits import sequences_from_interactions
from shopsage.data.stores.base import TYPE_CODES, StoreReader
from shopsage.data.stores.ledger import subject_hash
from shopsage.state import Touch
from shopsage.training.data import SKIP_TYPES, owner_groups, store_interactions

__all__ = ["StoredHistory", "SKIP_TYPES", "load_history", "owner_groups"]


_TYPE_NAMES = {c: t for t, c in TYPE_CODES.items()}
_EMPTY_TS = np.zeros(0, np.float64)


_History = tuple[np.ndarray, np.ndarray, np.ndarray]  # (slots, type codes, timestamps with nan), oldest first
_NONE: _History = (np.zeros(0, np.int64), np.zeros(0, np.int8), _EMPTY_TS)


@dataclass
class StoredHistory:
    users: dict[str, _History] = field(default_factory=dict)  # user -> (slots, type codes, timestamps)
    sessions: dict[str, _History] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # item ext id -> stored interactions
    events: int = 0

    def user(self, user: str) -> tuple[np.ndarray, np.ndarray]:
        return self.users.get(user, _NONE)[:2]

    def session(self, session: str) -> tuple[np.ndarray, np.ndarray]:
        return self.sessions.get(session, _NONE)[:2]

    def unseen(self, kind: str, owner: str, touches: Sequence[Touch], slot_of: Callable[[str], int | None]) -> list[Touch]:
        """The live ``touches`` of a user (``kind="user"``) or session that the stored history does
        not hold: one stored with the same item, type and timestamp is the same event (a shared state
        keeps events from before this service read the store)."""
        if not touches:
            return []
        slots, types, ts = (self.users if kind == "user" else self.sessions).get(owner, _NONE)
        if not len(ts):
            return list(touches)
        recent = ts >= min(t.ts for t in touches)  # nan (ordinal-only events) never matches
        if not recent.any():
            return list(touches)
        stored = set(zip(slots[recent].tolist(), types[recent].tolist(), ts[recent].tolist(), strict=True))
        return [t for t in touches if (slot_of(t.item), TYPE_CODES.get(t.type), t.ts) not in stored]

    def session_beyond_user(self, session: str, user: str) -> tuple[np.ndarray, np.ndarray]:
        """The session's stored ``(slots, types)`` less the events the user's stored history holds
        (same item, type and time: one event sent with both ids is stored once, listed twice)."""
        slots, types, ts = self.sessions.get(session, _NONE)
        u_slots, u_types, u_ts = self.users.get(user, _NONE)
        if not len(ts) or not len(u_ts):
            return slots, types
        theirs = set(zip(u_slots.tolist(), u_types.tolist(), u_ts.tolist(), strict=True))
        keep = np.array([k not in theirs for k in zip(slots.tolist(), types.tolist(), ts.tolist(), strict=True)], bool)
        return slots[keep], types[keep]

    def forget_hashed(self, users: set[str], sessions: set[str]) -> int:
        """Drop the users and sessions whose audit hashes (``ledger.subject_hash``) are given: erasures
        made through another worker. Hashes every loaded id once per call; returns how many went."""
        gone = 0
        for kind, table, hashes in (("user", self.users, users), ("session", self.sessions, sessions)):
            if hashes:
                for key in [k for k in list(table) if subject_hash(kind, k) in hashes]:
                    gone += table.pop(key, None) is not None
        return gone

    def forget(self, user: str | None, sessions: Sequence[str]) -> None:
        """Drop an erased user's and their sessions' histories (item counts are aggregates and stay)."""
        if user is not None:
            self.users.pop(user, None)
        for s in sessions:
            self.sessions.pop(s, None)

    def purchased(self, user: str) -> np.ndarray:
        slots, types = self.user(user)
        return slots[types == TYPE_CODES["purchase"]]

    @staticmethod
    def type_name(code: int) -> str:
        return _TYPE_NAMES.get(int(code), "view")




def load_history(store: StoreReader, slot_of: Callable[[str], int | None]) -> StoredHistory:
    """Every user's and session's stored interactions, as catalogue slots."""
    inter = store_interactions(store)
    item_ext = {rid: ext for ext, rid in store.item_ids().items()}
    uniq, inv = np.unique(inter.item, return_inverse=True)
    lut = np.array([s if (s := slot_of(item_ext.get(int(r), ""))) is not None else -1 for r in uniq], dtype=np.int64)
    slots = lut[inv] if len(uniq) else np.zeros(0, np.int64)
    out = StoredHistory(events=len(inter))
    counts = np.bincount(inv, minlength=len(uniq)) if len(uniq) else np.zeros(0, np.int64)
    out.counts = {item_ext[int(r)]: int(c) for r, c in zip(uniq, counts, strict=True) if int(r) in item_ext}
    types = inter.type.astype(np.int8)
    positions = np.arange(len(inter), dtype=np.int64)
    user_ext = {rid: ext for ext, rid in store.user_ids().items()}
    for owner, table, names in ((inter.user, out.users, None), (inter.session, out.sessions, inter.session_names)):
        groups, seqs = sequences_from_interactions(inter, owner, positions)  # each owner's events, in order
        for g, s in enumerate(groups.tolist()):
            key = user_ext.get(s) if names is None else names[s]
            if key is None:
                continue
            at = seqs[g].astype(np.int64)
            at = at[slots[at] >= 0]
            ts = inter.ts[at]
            table[key] = (slots[at], types[at], _EMPTY_TS if np.isnan(ts).all() else ts)  # ordinal-only: no times kept
    return out

"""What the store already knows about shoppers, read once at start: histories, purchases, popularity.

Live events go to the state (:mod:`shopsage.state`); a shopper's history is the stored one
followed by the live one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from shopsage.data.splits import sequences_from_interactions
from shopsage.data.stores.base import TYPE_CODES, StoreReader
from shopsage.training.data import SKIP_TYPES, owner_groups, store_interactions

__all__ = ["StoredHistory", "SKIP_TYPES", "load_history", "owner_groups"]


_TYPE_NAMES = {c: t for t, c in TYPE_CODES.items()}


@dataclass
class StoredHistory:
    users: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # user -> (slots, type codes), oldest first
    sessions: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # item ext id -> stored interactions
    events: int = 0

    def user(self, user: str) -> tuple[np.ndarray, np.ndarray]:
        return self.users.get(user, (np.zeros(0, np.int64), np.zeros(0, np.int8)))

    def session(self, session: str) -> tuple[np.ndarray, np.ndarray]:
        return self.sessions.get(session, (np.zeros(0, np.int64), np.zeros(0, np.int8)))

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
    type_seq = inter.type.astype(np.int64)
    user_ext = {rid: ext for ext, rid in store.user_ids().items()}
    for owner, table, names in ((inter.user, out.users, None), (inter.session, out.sessions, inter.session_names)):
        groups, seqs = sequences_from_interactions(inter, owner, slots)
        _, tseqs = sequences_from_interactions(inter, owner, type_seq)
        for g, s in enumerate(groups.tolist()):
            key = user_ext.get(s) if names is None else names[s]
            if key is None:
                continue
            seq, typ = seqs[g].astype(np.int64), tseqs[g].astype(np.int8)
            ok = seq >= 0
            table[key] = (seq[ok], typ[ok])
    return out

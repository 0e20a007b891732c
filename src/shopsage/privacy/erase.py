"""Erase one shopper: their events, sessions and profile from the store and the live state.

``shopsage users delete`` calls :func:`erase_user` with the id the shop knows (the raw id): it is
pseudonymised with the home's key, under the previous key too during a key rotation
(:meth:`~shopsage.privacy.ids.Pseudonymizer.all_pseudonyms`), and each stored form is erased by the
store (:meth:`~shopsage.data.stores.base.StoreWriter.erase_user`: events of the user and of their
sessions, the user row, request digests, quarantined API rows, an audit record holding only a hash)
and, given a state, forgotten there (interactions, bought set, every key naming the user or their
sessions). A running service's in-process memory forgets through ``DELETE /v1/users/{id}`` instead;
with a Redis state, this command reaches the state the workers share.

Models trained before the erasure still hold the user in their vocabularies when they were trained
on users; the next training run reads the store, where nothing of the user is left.

The erasure stays: the store keeps tombstones (hashes) of the user and their sessions and stores no
event of them again, whatever writes it: a re-import of the same file, a late API event, a UBI import
(:mod:`shopsage.data.stores.tombstones`). :func:`lift_erasure` (``shopsage users lift-erasure``) removes
them when the shopper came back and consented to be known by the same id again; a new account id needs
nothing (its pseudonym is another).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopsage.data.stores.base import Store
from shopsage.privacy.ids import Pseudonymizer
from shopsage.state import StateStore

__all__ = ["Erasure", "erase_user", "lift_erasure"]


@dataclass
class Erasure:
    """What one erasure removed: counts summed over the user's stored forms, and the audit records."""

    counts: dict[str, int] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    """The store's audit records of this erasure (when, action, the subject's hash, counts)."""
    state_forgotten: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "audit": self.audit, "state_forgotten": self.state_forgotten}


def erase_user(store: Store, user: str, pseudonymizer: Pseudonymizer | None = None,
               state: StateStore | None = None) -> Erasure:
    """Erase ``user`` from ``store`` (and ``state``). ``user`` is the shop's raw id when a
    ``pseudonymizer`` is given (every stored form is erased), else the stored id itself."""
    forms = pseudonymizer.all_pseudonyms(user) if pseudonymizer is not None else (user,)
    out = Erasure()
    for stored in forms:
        sessions = store.user_sessions(stored)  # before the store forgets which sessions were theirs
        counts = store.erase_user(stored)
        for k, v in counts.items():
            out.counts[k] = out.counts.get(k, 0) + int(v)
        audit = getattr(store, "audit_log", None)
        if audit is not None:
            out.audit.extend(audit(1))
        if state is not None:
            state.forget(stored, sessions)
            out.state_forgotten = True
    return out


def lift_erasure(store: Store, user: str, pseudonymizer: Pseudonymizer | None = None) -> dict[str, int]:
    """Remove the tombstones of ``user`` (every stored form, as :func:`erase_user` finds them) so that
    their events are stored again; returns the counts summed (``users`` 0: the id was never erased)."""
    forms = pseudonymizer.all_pseudonyms(user) if pseudonymizer is not None else (user,)
    out: dict[str, int] = {}
    for stored in forms:
        for k, v in store.lift_erasure(stored).items():
            out[k] = out.get(k, 0) + int(v)
    return out

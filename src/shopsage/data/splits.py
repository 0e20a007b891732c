"""Leakage-free splits that reproduce published protocols, as compact integer arrays.

Every protocol returns a :class:`SplitData`: contiguous item and sequence vocabularies, the
training sequences, and validation / test cases (a history and its target items). Splits are
deterministic: the order of events is (time or ordinal, then insertion order), never random.

- ``leave_one_out``: per user, last item = test, second-to-last = validation, the rest = train
  (SASRec, BERT4Rec, the Amazon benchmarks). Users with fewer than 3 events only train.
- ``temporal``: one global time cut; what happened after it is the test set (needs timestamps).
- ``session_prefix``: sessions stored with ``split='train'`` train; every stored ``split='test'``
  session is a test case (all its items but the last predict the last), or, with
  ``expand=True``, every prefix of it predicts the next item (session-rec's protocol).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from shopsage.data.stores.base import SPLIT_CODES, Interactions, StoreReader
from shopsage.errors import ValidationError
from shopsage.vocab import Vocabulary

__all__ = ["Sequences", "EvalCases", "SplitData", "leave_one_out", "temporal", "session_prefix",
           "sequences_from_interactions", "cold_start_items", "seeded_indices", "subsample_cases"]


@dataclass(frozen=True)
class Sequences:
    """Ordered item sequences in CSR form: sequence ``s`` is ``items[indptr[s]:indptr[s + 1]]``."""

    indptr: np.ndarray  # (S + 1,) int64
    items: np.ndarray  # (N,) int32

    def __len__(self) -> int:
        return int(self.indptr.shape[0] - 1)

    def __getitem__(self, s: int) -> np.ndarray:
        return self.items[self.indptr[s]:self.indptr[s + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    @classmethod
    def from_lists(cls, seqs: list[np.ndarray] | list[list[int]]) -> Sequences:
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        indptr = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        items = np.concatenate([np.asarray(s, dtype=np.int32) for s in seqs]) if len(seqs) else np.zeros(0, np.int32)
        return cls(indptr, items.astype(np.int32))

    def to_csr(self, n_items: int, binary: bool = True) -> sp.csr_matrix:
        """A ``(S, n_items)`` sequence-item matrix (counts, or 1/0 when ``binary``)."""
        rows = np.repeat(np.arange(len(self), dtype=np.int32), self.lengths)
        mat = sp.csr_matrix((np.ones(len(self.items), dtype=np.float32), (rows, self.items)), shape=(len(self), n_items))
        mat.sum_duplicates()
        if binary:
            mat.data[:] = 1.0
        return mat


@dataclass(frozen=True)
class EvalCases:
    """Evaluation cases: case ``c`` gives ``history[c]`` and asks for ``targets[c]``."""

    owner: np.ndarray  # (C,) int32: index into SplitData.owners, -1 for none
    history: Sequences  # C histories, oldest first
    targets: Sequences  # C target sets (one item each under leave-one-out and session prefixes)

    def __len__(self) -> int:
        return len(self.history)

    @property
    def target(self) -> np.ndarray:
        """The single target of each case; only for one-target protocols."""
        if not np.all(self.targets.lengths == 1):
            raise ValidationError("these cases have several targets each; use .targets")
        return self.targets.items


def seeded_indices(n: int, size: int, seed: int) -> np.ndarray:
    """``size`` distinct indices of ``range(n)``: a seeded sample, ascending."""
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def subsample_cases(cases: EvalCases, most: int | None, seed: int = 0) -> EvalCases:
    """A seeded sample of at most ``most`` cases, kept in their order (all of them when ``None``
    or enough): the one subsampler of evaluation, tuning and early stopping."""
    if most is None or len(cases) <= most:
        return cases
    pick = seeded_indices(len(cases), most, seed)
    return EvalCases(cases.owner[pick], Sequences.from_lists([cases.history[int(i)] for i in pick]),
                     Sequences.from_lists([cases.targets[int(i)] for i in pick]))


@dataclass(frozen=True)
class SplitData:
    protocol: str
    items: Vocabulary  # contiguous item ids (every item of the store, events or not)
    owners: Vocabulary  # who each training sequence belongs to (user ids or session names)
    train: Sequences  # training sequences, one per owner
    valid: EvalCases
    test: EvalCases

    @property
    def n_items(self) -> int:
        return len(self.items)

    def train_with_valid(self) -> Sequences:
        """Training sequences extended by each owner's validation targets (refit before test)."""
        extra: dict[int, list[int]] = {}
        for c in range(len(self.valid)):
            if self.valid.owner[c] >= 0:
                extra.setdefault(int(self.valid.owner[c]), []).extend(self.valid.targets[c].tolist())
        return Sequences.from_lists([np.concatenate([self.train[s], np.asarray(extra.get(s, []), dtype=np.int32)])
                                     for s in range(len(self.train))])


def _ordered(inter: Interactions, group: np.ndarray) -> np.ndarray:
    """Event order within groups: by time, else ordinal, then insertion (event id)."""
    ts = np.where(np.isnan(inter.ts), -np.inf, inter.ts)
    return np.lexsort((inter.event_id, inter.ordinal, ts, group))


def sequences_from_interactions(inter: Interactions, group: np.ndarray, item_index: np.ndarray) -> tuple[np.ndarray, Sequences]:
    """Group events by ``group`` (>= 0) into ordered sequences; returns (group ids, sequences)."""
    keep = group >= 0
    order = _ordered(inter.select(keep), group[keep])
    g = group[keep][order]
    items = item_index[keep][order].astype(np.int32)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.zeros(0, dtype=np.int64)
    indptr = np.r_[starts, len(g)].astype(np.int64)
    return (g[starts] if len(g) else np.zeros(0, dtype=np.int64)), Sequences(indptr, items)


def _item_vocab(store: StoreReader) -> tuple[Vocabulary, dict[int, int]]:
    ids = store.item_ids()  # ext -> store row id, in row-id order
    vocab = Vocabulary(ids.keys())
    return vocab, {rid: i for i, rid in enumerate(ids.values())}


def _map_items(inter: Interactions, row_to_idx: dict[int, int]) -> np.ndarray:
    lut = np.full(max(row_to_idx, default=0) + 1, -1, dtype=np.int64)
    lut[list(row_to_idx)] = list(row_to_idx.values())
    out = np.full(len(inter), -1, dtype=np.int64)
    has = inter.item >= 0
    out[has] = lut[inter.item[has]]
    return out


def _cases(owners: list[int], hist: list[np.ndarray], targets: list[np.ndarray]) -> EvalCases:
    return EvalCases(np.asarray(owners, dtype=np.int32), Sequences.from_lists(hist), Sequences.from_lists(targets))


def leave_one_out(store: StoreReader, types: list[str] | None = None) -> SplitData:
    """Per user: last event = test, second-to-last = validation, the rest = train."""
    inter = store.interactions(types=types)
    inter = inter.select((inter.user >= 0) & (inter.item >= 0))
    items, row_to_idx = _item_vocab(store)
    users = store.user_ids()
    user_lut = {rid: ext for ext, rid in users.items()}
    groups, seqs = sequences_from_interactions(inter, inter.user, _map_items(inter, row_to_idx))
    owners = Vocabulary(user_lut[int(g)] for g in groups)
    train, v_own, v_hist, v_tgt, t_own, t_hist, t_tgt = [], [], [], [], [], [], []
    for s in range(len(seqs)):
        seq = seqs[s]
        if len(seq) < 3:
            train.append(seq)
            continue
        train.append(seq[:-2])
        v_own.append(s)
        v_hist.append(seq[:-2])
        v_tgt.append(seq[-2:-1])
        t_own.append(s)
        t_hist.append(seq[:-1])
        t_tgt.append(seq[-1:])
    return SplitData("leave-one-out", items, owners, Sequences.from_lists(train),
                     _cases(v_own, v_hist, v_tgt), _cases(t_own, t_hist, t_tgt))


def temporal(store: StoreReader, test_fraction: float = 0.1, valid_fraction: float = 0.1,
             types: list[str] | None = None) -> SplitData:
    """One global time cut: the last ``test_fraction`` of events (by time) are test, the
    ``valid_fraction`` before them validation. Targets are each user's items after the cut."""
    if not 0 < test_fraction < 1 or not 0 <= valid_fraction < 1 or test_fraction + valid_fraction >= 1:
        raise ValidationError("test_fraction and valid_fraction must be in (0, 1) and sum to less than 1")
    inter = store.interactions(types=types)
    inter = inter.select((inter.user >= 0) & (inter.item >= 0))
    if len(inter) == 0 or np.isnan(inter.ts).any():
        raise ValidationError("the temporal split needs a timestamp on every event; this data has only an order. "
                              "Use leave_one_out or session_prefix instead.")
    items, row_to_idx = _item_vocab(store)
    item_idx = _map_items(inter, row_to_idx)
    t_test = float(np.quantile(inter.ts, 1 - test_fraction))
    t_valid = float(np.quantile(inter.ts, 1 - test_fraction - valid_fraction))
    users = store.user_ids()
    user_lut = {rid: ext for ext, rid in users.items()}
    uniq_users = np.unique(inter.user)
    owners = Vocabulary(user_lut[int(u)] for u in uniq_users)
    owner_of = np.searchsorted(uniq_users, inter.user)

    def part(lo: float, hi: float) -> tuple[np.ndarray, Sequences]:
        mask = (inter.ts >= lo) & (inter.ts < hi)
        g = np.where(mask, owner_of, -1)
        return sequences_from_interactions(inter, g, item_idx)

    tr_g, tr = part(-np.inf, t_valid)
    train_lists = [np.zeros(0, np.int32)] * len(owners)
    for k, g in enumerate(tr_g):
        train_lists[int(g)] = tr[k]

    def cases(lo: float, hi: float, history: list[np.ndarray]) -> EvalCases:
        g, tg = part(lo, hi)
        keep = [k for k in range(len(g)) if len(history[int(g[k])])]
        return _cases([int(g[k]) for k in keep], [history[int(g[k])] for k in keep], [np.unique(tg[k]) for k in keep])

    valid = cases(t_valid, t_test, train_lists)
    va_g, va = part(t_valid, t_test)
    hist_test = list(train_lists)
    for k, g in enumerate(va_g):
        hist_test[int(g)] = np.concatenate([hist_test[int(g)], va[k]])
    test = cases(t_test, np.inf, hist_test)
    return SplitData("temporal", items, owners, Sequences.from_lists(train_lists), valid, test)


def session_prefix(store: StoreReader, expand: bool = False, valid_fraction: float = 0.1, seed: int = 0,
                   types: list[str] | None = None) -> SplitData:
    """Sessions with ``split='train'`` train, ``split='test'`` ones are test cases.

    Validation cases come from a seeded ``valid_fraction`` of the training sessions (their last
    item), which then train only on their prefix, so nothing of a validation target leaks.
    """
    inter = store.interactions(types=types)
    inter = inter.select((inter.session >= 0) & (inter.item >= 0))
    if not (inter.split == SPLIT_CODES["test"]).any():
        raise ValidationError("no session is marked split='test'; import a format with a test file "
                              "(sessions, yoochoose) or use leave_one_out / temporal")
    items, row_to_idx = _item_vocab(store)
    item_idx = _map_items(inter, row_to_idx)
    is_test = inter.split == SPLIT_CODES["test"]
    tr_groups, tr = sequences_from_interactions(inter, np.where(~is_test, inter.session, -1), item_idx)
    te_groups, te = sequences_from_interactions(inter, np.where(is_test, inter.session, -1), item_idx)
    names = inter.session_names
    owners = Vocabulary(names[int(g)] for g in tr_groups)
    rng = np.random.default_rng(seed)
    n_valid = int(round(valid_fraction * len(tr)))
    eligible = np.flatnonzero(tr.lengths >= 2)
    valid_owner: np.ndarray = (np.sort(rng.choice(eligible, size=min(n_valid, len(eligible)), replace=False))
                               if n_valid else np.zeros(0, dtype=np.int64))
    is_valid = np.zeros(len(tr), dtype=bool)
    is_valid[valid_owner] = True
    train = [tr[s][:-1] if is_valid[s] else tr[s] for s in range(len(tr))]
    valid = _cases(list(map(int, valid_owner)), [tr[int(s)][:-1] for s in valid_owner], [tr[int(s)][-1:] for s in valid_owner])
    t_hist, t_tgt = [], []
    for s in range(len(te)):
        seq = te[s]
        if len(seq) < 2:
            continue
        positions = range(1, len(seq)) if expand else [len(seq) - 1]
        for p in positions:
            t_hist.append(seq[:p])
            t_tgt.append(seq[p:p + 1])
    test = _cases([-1] * len(t_hist), t_hist, t_tgt)
    return SplitData("session-prefix" + ("-expanded" if expand else ""), items, owners, Sequences.from_lists(train), valid, test)


def cold_start_items(item_ids: list[str], fraction: float = 0.1, seed: int = 0) -> set[str]:
    """The items of the cold-start protocol: those whose seeded hash of the id falls in the
    held-out bucket (``fraction`` of the catalogue, independent of order and of the data)."""
    if not 0 < fraction < 1:
        raise ValidationError(f"fraction {fraction} must be between 0 and 1")
    out = set()
    for ext in item_ids:
        h = int.from_bytes(hashlib.blake2b(f"{seed}:{ext}".encode(), digest_size=8).digest(), "big")
        if h / 2**64 < fraction:
            out.add(ext)
    return out

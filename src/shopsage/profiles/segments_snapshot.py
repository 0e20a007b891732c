"""Segment snapshots: a service start replays only the interactions stored since the last start.

:func:`~shopsage.profiles.segments_book.book_from_store` replays every stored interaction, so a
start costs the shop's whole history. A snapshot keeps what that replay learned from (a
:class:`~shopsage.profiles.segments_book.SegmentReplay`: per mode every shopper's stats and the gaps
between occasions, plus each shopper's place in their order), the last event id it read, the last
erasure it knew, and a fingerprint of everything else a replay reads (the segment config, the
catalogue's categories and prices). :func:`resume_book` loads it and adds only the events stored
since, when that gives exactly what one replay of everything would:

- the fingerprint is unchanged (a new category or price would change old events' weights and money),
- no shopper was erased since (their events are gone from the store, not from the snapshot),
- every new event comes after its shopper's earlier ones in their order (time, then ordinal): a
  late event with an older time would have been replayed before them.

Otherwise it replays everything, and says why. Either way it leaves a snapshot of what it fitted.
A snapshot is a folder of plain files (``manifest.json`` and ``.npy``, read with
``allow_pickle=False``); ``CURRENT`` names the latest, replaced atomically, so several workers may
start at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from shopsage.data.stores.base import StoreReader
from shopsage.profiles.segments import SegmentConfig, ShopperStats
from shopsage.profiles.segments_book import Info, SegmentBook, SegmentReplay, fit_replay, stored_events

__all__ = ["resume_book", "fingerprint"]

VERSION = 1
_KEEP_S = 600.0  # snapshots older than this, and not CURRENT, are removed
_FIELDS = ("first_ts", "last_ts", "last_occasion_ts", "occasions", "monetary", "events")  # the columns of <mode>.npy
Key = tuple[float, int]


def fingerprint(store: StoreReader, config: SegmentConfig) -> str:
    """A hash of what a replay reads besides the events: the config, every item's categories and price."""
    h = hashlib.sha256(json.dumps(config.model_dump(), sort_keys=True).encode())
    for _, row in sorted(store.items(), key=lambda r: r[1].ext_id):
        h.update(json.dumps([row.ext_id, list(row.category_path), row.price]).encode())
    return h.hexdigest()


def _save(folder: Path, replay: SegmentReplay, last: dict[str, Key], manifest: dict[str, object]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"snap-{manifest['position']}-{uuid.uuid4().hex[:8]}"
    tmp = folder / name
    tmp.mkdir()
    users = list(next(iter(replay.books.values())).stats)
    (tmp / "users.json").write_text(json.dumps(users), encoding="utf-8")
    np.save(tmp / "last.npy", np.array([last[u] for u in users], np.float64).reshape(len(users), 2))
    for mode, book in replay.books.items():
        st = [book.stats[u] for u in users]
        np.save(tmp / f"{mode}.npy", np.array([[getattr(s, f) for f in _FIELDS] for s in st], np.float64).reshape(len(st), 6))
        np.save(tmp / f"{mode}_gaps.npy", np.asarray(replay.gaps[mode], np.float64))
    # category weights do not depend on the mode: once
    (tmp / "interest.json").write_text(json.dumps([s.interest for s in st]), encoding="utf-8")
    (tmp / "manifest.json").write_text(json.dumps({**manifest, "modes": list(replay.books)}, indent=2), encoding="utf-8")
    pointer = folder / f"CURRENT.{uuid.uuid4().hex[:8]}"
    pointer.write_text(name, encoding="utf-8")
    os.replace(pointer, folder / "CURRENT")
    for old in folder.glob("snap-*"):  # another worker may still be writing or reading a recent one
        if old.name != name and time.time() - old.stat().st_mtime > _KEEP_S:
            shutil.rmtree(old, ignore_errors=True)


def _load(folder: Path, info: Info, config: SegmentConfig) -> tuple[SegmentReplay, dict[str, Key], dict]:  # type: ignore[type-arg]
    snap = folder / (folder / "CURRENT").read_text(encoding="utf-8").strip()
    manifest = json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("version") != VERSION:
        raise ValueError(f"snapshot version {manifest.get('version')} is not {VERSION}")
    users = json.loads((snap / "users.json").read_text(encoding="utf-8"))
    keys = np.load(snap / "last.npy", allow_pickle=False)
    last = {u: (float(k[0]), int(k[1])) for u, k in zip(users, keys, strict=True)}
    replay = SegmentReplay(int(manifest["level"]), info, config)
    interest = json.loads((snap / "interest.json").read_text(encoding="utf-8"))
    for k, mode in enumerate(manifest["modes"]):
        num = np.load(snap / f"{mode}.npy", allow_pickle=False)
        book = SegmentBook(replay.base(mode), info)
        for u, (first, last_ts, occ_ts, occasions, money, n), inter in zip(users, num.tolist(), interest, strict=True):
            book.stats[u] = ShopperStats(first, last_ts, occ_ts, int(occasions), money, int(n), inter if k == 0 else dict(inter))
        replay.books[mode] = book
        replay.gaps[mode] = np.load(snap / f"{mode}_gaps.npy", allow_pickle=False).tolist()
    return replay, last, manifest


def _resume(store: StoreReader, info: Info, config: SegmentConfig, folder: Path, fp: str,
            erased: int) -> tuple[SegmentReplay, dict[str, Key], int, str] | str:
    """The snapshot with the events since added, or why it cannot give what a replay of all would."""
    if not (folder / "CURRENT").exists():
        return "no snapshot yet"
    try:
        replay, last, manifest = _load(folder, info, config)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"the snapshot is unreadable ({exc})"
    if manifest["fingerprint"] != fp:
        return "the segment config or the catalogue's categories or prices changed"
    if erased != manifest["erased"]:
        return "shoppers were erased"
    events, keys, position = stored_events(store, after=int(manifest["position"]))
    late = next((e for e, k in zip(events, keys, strict=True) if k < last.get(e.user, (-math.inf, -1))), None)
    if late is not None:
        return f"an event of {late.user!r} arrived after later ones of theirs"
    replay.add(events)
    if replay.activity() not in replay.books:
        return "occasions are now visits (enough repeat buyers no longer)"
    last.update((e.user, k) for e, k in zip(events, keys, strict=True))
    ids = store.user_ids()
    replay.order(lambda u: ids.get(u, -1))
    return replay, last, position, f"resumed the snapshot at event {manifest['position']:,} with {len(events):,} interactions since"


def resume_book(store: StoreReader, info: Info, folder: Path, config: SegmentConfig | None = None
                ) -> tuple[SegmentBook, str]:
    """The segment book of every stored interaction: from the snapshot in ``folder`` plus the events
    stored since when that is exact (see the module docstring), else from a replay of all of them; a
    new snapshot is left in ``folder``. Returns the book and a sentence on how it was made."""
    cfg = config or SegmentConfig.model_validate({})
    fp = fingerprint(store, cfg)
    seen = store.erasures(0)
    erased = seen[-1][0] if seen else 0
    resumed = _resume(store, info, cfg, folder, fp, erased)
    if isinstance(resumed, str):
        events, keys, position = stored_events(store)
        replay = fit_replay(events, info, [row.category_path for _, row in store.items()], cfg)
        last = {e.user: k for e, k in zip(events, keys, strict=True)}
        how = f"replayed all {len(events):,} interactions ({resumed})"
    else:
        replay, last, position, how = resumed
    try:
        _save(folder, replay, last, {"kind": "segment_replay", "version": VERSION, "position": position,
                                     "erased": erased, "fingerprint": fp, "level": replay.level})
    except OSError as exc:  # the book is right; only the next start pays a full replay
        how += f"; no snapshot saved ({exc}): check that {folder} is writable"
    return replay.book(), how

"""A start that resumes the segment snapshot with the interactions stored since gives the same book as a
replay of every stored interaction, and falls back to that replay whenever resuming could not."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from shopsage.data.rows import EventRow, ItemRow, RowKey
from shopsage.data.stores import open_store
from shopsage.profiles.segments import SegmentConfig, ShopperStats
from shopsage.profiles.segments_book import SegmentBook, SegmentEvent, book_from_store
from shopsage.profiles.segments_snapshot import resume_book
from shopsage.testing.segment_shop import catalogue, timed_events

CATALOGUE = catalogue()


def _stats(st_: ShopperStats) -> tuple:
    return tuple(None if isinstance(v, float) and math.isnan(v) else v for v in st_.__dict__.values())


def _same(a: SegmentBook, b: SegmentBook) -> None:
    assert a.model == b.model
    assert [(u, _stats(s)) for u, s in a.stats.items()] == [(u, _stats(s)) for u, s in b.stats.items()]


def _rows(events: list[SegmentEvent], start: int) -> list[EventRow]:
    return [EventRow(RowKey("api/segments", start + i, 0), e.type, e.item, e.user, None, value=e.value, ts=e.ts,
                     ordinal=None if e.ts is not None else start + i) for i, e in enumerate(events)]


def _store(tmp: str):  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{Path(tmp) / 'shop.db'}")
    store.write_items([ItemRow(ext, ext, category_path=tuple(info.category_path), price=info.price)
                       for ext, info in CATALOGUE.items()])
    return store


def test_a_restart_reads_only_the_new_interactions_and_fits_the_same_book() -> None:
    events = sorted(timed_events(seed=3), key=lambda e: e.ts or 0.0)
    old, new = events[: len(events) * 3 // 4], events[len(events) * 3 // 4:]
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(tmp)
        try:
            store.write_events(_rows(old, 0))
            first, how = resume_book(store, CATALOGUE.get, Path(tmp) / "segments")
            assert how.startswith("replayed all") and "no snapshot yet" in how
            store.write_events(_rows(new, len(old)))
            again, how = resume_book(store, CATALOGUE.get, Path(tmp) / "segments")
            assert how == f"resumed the snapshot at event {len(old):,} with {len(new):,} interactions since"
            full = book_from_store(store, CATALOGUE.get)
            assert full.model.centers and full.model.active_within_s is not None  # k-means and lifecycle ran
            _same(again, full)
            assert full.model != first.model
            store.write_items([ItemRow("lab0", "lab0", category_path=("Shop", "Lab"), price=99.0)])  # a new price
            _, how = resume_book(store, CATALOGUE.get, Path(tmp) / "segments")
            assert "prices changed" in how
        finally:
            store.close()


shoppers = st.sampled_from(["a", "b", "c", "d"])
one = st.tuples(shoppers, st.sampled_from(sorted(CATALOGUE)), st.sampled_from(["view", "purchase", "add_to_cart", "impression"]),
                st.one_of(st.none(), st.floats(0, 40 * 86400, allow_nan=False)), st.one_of(st.none(), st.floats(1, 90)))


@settings(max_examples=30, deadline=None)
@given(st.lists(one, min_size=1, max_size=40), st.lists(one, max_size=40), st.booleans(), st.booleans(),
       st.sampled_from(["auto", "purchase", "visit"]))
def test_resuming_equals_a_full_replay(first: list, then: list, in_order: bool, erase: bool, activity: str) -> None:
    cfg = SegmentConfig.model_validate({"activity": activity, "min_repeat_buyers": 2})
    old = [SegmentEvent(u, i, t, ts, v) for u, i, t, ts, v in first]
    horizon = max((e.ts for e in old if e.ts is not None), default=0.0)
    # in order: every new event timed after every old one (else: anything, late events included)
    new = [SegmentEvent(u, i, t, (horizon + 1 + (ts or 0.0)) if in_order else ts, v) for u, i, t, ts, v in then]
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(tmp)
        try:
            store.write_events(_rows(old, 0))
            resume_book(store, CATALOGUE.get, Path(tmp) / "segments", cfg)
            store.write_events(_rows(new, len(old)))
            if erase:
                store.erase_user("d")
            book, how = resume_book(store, CATALOGUE.get, Path(tmp) / "segments", cfg)
            _same(book, book_from_store(store, CATALOGUE.get, cfg))
            if in_order and not erase:
                assert how.startswith("resumed"), how
            elif erase:
                assert "erased" in how
            _same(resume_book(store, CATALOGUE.get, Path(tmp) / "segments", cfg)[0], book)  # and nothing new since
        finally:
            store.close()


def test_an_unreadable_snapshot_is_replaced_by_a_full_replay(tmp_path: Path) -> None:
    store = _store(str(tmp_path))
    try:
        store.write_events(_rows(timed_events(seed=1, users=20), 0))
        resume_book(store, CATALOGUE.get, tmp_path / "segments")
        current = tmp_path / "segments" / (tmp_path / "segments" / "CURRENT").read_text(encoding="utf-8")
        (current / "purchase.npy").write_bytes(b"not an array")
        book, how = resume_book(store, CATALOGUE.get, tmp_path / "segments")
        assert "unreadable" in how
        _same(book, book_from_store(store, CATALOGUE.get))
        assert resume_book(store, CATALOGUE.get, tmp_path / "segments")[1].startswith("resumed")
    finally:
        store.close()



def test_the_restart_timing_compares_a_full_replay_with_a_resumed_snapshot(tmp_path: Path) -> None:
    from shopsage.serving.segments_bench import segment_restart

    events = timed_events(seed=2, users=40)
    store = _store(str(tmp_path))
    try:
        out = segment_restart(_rows(events, 0), store, tmp_path / "segments", CATALOGUE, new_share=0.1)
    finally:
        store.close()
    assert out["same_book"] is True and out["resume"].startswith("resumed")
    assert out["new_events"] == round(len(events) * 0.1) and out["shoppers"] == 40

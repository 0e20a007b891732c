"""The attribution rule against a brute-force reading of its documentation, and the exposure log's queue."""

from __future__ import annotations

import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from shopsage.data.rows import WriteResult
from shopsage.feedback.attribution import Outcome, attribute, reference
from shopsage.feedback.log import ExposureLog
from shopsage.feedback.records import ExposureRow

WINDOW = 50.0
ITEMS = ["a", "b", "c"]
WHO = [None, "p", "q"]


def _reference(outcomes: list[Outcome], exposures: list[ExposureRow]) -> list[tuple[int, str, int, bool]]:
    """The documented rule, one event at a time over every exposure."""
    out = []
    for o in outcomes:
        named = [e for e in exposures if o.reference is not None and e.exposure_id == o.reference and e.item == o.item]
        if named:
            out.append((o.event_id, named[0].exposure_id, named[0].position, True))
            continue
        if o.ts is None:
            continue
        mine = [e for e in exposures if e.item == o.item and e.ts <= o.ts and o.ts - e.ts <= WINDOW
                and ((o.user is not None and e.user_id == o.user) or (o.session is not None and e.session_id == o.session))]
        if mine:
            best = max(mine, key=lambda e: (e.ts, e.exposure_id))
            out.append((o.event_id, best.exposure_id, best.position, False))
    return out


@st.composite
def _logs(draw: st.DrawFn) -> tuple[list[Outcome], list[ExposureRow]]:
    exposures = []
    for k in range(draw(st.integers(0, 6))):
        shown = draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3, unique=True))
        ts = float(draw(st.integers(0, 200)))
        user, session = draw(st.sampled_from(WHO)), draw(st.sampled_from(WHO))
        exposures += [ExposureRow(f"r{k}", i + 1, "recommendation", "for_you", None, None, user, session, item, 1.0,
                                  ts) for i, item in enumerate(shown)]
    outcomes = []
    for j in range(draw(st.integers(0, 8))):
        ref = draw(st.sampled_from([None, "r0", "r1", "r9"]))
        ts = draw(st.one_of(st.none(), st.integers(0, 260).map(float)))
        user, session = draw(st.sampled_from(WHO)), draw(st.sampled_from(WHO))
        outcomes.append(Outcome(j, "click", None, ts, user, session, draw(st.sampled_from(ITEMS)), ref, None))
    return outcomes, exposures


@settings(max_examples=300, deadline=None)
@given(_logs())
def test_attribution_follows_its_documented_rule(log: tuple[list[Outcome], list[ExposureRow]]) -> None:
    outcomes, exposures = log
    got = [(a.event_id, a.exposure_id, a.position, a.explicit) for a in attribute(outcomes, exposures, WINDOW)]
    assert got == _reference(outcomes, exposures)


def test_reference_reads_either_id_and_only_integer_positions() -> None:
    assert reference({"recomm_id": "r1", "position": 3}) == ("r1", 3)
    assert reference({"query_id": "q1", "position": True}) == ("q1", None)
    assert reference({"page": "home"}) == (None, None) and reference(None) == (None, None)


class _Flaky:
    """A store whose writes fail until ``ok`` is set, then are kept."""

    def __init__(self) -> None:
        self.ok = threading.Event()
        self.rows: list[ExposureRow] = []

    def write_exposures(self, rows: list[ExposureRow]) -> WriteResult:
        if not self.ok.is_set():
            raise OSError("store down")
        self.rows += rows
        return WriteResult(inserted=len(rows))


def _rows(answer: str, n: int) -> list[ExposureRow]:
    return [ExposureRow(answer, i + 1, "search", "search", None, None, None, "s", f"i{i}", 1.0, 1.0) for i in range(n)]


def test_the_log_keeps_rows_through_failures_and_drops_only_past_its_bound() -> None:
    store = _Flaky()
    log = ExposureLog(lambda: store, owns_store=False, flush_s=0.01, max_rows=10)  # type: ignore[arg-type,return-value]
    assert log.record(_rows("a", 6))
    assert not log.record(_rows("b", 6))  # 12 > 10: dropped, counted, the answer is not slowed
    assert log.dropped == 6
    assert not log.wait_for(["a"], timeout=0.2)  # the store is down: not committed
    time.sleep(0.05)
    assert log.failures >= 1 and log.pending == 6
    store.ok.set()
    assert log.wait_for(["a"], timeout=5.0)
    assert [r.exposure_id for r in store.rows] == ["a"] * 6
    assert log.wait_for(["never-seen"], timeout=0.0)
    log.close()


def test_answered_stamps_positions_and_records_the_policys_probabilities() -> None:
    store = _Flaky()
    store.ok.set()
    log = ExposureLog(lambda: store, owns_store=False, flush_s=0.01)  # type: ignore[arg-type,return-value]
    answer = {"items": [{"id": "x"}, {"id": "y"}]}
    rid = log.answered(answer, "recommendation", "for_you", user="u", session=None, propensities=[0.5, 0.125],
                       experiment="exp", variant="b")
    assert answer["recomm_id"] == rid and [it["position"] for it in answer["items"]] == [1, 2]
    log.close()
    assert [(r.item, r.position, r.propensity, r.experiment, r.variant) for r in store.rows] == [
        ("x", 1, 0.5, "exp", "b"), ("y", 2, 0.125, "exp", "b")]

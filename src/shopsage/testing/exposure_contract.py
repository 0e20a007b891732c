"""The exposure part of the store contract: every backend stores, reads and attributes exposures alike.

:class:`~shopsage.testing.store_contract.StoreContract` inherits it, so each backend's ``store``
fixture runs these tests too.
"""

from __future__ import annotations

from shopsage.data.rows import EventRow, ItemRow, RowKey
from shopsage.feedback.records import ExposureRow

__all__ = ["ExposureContract", "shown"]


def shown(answer: str, items: list[str], ts: float, *, kind: str = "recommendation", scenario: str = "for_you",
          user: str | None = "u1", session: str | None = "s1", experiment: str | None = None,
          variant: str | None = None, propensities: list[float] | None = None, first: int = 1,
          query: str | None = None) -> list[ExposureRow]:
    """The exposure rows of one answer showing ``items`` (positions from ``first``)."""
    return [ExposureRow(answer, first + i, kind, scenario, experiment, variant, user, session, item,
                        1.0 if propensities is None else propensities[i], ts, query) for i, item in enumerate(items)]


def outcome(line: int, typ: str, item: str, ts: float | None, user: str | None = "u1", session: str | None = "s1",
            context: dict[str, object] | None = None, value: float | None = None) -> EventRow:
    return EventRow(RowKey("shop/live", line, 0), typ, item, user, session, None, value, ts,
                    None if ts is not None else line, None, context)


class ExposureContract:
    """Inherit and define a ``store`` fixture yielding an empty store of the backend under test."""

    def test_exposures_roundtrip_in_time_order(self, store) -> None:  # type: ignore[no-untyped-def]
        b = shown("r-2", ["x", "y"], 200.0, experiment="exp", variant="b", propensities=[0.5, 0.25])
        a = shown("q-1", ["y", "z"], 100.0, kind="search", scenario="search", user=None, query="red shoe", first=11)
        res = store.write_exposures(b + a)
        assert (res.inserted, res.already_present, res.conflicts) == (4, 0, [])
        assert list(store.read_exposures()) == a + b
        assert list(store.read_exposures(experiment="exp")) == b
        assert list(store.read_exposures(since=150.0)) == b
        assert [r.position for r in store.read_exposures()] == [11, 12, 1, 2]

    def test_exposures_are_facts_identical_is_present_other_is_a_conflict(self, store) -> None:  # type: ignore[no-untyped-def]
        rows = shown("r-1", ["x", "y"], 100.0)
        store.write_exposures(rows)
        again = store.write_exposures(rows)
        assert (again.inserted, again.already_present) == (0, 2)
        changed = store.write_exposures([rows[0]._replace(item="other")])
        assert changed.inserted == 0 and "conflicting duplicate" in changed.conflicts[0][1]
        bad = store.write_exposures([rows[0]._replace(exposure_id="r-9", position=0),
                                     rows[0]._replace(exposure_id="r-9", kind="banner")])
        assert [i for i, _ in bad.conflicts] == [0, 1] and bad.inserted == 0
        assert len(list(store.read_exposures())) == 2

    def test_exposures_page_through_many_rows(self, store) -> None:  # type: ignore[no-untyped-def]
        from shopsage.data.stores import exposures

        rows = [r for k in range(60) for r in shown(f"r-{k:03d}", [f"i{j}" for j in range(200)], 1000.0 + k // 7)]
        assert store.write_exposures(rows).inserted == 12_000
        got = list(store.read_exposures())
        assert len(got) == 12_000 > exposures._PAGE
        assert got == sorted(rows, key=lambda r: (r.ts, r.exposure_id, r.position))

    def test_explicit_reference_wins_and_implicit_takes_the_latest_in_the_window(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_items([ItemRow(x) for x in ("x", "y", "z")])
        store.write_exposures(shown("old", ["x", "y"], 100.0, experiment="e", variant="a")
                              + shown("new", ["y", "x"], 200.0, experiment="e", variant="b"))
        store.write_events([
            outcome(1, "click", "x", 250.0, context={"recomm_id": "old", "position": 1}),  # named: old, though new is later
            outcome(2, "add_to_cart", "x", 260.0),  # implicit: the latest, new at position 2
            outcome(3, "purchase", "y", 100.0 + 200.0 + 3600.0 + 1.0, value=9.5),  # past the window of new
            outcome(4, "click", "z", 210.0, context={"recomm_id": "old"}),  # old never showed z: nothing shows z
            outcome(5, "view", "x", 220.0),  # views are not outcomes
            outcome(6, "purchase", "y", 230.0, user=None, session="s1", value=3.0),  # anonymous: by session
        ])
        got = {a.event_id: a for a in store.read_attributed()}
        assert len(got) == 3
        by_type = sorted((a.type, a.exposure_id, a.position, a.explicit, a.variant) for a in got.values())
        assert by_type == [("add_to_cart", "new", 2, False, "b"), ("click", "old", 1, True, "a"),
                           ("purchase", "new", 1, False, "b")]
        assert [a.value for a in got.values() if a.type == "purchase"] == [3.0]
        assert len(list(store.read_attributed(experiment="e"))) == 3
        assert list(store.read_attributed(experiment="other")) == []
        assert [a.type for a in store.read_attributed(since=255.0)] == ["add_to_cart"]

    def test_another_shoppers_exposure_is_not_theirs(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_items([ItemRow("x")])
        store.write_exposures(shown("r", ["x"], 100.0, user="u2", session="s2"))
        store.write_events([outcome(1, "click", "x", 110.0, user="u1", session="s1")])
        assert list(store.read_attributed()) == []

    def test_an_event_without_time_is_attributed_only_when_it_names_the_answer(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_items([ItemRow("x")])
        store.write_exposures(shown("q", ["x"], 100.0, kind="search", scenario="search"))
        store.write_events([outcome(1, "click", "x", None), outcome(2, "click", "x", None, context={"query_id": "q"})])
        (a,) = store.read_attributed()
        assert (a.exposure_id, a.kind, a.scenario, a.ts, a.explicit) == ("q", "search", "search", None, True)

    def test_erasing_a_user_erases_what_they_were_shown(self, store) -> None:  # type: ignore[no-untyped-def]
        store.write_items([ItemRow("x")])
        store.write_events([outcome(1, "click", "x", 100.0, user="u1", session="s1")])
        store.write_exposures(shown("a", ["x"], 90.0, user="u1", session=None)
                              + shown("b", ["x"], 95.0, user=None, session="s1")
                              + shown("c", ["x"], 95.0, user="u2", session="s2"))
        counts = store.erase_user("u1")
        assert counts["exposures"] == 2
        assert [r.exposure_id for r in store.read_exposures()] == ["c"]

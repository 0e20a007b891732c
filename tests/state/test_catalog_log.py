"""The catalogue change log is bounded (``max_changes``) and says when a reader fell out of it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shopsage.state import StateStore


def test_the_log_keeps_the_newest_changes_and_flags_readers_behind_it(open_with: Callable[[str], StateStore]) -> None:
    st = open_with("max_changes=5")
    assert st.catalog_changes(0) == (0, [])
    assert st.publish_catalog(["a", "b", "c"]) == 3
    assert st.publish_catalog([]) == 3
    assert st.publish_catalog(["d", "e", "f", "g"]) == 7  # "a" and "b" fell out
    assert st.catalog_changes(3) == (7, ["d", "e", "f", "g"])
    assert st.catalog_changes(2) == (7, ["c", "d", "e", "f", "g"])  # the oldest kept change
    assert st.catalog_changes(7) == (7, [])
    assert st.catalog_changes(1) == (7, None)  # missed "b": a rebuild, never a silent gap
    assert st.catalog_changes(0) == (7, None)
    assert st.catalog_changes(9) == (7, None)  # ahead of the log: the state was emptied since
    assert st.publish_catalog([f"x{k}" for k in range(12)]) == 19
    assert st.catalog_changes(14) == (19, ["x7", "x8", "x9", "x10", "x11"])
    assert st.catalog_changes(13) == (19, None)


@pytest.mark.parametrize("open_with", ["redis"], indirect=True)
def test_a_redis_log_written_before_its_version_key_keeps_its_positions(open_with: Callable[[str], StateStore]) -> None:
    st = open_with("max_changes=4")
    st._r.rpush(st._k("cat"), "a", "b", "c")  # type: ignore[attr-defined]  # as an older ShopSage left it
    assert st.catalog_changes(1) == (3, ["b", "c"])
    assert st.publish_catalog(["d", "e"]) == 5
    assert st.catalog_changes(1) == (5, ["b", "c", "d", "e"])
    assert st.catalog_changes(0) == (5, None)
    assert st._r.llen(st._k("cat")) == 4  # type: ignore[attr-defined]

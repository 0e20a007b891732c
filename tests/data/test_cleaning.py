from __future__ import annotations

import pytest

from shopsage.data.cleaning import (
    BadValue,
    RobotFilter,
    check_event_type,
    check_id,
    check_text,
    parse_price,
    parse_timestamp,
)
from shopsage.data.rows import EventRow, RowKey


@pytest.mark.parametrize("value,reason", [(None, "missing"), ("  ", "missing"), ("a\x01b", "control"), ("x" * 300, "longer")])
def test_check_id_reasons(value: str | None, reason: str) -> None:
    with pytest.raises(BadValue, match=reason):
        check_id(value, "item id")


def test_check_id_strips() -> None:
    assert check_id("  sku-1 ", "item id") == "sku-1"


def test_text_refuses_undecodable() -> None:
    assert check_text("héllo 你好", "title") == "héllo 你好"
    with pytest.raises(BadValue, match="undecodable"):
        check_text(b"ab\xff".decode("utf-8", "surrogateescape"), "title")
    with pytest.raises(BadValue, match="undecodable"):
        check_text("bad \ufffd", "title")


def test_timestamps() -> None:
    assert parse_timestamp("1400000000.5") == 1400000000.5
    assert parse_timestamp("2024-01-02T03:04:05Z") == 1704164645.0
    for bad, reason in [("", "missing"), ("soon", "bad timestamp"), ("-1", "outside"), ("2024-01-02T03:04:05", "time zone")]:
        with pytest.raises(BadValue, match=reason):
            parse_timestamp(bad)


def test_price_and_type() -> None:
    assert parse_price("") is None and parse_price("3.5") == 3.5
    with pytest.raises(BadValue, match="negative price"):
        parse_price("-2")
    with pytest.raises(BadValue, match="not a finite"):
        parse_price("inf")
    assert check_event_type(" Purchase ") == "purchase"
    with pytest.raises(BadValue, match="known types"):
        check_event_type("teleport")


def test_robot_filter_window_slides() -> None:
    f = RobotFilter(max_per_minute=2)
    ev = [EventRow(RowKey("f", n, 0), "click", "a", "u", ts=t) for n, t in enumerate([0.0, 10.0, 20.0, 61.0, 75.0])]
    assert [f.check(e) is None for e in ev] == [True, True, False, False, False]
    assert f.check(EventRow(RowKey("f", 8, 0), "click", "a", "u", ts=200.0)) is None  # the burst is over
    assert f.check(EventRow(RowKey("f", 9, 0), "click", "a", "u", ordinal=3)) is None  # no time, no check

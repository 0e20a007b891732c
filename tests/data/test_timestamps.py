"""Timestamps that are not timestamps: one rule (``parse_timestamp``) for every importer that reads times.

A JSON ``true`` is not second 1 of 1970, a list or an object is not a time, NaN, infinity and times
outside 1970..3000 are data errors: each is a quarantine row with its reason, never a crash and never
a stored event, in every importer (table CSV / JSON Lines / Parquet, recbole, yoochoose, UBI).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopsage.data.cleaning import MAX_TS, BadValue, parse_timestamp
from shopsage.data.importers import get_importer, run_import
from shopsage.data.importers.base import source_name
from shopsage.data.stores import open_store

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80)
    | st.sampled_from(["1700000000", " 1.7e9 ", "2024-01-02T03:04:05Z", "2024-01-02T03:04:05", "nan", "-inf", "1e999",
                       "true", "0x10", "1_700_000_000"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8)
units = st.sampled_from([None, "s", "ms", "us"])


@given(value=json_values, unit=units)
def test_any_json_value_is_a_time_in_range_or_a_bad_value_never_another_error(value: Any, unit: str | None) -> None:
    try:
        ts = parse_timestamp(value, unit)  # type: ignore[arg-type]
    except BadValue as exc:
        assert str(exc)
        return
    assert not isinstance(value, bool | list | dict) and value is not None
    assert isinstance(ts, float) and math.isfinite(ts) and 0 <= ts <= MAX_TS


@given(value=st.booleans(), unit=units)
def test_a_boolean_is_never_a_time(value: bool, unit: str | None) -> None:
    with pytest.raises(BadValue, match="boolean"):
        parse_timestamp(value, unit)  # type: ignore[arg-type]


@given(seconds=st.integers(0, int(MAX_TS)))
def test_a_time_in_range_reads_back_in_every_unit_and_spelling(seconds: int) -> None:
    assert parse_timestamp(seconds) == parse_timestamp(str(seconds)) == float(seconds)
    assert parse_timestamp(seconds * 1000, "ms") == parse_timestamp(str(seconds * 1000), "ms") == float(seconds)
    assert parse_timestamp(seconds * 1_000_000, "us") == float(seconds)
    iso = datetime.fromtimestamp(seconds, UTC)
    assert parse_timestamp(iso) == parse_timestamp(iso.isoformat()) == float(seconds)


@pytest.mark.parametrize("value,reason", [
    (True, "boolean true, not a time"), (False, "boolean false"), ([1700000000], "is a list"),
    ({"at": 1}, "is an object"), (float("nan"), "not a finite number"), (float("inf"), "not a finite number"),
    ("NaN", "not a finite number"), (-1, "outside 1970..3000"), (10**20, "outside 1970..3000"),
    (10**5000, "number of about 5,001 digits: outside"), ("2024-01-02T03:04:05", "no time zone"),
    (datetime(2024, 1, 2), "no time zone"), ("soon", "give Unix seconds or ISO 8601"), (b"17", "bytes value"),
], ids=lambda v: repr(v)[:20] if not isinstance(v, int) or abs(v) < 10**100 else "huge int")
def test_reasons_say_what_is_wrong(value: Any, reason: str) -> None:
    with pytest.raises(BadValue, match=reason):
        parse_timestamp(value)


def test_a_unit_wants_a_number() -> None:
    with pytest.raises(BadValue, match="expected a number in ms"):
        parse_timestamp("2024-01-02T03:04:05Z", "ms")


# ---------------------------------------------------------------- every importer that reads times

BAD_JSON = [True, False, [1700000000], {"at": 1700000000}, 1e300, -5, "nan", "Infinity"]
BAD_TEXT = ["true", "nan", "inf", "1e300", "-5", "[1]", "{}"]
CLICKS = 'kind = "events"\ntimestamp_unit = "{unit}"\n[columns]\nsession = "s"\nitem = "i"\ntimestamp = "t"\n' \
         '[constants]\ntype = "click"\n'


@pytest.mark.parametrize("unit", ["s", "iso"])
def test_table_jsonl_quarantines_each_non_time(tmp_path: Path, unit: str) -> None:
    rows = [{"s": "a", "i": "good", "t": 1700000000}] + [{"s": "a", "i": f"i{n}", "t": t} for n, t in enumerate(BAD_JSON)]
    (tmp_path / "clicks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "map.toml").write_text(CLICKS.format(unit=unit), encoding="utf-8")
    store = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    summary = run_import(store, get_importer("table", str(tmp_path / "clicks.jsonl"), mapping=tmp_path / "map.toml"))
    reasons = {q.key.line: q.reason for q in store.quarantined(limit=1000)}
    store.close()
    assert (summary.accepted, summary.quarantined) == (1, len(BAD_JSON))
    assert set(reasons) == set(range(2, 2 + len(BAD_JSON)))
    assert "boolean true" in reasons[2] and "boolean false" in reasons[3]
    assert "is a list" in reasons[4] and "is an object" in reasons[5] and "outside 1970..3000" in reasons[6]


def test_table_parquet_quarantines_a_boolean_time_and_reads_a_timestamp_column(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    pq.write_table(pa.table({"s": ["a", "a"], "i": ["x", "y"], "t": [True, False]}), tmp_path / "bools.parquet")
    pq.write_table(pa.table({"s": ["a"], "i": ["x"], "t": pa.array([when], pa.timestamp("us", tz="UTC"))}),
                   tmp_path / "times.parquet")
    (tmp_path / "map.toml").write_text(CLICKS.format(unit="iso"), encoding="utf-8")
    store = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    bools = run_import(store, get_importer("table", str(tmp_path / "bools.parquet"), mapping=tmp_path / "map.toml"))
    times = run_import(store, get_importer("table", str(tmp_path / "times.parquet"), mapping=tmp_path / "map.toml"))
    reasons = [q.reason for q in store.quarantined(limit=100)]
    stored = [e.ts for e in store.event_rows(source_name(tmp_path / "times.parquet"), [2])]
    store.close()
    assert (bools.accepted, bools.quarantined, times.accepted) == (0, 2, 1)
    assert all("boolean" in r for r in reasons) and stored == [when.timestamp()]


def test_table_csv_quarantines_non_numbers_in_its_unit(tmp_path: Path) -> None:
    (tmp_path / "clicks.csv").write_text("s,i,t\na,good,1700000000000\n" + "".join(
        f"a,i{n},{t}\n" for n, t in enumerate(BAD_TEXT)), encoding="utf-8")
    (tmp_path / "map.toml").write_text(CLICKS.format(unit="ms"), encoding="utf-8")
    store = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    summary = run_import(store, get_importer("table", str(tmp_path / "clicks.csv"), mapping=tmp_path / "map.toml"))
    reasons = {q.key.line: q.reason for q in store.quarantined(limit=1000)}
    stored = [e.ts for e in store.event_rows(source_name(tmp_path / "clicks.csv"), [2])]
    store.close()
    assert (summary.accepted, summary.quarantined, stored) == (1, len(BAD_TEXT), [1700000000.0])
    assert "expected a number in ms" in reasons[3] and "not a finite number" in reasons[4]


def test_recbole_and_yoochoose_quarantine_text_that_is_not_a_time(tmp_path: Path) -> None:
    rec, yoo = tmp_path / "rec", tmp_path / "yoo"
    rec.mkdir()
    yoo.mkdir()
    (rec / "shop.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\nu\tgood\t1700000000\n" + "".join(
        f"u\ti{n}\t{t}\n" for n, t in enumerate(BAD_TEXT)), encoding="utf-8")
    (yoo / "c_train_full.txt").write_text("SessionId\tItemId\tTime\n1\tgood\t1700000000\n" + "".join(
        f"1\ti{n}\t{t}\n" for n, t in enumerate(BAD_TEXT)), encoding="utf-8")
    (yoo / "c_test.txt").write_text("SessionId\tItemId\tTime\n2\tgood\t1700000001\n", encoding="utf-8")
    for fmt, folder in (("recbole", rec), ("yoochoose", yoo)):
        store = open_store(f"sqlite:///{tmp_path / (fmt + '.db')}")
        summary = run_import(store, get_importer(fmt, str(folder)))
        reasons = [q.reason for q in store.quarantined(limit=1000)]
        store.close()
        assert summary.quarantined == len(BAD_TEXT) and len(reasons) == len(BAD_TEXT), (fmt, reasons)
        assert any("not a finite number" in r for r in reasons) and any("outside 1970..3000" in r for r in reasons)


def test_table_items_times_follow_the_same_rule(tmp_path: Path) -> None:
    rows = [{"sku": "good", "name": "Saw", "c": 1700000000, "u": "2024-01-02T03:04:05Z"},
            {"sku": "b1", "name": "Saw", "c": True, "u": None}, {"sku": "b2", "name": "Saw", "c": -5, "u": None},
            {"sku": "b3", "name": "Saw", "c": 1700000000, "u": [1]}]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "map.toml").write_text('kind = "items"\n[columns]\nid = "sku"\ntitle = "name"\ncreated_at = "c"\n'
                                       'updated_at = "u"\n', encoding="utf-8")
    store = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    summary = run_import(store, get_importer("table", str(tmp_path / "items.jsonl"), mapping=tmp_path / "map.toml"))
    reasons = {q.key.line: q.reason for q in store.quarantined(limit=100)}
    items = {r.ext_id: (r.created_at, r.updated_at) for _, r in store.items()}
    store.close()
    assert (summary.accepted, summary.quarantined) == (1, 3)
    assert items == {"good": (1700000000.0, 1704164645.0)}
    assert "created_at: timestamp is the boolean true" in reasons[2] and "created_at: bad timestamp -5" in reasons[3]
    assert "updated_at: timestamp is a list" in reasons[4]

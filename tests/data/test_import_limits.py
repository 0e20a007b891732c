"""The file defects of issue 23, one by one: each bad row is quarantined with a reason that says what
to fix, every good row is stored, and a file damaged as a whole is one clear ImportFormatError."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopsage.data.importers import ImportLimits, get_importer, run_import
from shopsage.data.importers.base import source_name
from shopsage.data.rows import QuarantineRow, RowKey, safe_text
from shopsage.data.stores import open_store
from shopsage.errors import ImportFormatError

EVENTS_MAPPING = ('kind = "events"\n[columns]\nid = "id"\nuser = "user"\nitem = "item"\ntype = "type"\n'
                  'timestamp = "ts"\n')
GOOD = [{"id": f"e{n}", "user": "u1", "item": f"I{n}", "type": "view", "ts": 1_400_000_000 + n} for n in range(3)]


def _import(url: str, fmt: str, path: Path, **options: object) -> tuple[object, object]:
    store = open_store(url)
    summary = run_import(store, get_importer(fmt, str(path), **options))
    assert summary.balanced, summary
    return store, summary


def _reasons(store: object) -> dict[int, str]:
    return {q.key.line: q.reason for q in store.quarantined(limit=1000)}  # type: ignore[attr-defined]


def _table(tmp_path: Path, name: str, body: bytes) -> Path:
    (tmp_path / "map.toml").write_text(EVENTS_MAPPING, encoding="utf-8")
    (tmp_path / name).write_bytes(body)
    return tmp_path / name


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_jsonl_bad_lines_are_quarantined_on_both_backends(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    good = [json.dumps(r).encode() for r in GOOD]
    bad = [b'{"id": "x1", "user": "u\\u0000", "item": "I", "type": "view", "ts": 1400000000}',  # NUL in an id
           b'{"id": "x2", "user": "u\xff", "item": "I", "type": "view", "ts": 1400000000}',  # invalid UTF-8
           b"[" * 100_000,  # deep nesting
           b'{"id": "x3", "user": "u", "item": "I", "type": "view", "ts": ' + b"9" * 5001 + b"}",  # 5,001 digits
           b'{"id": "x4", "user": "u", "item": "I\\u0001", "type": "view", "ts": 1400000000}',  # control character
           b"\x00\x01\x02binary\x00",
           b'{"id": "x5", "user": "u", "item": "I", "type": "view", "ts": 1400000000, "pad": "' + b"x" * 200_000 + b'"}']
    path = _table(tmp_path, "ev.jsonl", b"\n".join([good[0], *bad, good[1], good[2]]) + b"\n")
    store, summary = _import(url, "table", path, mapping=tmp_path / "map.toml")
    assert (summary.accepted, summary.quarantined) == (3, len(bad))
    reasons = _reasons(store)
    assert "NUL" in reasons[2] and "undecodable" in reasons[3] and "nested" in reasons[4]
    assert "5,001 characters" in reasons[5] and "control characters" in reasons[6] and "NUL byte" in reasons[7]
    assert "131,072" in reasons[8]
    for q in store.quarantined(limit=100):  # type: ignore[attr-defined]
        assert "\x00" not in q.raw and len(q.raw) <= 4000
        q.raw.encode("utf-8")


def test_csv_field_over_the_csv_module_limit(tmp_path: Path, sqlite_url: str) -> None:
    rows = ["id,user,item,type,ts"] + [f"e{n},u1,I{n},view,{1_400_000_000 + n}" for n in range(3)]
    rows.insert(2, "e9,u1,I9,view," + "7" * 140_000)  # a field over 131,072 bytes
    rows.insert(3, 'e8,u1,"I8,view,1400000000')  # a quote that never closes
    path = _table(tmp_path, "ev.csv", ("\n".join(rows) + "\n").encode())
    store, summary = _import(sqlite_url, "table", path, mapping=tmp_path / "map.toml")
    assert (summary.accepted, summary.quarantined) == (3, 2)
    reasons = _reasons(store)
    assert "131,072" in reasons[3] and "does not close" in reasons[4]


def test_recbole_plain_ratings_columns_duplicates_and_truncated_last_line(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "rb"
    folder.mkdir()
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float",
             "u1\ti1\t4\t1400000000", "u1\ti2\t-1\t1400000001", "u1\ti3\t1e308\t1400000002",
             "u1\ti4\t5", "u1\ti5\t5\t1400000004\textra", "u1\ti1\t4\t1400000000", "u2\ti1\t3\t1400000005",
             "u2\ti2\t3\t14"]
    (folder / "x.inter").write_text("\n".join(lines), encoding="utf-8")  # no newline at the end
    store, summary = _import(sqlite_url, "recbole", folder)
    reasons = _reasons(store)
    assert summary.accepted == 3 and set(reasons) == {3, 4, 5, 6, 7}  # the cut last line "14" is still a time
    assert "outside 0..10" in reasons[3] and "outside 0..10" in reasons[4]
    assert "expected 4 tab-separated fields" in reasons[5] and "found 5" in reasons[6]
    assert reasons[7] == "exact duplicate of line 2"
    (folder / "x.inter").write_text("\n".join(lines[:-1] + ["u2\ti2\t3\t14000000"]) + "\tx", encoding="utf-8")
    store2, _ = _import(f"sqlite:///{tmp_path / 'b.db'}", "recbole", folder)
    assert _reasons(store2)[9].startswith("truncated last line (the file ends without a newline): expected 4")
    wide = ImportLimits(min_rating=-10, max_rating=10)
    store3, summary3 = _import(f"sqlite:///{tmp_path / 'c.db'}", "recbole", folder, limits=wide)
    assert "u1\ti2" not in " ".join(q.raw for q in store3.quarantined())  # type: ignore[attr-defined]


def test_amazon_seq_duplicate_user_and_binary_line(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "item_titles.txt").write_bytes(b"A a title\nB \nA a title\n")
    (folder / "user_sequence.txt").write_bytes(b"u1 A B\n\x89\x00\xff\xfe\x01\x02\nu1 A B\nu2 B A\nu1 B\n")
    store, summary = _import(sqlite_url, "amazon-seq", folder)
    reasons = {(q.key.source.rsplit("/", 1)[-1], q.key.line): q.reason for q in store.quarantined()}  # type: ignore[attr-defined]
    assert reasons[("item_titles.txt", 3)].startswith("exact duplicate: item A")
    assert "NUL byte" in reasons[("user_sequence.txt", 2)]
    assert reasons[("user_sequence.txt", 3)].startswith("exact duplicate: user u1 already has its line (1)")
    assert reasons[("user_sequence.txt", 5)].startswith("conflicting duplicate: user u1")
    src = source_name(folder / "user_sequence.txt")
    assert [(e.user, e.item) for e in store.event_rows(src, [1, 4])] == [("u1", "A"), ("u1", "B"), ("u2", "B"), ("u2", "A")]  # type: ignore[attr-defined]


def test_line_over_the_limit_is_quarantined_unread(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "dg"
    folder.mkdir()
    (folder / "train_sessions.txt").write_bytes(b"1 2 3\n" + b"4 " * 600_000 + b"\n5 6\n")
    (folder / "test_prefixes.tsv").write_bytes(b"1 2\t3\n")
    store, summary = _import(sqlite_url, "sessions", folder, limits=ImportLimits(max_line_bytes=100_000))
    assert summary.quarantined == 1 and summary.accepted == 3 + 2 + 3
    assert "1,200,001 bytes is over the limit of 100,000" in _reasons(store)[2]


def test_truncated_parquet_is_one_clear_error(tmp_path: Path, sqlite_url: str) -> None:
    pq.write_table(pa.Table.from_pylist(GOOD), tmp_path / "ev.parquet")
    data = (tmp_path / "ev.parquet").read_bytes()
    path = _table(tmp_path, "cut.parquet", data[: len(data) // 2])
    with pytest.raises(ImportFormatError, match="cut.parquet is not a readable Parquet file"):
        _import(sqlite_url, "table", path, mapping=tmp_path / "map.toml")


def test_gzip_that_ends_early_keeps_the_rows_before(tmp_path: Path, sqlite_url: str) -> None:
    rows = [json.dumps({**GOOD[0], "id": f"e{n}", "ts": 1_400_000_000 + n}) for n in range(5000)]
    data = gzip.compress(("\n".join(rows) + "\n").encode())
    path = _table(tmp_path, "ev.jsonl.gz", data[: len(data) * 3 // 4])
    store = open_store(sqlite_url)
    with pytest.raises(ImportFormatError, match="ev.jsonl.gz is damaged") as exc:
        run_import(store, get_importer("table", str(path), mapping=tmp_path / "map.toml"), batch_size=500)
    assert "re-run" in str(exc.value)
    kept = store.stats().events  # type: ignore[attr-defined]
    assert 0 < kept < 5000  # what came before the damage is stored; re-running adds nothing
    whole = _table(tmp_path, "ev.jsonl.gz", data)
    summary = run_import(store, get_importer("table", str(whole), mapping=tmp_path / "map.toml"))
    assert (summary.accepted, summary.already_present) == (5000 - kept, kept)


def test_file_not_in_the_format(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "dg"
    folder.mkdir()
    (folder / "train_sessions.txt").write_bytes(bytes(range(256)) * 40)
    (folder / "test_prefixes.tsv").write_bytes(b"1 2\t3\n")
    with pytest.raises(ImportFormatError, match="train_sessions.txt is not a text file"):
        _import(sqlite_url, "sessions", folder)
    (folder / "train_sessions.txt").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ImportFormatError, match="is a zip archive"):
        _import(sqlite_url, "sessions", folder)
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "item_titles.txt").write_bytes(b"")
    (shop / "user_sequence.txt").write_bytes(b"\n".join(b"only-a-user-%d" % n for n in range(1500)))
    with pytest.raises(ImportFormatError, match="first 1,000 rows of .* were all refused .* Is it really amazon-seq data"):
        _import(sqlite_url, "amazon-seq", shop)


def test_safe_text_makes_any_bytes_storable() -> None:
    raw = b"ok\x00\xff\xfe\xed\xa0\x80 \xe4\xb8\xad".decode("utf-8", "surrogateescape")
    text = safe_text(raw)
    assert text == "ok\\x00\\xff\\xfe\\xed\\xa0\\x80 中"
    assert safe_text("a\ud800b") == "a\\ud800b"
    long = safe_text("z" * 1_000_000)
    assert len(long) <= 4000 and long.endswith("(cut; 1,000,000 characters in all)")
    row = QuarantineRow.safe(RowKey("f", 1), "bad \x00 user", raw)
    assert "\x00" not in row.reason + row.raw

"""Property-based: corrupted rows never stop an import, never get lost, never get stored.

For each importer hypothesis writes a file mixing valid lines with corrupted ones. After the
import: every valid line's rows are in the store exactly as written, every corrupted line is in
the quarantine with a reason, read == accepted + already present + quarantined, and re-importing
changes nothing.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from shopsage.data.importers import get_importer, run_import
from shopsage.data.importers.base import source_name
from shopsage.data.stores import open_store

ids = st.text(alphabet="ABCDEFGHJK0123456789", min_size=1, max_size=10)
bad_token = st.sampled_from([b"\xff\xfe", b"ab\x01cd", b"x" * 300])


def _run(fmt: str, path: Path, **options: object) -> tuple[object, object]:
    store = open_store(f"sqlite:///{path.parent / 'shop.db'}")
    summary = run_import(store, get_importer(fmt, str(path), **options))
    assert summary.balanced, summary
    again = run_import(store, get_importer(fmt, str(path), **options))
    assert again.accepted == 0 and again.read == summary.read, again
    assert again.already_present == summary.accepted and again.quarantined == summary.quarantined
    return store, summary


def _quarantined_lines(store: object, source: str) -> dict[int, str]:
    rows = store.quarantined(limit=100_000)  # type: ignore[attr-defined]
    assert all(r.reason for r in rows)
    return {r.key.line: r.reason for r in rows if r.key.source == source}


# one line: either ("good", user, [items]) or ("bad", raw bytes)
seq_line = st.one_of(
    st.tuples(st.just("good"), ids, st.lists(ids, min_size=1, max_size=6)),
    st.tuples(st.just("bad"), st.one_of(ids.map(lambda u: u.encode()),  # a user with no items
                                        st.tuples(ids, bad_token).map(lambda t: t[0].encode() + b" " + t[1]))),
)


@given(lines=st.lists(seq_line, min_size=1, max_size=25))
def test_amazon_seq_corrupt_lines(lines: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "shop"
        folder.mkdir()
        (folder / "item_titles.txt").write_text("A1 a title\nB2 \n", encoding="utf-8")
        body = b"\n".join(b"%s %s" % (ln[1].encode(), " ".join(ln[2]).encode()) if ln[0] == "good" else ln[1]
                          for ln in lines)
        (folder / "user_sequence.txt").write_bytes(body + b"\n")
        store, summary = _run("amazon-seq", folder)
        src = source_name(folder / "user_sequence.txt")
        bad = _quarantined_lines(store, src)
        users: dict[str, int] = {}  # one line per user: a user's second line is a duplicate
        for n, ln in enumerate(lines, start=1):
            stored = store.event_rows(src, [n])
            if ln[0] == "good" and users.setdefault(ln[1], n) == n:
                assert [(e.user, e.item, e.ordinal) for e in stored] == [(ln[1], it, p) for p, it in enumerate(ln[2])]
                assert n not in bad
            elif ln[0] == "good":
                assert stored == [] and "duplicate: user" in bad[n] and f"({users[ln[1]]})" in bad[n]
            else:
                assert stored == [] and n in bad
        assert summary.quarantined == len(lines) - len(users)


session_line = st.one_of(
    st.tuples(st.just("good"), st.lists(ids, min_size=1, max_size=6)),
    st.tuples(st.just("bad"), st.tuples(ids, bad_token).map(lambda t: t[0].encode() + b" " + t[1])),
)


@given(train=st.lists(session_line, min_size=1, max_size=15), test=st.lists(
    st.one_of(st.tuples(st.just("good"), st.lists(ids, min_size=2, max_size=5)),
              st.tuples(st.just("bad"), st.sampled_from([b"1 2 3", b"1\t", b"\t5", b"1\t2 3"]))), min_size=1, max_size=10))
def test_sessions_corrupt_lines(train: list[tuple], test: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dg"
        folder.mkdir()
        (folder / "train_sessions.txt").write_bytes(
            b"\n".join(" ".join(ln[1]).encode() if ln[0] == "good" else ln[1] for ln in train) + b"\n")
        (folder / "test_prefixes.tsv").write_bytes(
            b"\n".join((" ".join(ln[1][:-1]) + "\t" + ln[1][-1]).encode() if ln[0] == "good" else ln[1] for ln in test) + b"\n")
        store, _ = _run("sessions", folder)
        for name, lines, split in (("train_sessions.txt", train, "train"), ("test_prefixes.tsv", test, "test")):
            src = source_name(folder / name)
            bad = _quarantined_lines(store, src)
            for n, ln in enumerate(lines, start=1):
                stored = store.event_rows(src, [n])
                if ln[0] == "good":
                    assert [e.item for e in stored] == ln[1]
                    assert {(e.session, e.split, e.type) for e in stored} == {(f"{src}:{n}", split, "click")}
                else:
                    assert stored == [] and n in bad


click_row = st.one_of(
    st.tuples(st.just("good"), ids, ids, st.floats(1e9, 2e9, allow_nan=False).map(lambda f: round(f, 3))),
    st.tuples(st.just("bad"), st.sampled_from(["1\t2", "1\t2\tyesterday", "1\t2\t-5", "\t2\t1400000000", "1\t2\t1e30"])),
)


@given(rows=st.lists(click_row, min_size=1, max_size=25), dup=st.booleans())
def test_yoochoose_corrupt_rows(rows: list[tuple], dup: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "yc"
        folder.mkdir()
        text = ["SessionId\tItemId\tTime"] + [f"{r[1]}\t{r[2]}\t{r[3]}" if r[0] == "good" else r[1] for r in rows]
        goods = [r for r in rows if r[0] == "good"]
        if dup and goods:
            text.append(f"{goods[0][1]}\t{goods[0][2]}\t{goods[0][3]}")
        (folder / "x_train_full.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
        (folder / "x_test.txt").write_text("SessionId\tItemId\tTime\n", encoding="utf-8")
        store, summary = _run("yoochoose", folder)
        src = source_name(folder / "x_train_full.txt")
        bad = _quarantined_lines(store, src)
        seen: set[tuple] = set()
        for n, r in enumerate(rows, start=2):
            stored = store.event_rows(src, [n])
            if r[0] == "good" and (r[1], r[2], float(r[3])) not in seen:
                seen.add((r[1], r[2], float(r[3])))
                assert [(e.session, e.item, e.ts) for e in stored] == [(r[1], r[2], float(r[3]))]
            else:
                assert stored == [] and n in bad
        if dup and goods:
            assert "exact duplicate" in bad[len(rows) + 2]


judgment_row = st.one_of(
    st.tuples(st.just("good"), st.sampled_from(["100001", "100002"]), st.text("abc xyz", min_size=1, max_size=12).filter(str.strip),
              st.sampled_from([1.0, 1.33, 2.67, 3.0])),
    st.tuples(st.just("bad"), st.sampled_from(['9,100001,"t","q",7', '9,100001,"t","q",x', '9,,"t","q",2',
                                               '9,100001,"t","",2', '9,100001,"t"'])),
)


@given(rows=st.lists(judgment_row, min_size=1, max_size=20))
def test_homedepot_corrupt_rows(rows: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "hd"
        folder.mkdir()
        (folder / "product_titles.csv").write_bytes(
            b'"product_uid","product_title"\r\n100001,"Angle \xe9"\r\n100002,"Saw"\r\n,"no id"\r\n')
        lines = ['"id","product_uid","product_title","search_term","relevance"']
        lines += [f'{n},{r[1]},"t","{r[2]}",{r[3]}' if r[0] == "good" else r[1] for n, r in enumerate(rows)]
        (folder / "train.csv").write_text("\n".join(lines) + "\n", encoding="iso-8859-1")
        store, summary = _run("homedepot", folder)
        titles = {r.ext_id: r.title for _, r in store.items()}
        assert titles == {"100001": "Angle é", "100002": "Saw"}  # the row without an id is quarantined
        judged = store.judgments()
        expected = [(r[2].strip(), r[1], r[3]) for r in rows if r[0] == "good"]
        assert judged == expected
        assert len(_quarantined_lines(store, source_name(folder / "train.csv"))) == sum(r[0] == "bad" for r in rows)


event_csv_row = st.one_of(
    st.tuples(st.just("good"), ids, st.sampled_from(["view", "addtocart", "transaction"]), ids,
              st.integers(1_400_000_000_000, 1_500_000_000_000)),
    st.tuples(st.just("bad"), st.sampled_from(["e{n},,view,I1,1400000000000", "e{n},u,teleport,I1,1400000000000",
                                               "e{n},u,view,I1,soon", "e{n},u,view,,1400000000000",
                                               "e{n},u,view,I1,-99"])),
)

MAPPING = """kind = "events"
timestamp_unit = "ms"
[columns]
id = "event_id"
user = "visitorid"
type = "event"
item = "itemid"
timestamp = "timestamp"
[values.type]
addtocart = "add_to_cart"
transaction = "purchase"
"""


@given(rows=st.lists(event_csv_row, min_size=1, max_size=20), conflict=st.booleans())
def test_table_events_corrupt_rows(rows: list[tuple], conflict: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "map.toml").write_text(MAPPING, encoding="utf-8")
        lines = ["event_id,visitorid,event,itemid,timestamp"]
        lines += [f"e{n},{r[1]},{r[2]},{r[3]},{r[4]}" if r[0] == "good" else r[1].format(n=n) for n, r in enumerate(rows)]
        goods = [(n, r) for n, r in enumerate(rows) if r[0] == "good"]
        if conflict and goods:  # the same event id again with other content
            n0, r0 = goods[0]
            lines.append(f"e{n0},{r0[1]},{r0[2]},{r0[3]}X,{r0[4]}")
        (folder / "events.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        store, summary = _run("table", folder / "events.csv", mapping=folder / "map.toml")
        types = {"view": "view", "addtocart": "add_to_cart", "transaction": "purchase"}
        stored = {e.ext_id: e for n, _ in goods for e in store.event_rows(source_name(folder / "events.csv"), [n + 2])}
        for n, r in goods:
            e = stored[f"e{n}"]
            assert (e.user, e.type, e.item, e.ts) == (r[1], types[r[2]], r[3], r[4] / 1000)
        bad = _quarantined_lines(store, source_name(folder / "events.csv"))
        assert {n + 2 for n, r in enumerate(rows) if r[0] == "bad"} <= set(bad)
        if conflict and goods:
            assert "conflicting duplicate" in bad[len(rows) + 2]


price = st.one_of(st.floats(0, 1e4, allow_nan=False).map(lambda p: round(p, 2)), st.sampled_from([-1.0, -0.01]))


@given(prices=st.lists(price, min_size=1, max_size=15))
def test_table_items_negative_price_quarantined(prices: list[float]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "map.toml").write_text('kind = "items"\n[columns]\nid = "sku"\ntitle = "name"\nprice = "price"\n', encoding="utf-8")
        rows = ["sku,name,price"] + [f"S{n},Item {n},{p}" for n, p in enumerate(prices)]
        (folder / "items.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        store, summary = _run("table", folder / "items.csv", mapping=folder / "map.toml")
        got = {r.ext_id: r.price for _, r in store.items()}
        assert got == {f"S{n}": p for n, p in enumerate(prices) if p >= 0}
        assert summary.quarantined == sum(p < 0 for p in prices)


@given(rows=st.lists(st.one_of(st.tuples(st.just("good"), st.sampled_from(["书籍", "手机"]), st.sampled_from(["0", "1"]),
                                         st.text("好很不错", max_size=8)),
                               st.tuples(st.just("bad"), st.sampled_from(["书籍,2,坏", "手机,1", ",1,空"]))),
                     min_size=1, max_size=15))
def test_reviews_zh_corrupt_rows(rows: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reviews.zip"
        body = "\ufeffcat,label,review\n" + "".join(f"{r[1]},{r[2]},{r[3]}\n" if r[0] == "good" else r[1] + "\n" for r in rows)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("reviews.csv", body.encode("utf-8"))
        path.write_bytes(buf.getvalue())
        store, summary = _run("reviews-zh", path)
        docs = [(d.category, d.label, d.text) for _, d in store.documents()]
        assert docs == [(r[1], r[2], r[3]) for r in rows if r[0] == "good"]
        assert summary.quarantined == sum(r[0] == "bad" for r in rows)


def test_strict_stops_at_first_bad_row_with_line(tmp_path: Path) -> None:
    from shopsage.errors import StrictImportError

    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "item_titles.txt").write_text("A a\n", encoding="utf-8")
    (folder / "user_sequence.txt").write_text("u1 A\nu2\nu3 A\n", encoding="utf-8")
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        run_import(store, get_importer("amazon-seq", str(folder)), strict=True)
        raise AssertionError("strict import did not stop")
    except StrictImportError as exc:
        assert exc.line == 2 and "has no items" in str(exc) and "without --strict" in str(exc)
    assert [e.user for e in store.event_rows(source_name(folder / "user_sequence.txt"), [1, 2, 3])] == ["u1"]


def test_robot_filter_quarantines_bursts(tmp_path: Path) -> None:
    from shopsage.data.cleaning import RobotFilter

    folder = tmp_path / "yc"
    folder.mkdir()
    burst = [f"s1\tI{n}\t{1_400_000_000 + n}" for n in range(30)] + ["s2\tI1\t1400000000", "s2\tI2\t1400000100"]
    (folder / "a_train_full.txt").write_text("SessionId\tItemId\tTime\n" + "\n".join(burst) + "\n", encoding="utf-8")
    (folder / "a_test.txt").write_text("SessionId\tItemId\tTime\n", encoding="utf-8")
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    summary = run_import(store, get_importer("yoochoose", str(folder)), robot_filter=RobotFilter(20))
    assert summary.quarantined == 10 and summary.accepted == 22
    assert all("robot filter" in r.reason for r in store.quarantined())

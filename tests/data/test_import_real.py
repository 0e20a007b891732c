"""Every importer on the real data sets: counts match ../shared/data/README.md exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopsage.data.importers import get_importer, run_import
from shopsage.data.splits import leave_one_out, session_prefix
from shopsage.data.stores import open_store


def _import(url: str, fmt: str, path: Path) -> tuple[object, object]:
    store = open_store(url)
    summary = run_import(store, get_importer(fmt, str(path)))
    assert summary.balanced
    return store, summary


def test_amazon_beauty(data_dir: Path, sqlite_url: str) -> None:
    store, summary = _import(sqlite_url, "amazon-seq", data_dir / "amazon-beauty")
    st = store.stats()
    assert (st.users, st.items, st.events, st.events_by_type["purchase"]) == (22_363, 12_101, 198_502, 198_502)
    assert summary.quarantined == 0
    items = dict((r.ext_id, r) for _, r in store.items())
    assert items["B001LTVF7G"].title is None  # the one empty title: the item still counts
    split = leave_one_out(store)
    assert len(split.test) == 22_363 and len(split.valid) == 22_363
    assert split.train.items.size + 2 * 22_363 == 198_502
    # idempotent: a second import adds nothing and quarantines nothing
    again = run_import(store, get_importer("amazon-seq", str(data_dir / "amazon-beauty")))
    assert (again.accepted, again.quarantined, again.already_present) == (0, 0, again.read)
    assert store.stats().events == 198_502


def test_s3rec_beauty_matches_amazon_seq(data_dir: Path, sqlite_url: str) -> None:
    store, summary = _import(sqlite_url, "s3rec", data_dir / "amazon-beauty" / "s3rec_Beauty.txt")
    st = store.stats()
    assert (st.users, st.items, st.events) == (22_363, 12_101, 198_502)
    with_attrs = [r for _, r in store.items() if r.attributes]
    assert with_attrs and all(isinstance(a, int) for a in with_attrs[0].attributes["attribute_ids"])


def test_amazon_scientific_recbole(data_dir: Path, sqlite_url: str) -> None:
    store, _ = _import(sqlite_url, "recbole", data_dir / "amazon-scientific")
    st = store.stats()
    assert (st.users, st.items, st.events) == (8_442, 4_385, 59_427)
    assert st.events_by_split == {"train": 59_427 - 2 * 8_442, "valid": 8_442, "test": 8_442}
    items = {r.ext_id: r for _, r in store.items()}
    first = items["B0000223SI"]  # the file's first item, its text split into the parts it was made of
    assert first.title == "PORTER-CABLE 740000801 4 1/2-Inch x 10yd 80 Grit Adhesive-Backed Sanding Roll"
    assert first.category_path == ("Industrial & Scientific", "Abrasive & Finishing Products", "Manual Sanding Products",
                                   "Sanding Rolls")
    assert first.brand == "PORTER-CABLE"
    assert items["B0000223UV"].category_path[1:] == ("Tapes, Adhesives & Sealants", "Urethane Adhesives")
    # the counts of what the texts hold: 134 items have an empty category list, 12 no brand, none a price
    assert sum(1 for r in items.values() if r.category_path) == 4_251
    assert {r.category_path[0] for r in items.values() if r.category_path} == {"Industrial & Scientific"}
    assert sum(1 for r in items.values() if r.brand) == 4_373
    assert all(r.price is None for r in items.values())
    assert not any(". Industrial & Scientific " in (r.title or "") for r in items.values())
    raw = (data_dir / "amazon-scientific" / "Scientific.text").read_text(encoding="utf-8").splitlines()[1:]
    for line in raw:  # nothing of a text is lost: its title, category words and brand are all kept
        ext, text = line.split("\t")
        r = items[ext]
        assert text.replace(". ", " ").split() == " ".join(
            [r.title or "", " ".join(r.category_path), r.brand or ""]).replace(". ", " ").split(), ext
    # leave-one-out over the rebuilt sequences reproduces the files' own test targets
    split = leave_one_out(store)
    first_test = (data_dir / "amazon-scientific" / "Scientific.test.inter").read_text().splitlines()[1].split("\t")
    item2index = dict(line.split("\t") for line in (data_dir / "amazon-scientific" / "Scientific.item2index").read_text().splitlines())
    index2item = {v: k for k, v in item2index.items()}
    user2index = dict(line.split("\t") for line in (data_dir / "amazon-scientific" / "Scientific.user2index").read_text().splitlines())
    user = next(u for u, i in user2index.items() if i == first_test[0])
    case = next(c for c in range(len(split.test)) if split.owners.external(split.test.owner[c]) == user)
    assert split.items.external(split.test.target[case]) == index2item[first_test[2].strip()]
    assert split.items.externals(split.test.history[case])[-3:] == [index2item[i] for i in first_test[1].split()[-3:]]


def test_homedepot(data_dir: Path, sqlite_url: str) -> None:
    store, _ = _import(sqlite_url, "homedepot", data_dir / "homedepot")
    st = store.stats()
    assert (st.items, st.judgments, st.judged_queries) == (54_667, 52_447, 8_353)
    judged = store.judgments()
    assert ("angle bracket", "100001", 3.0) in judged
    # the shared copy has no attributes.csv: the competition's files hold no prices or categories
    assert not (data_dir / "homedepot" / "attributes.csv").exists()
    assert {(r.brand, r.category_path, r.price) for _, r in store.items()} == {(None, (), None)}


def test_diginetica_sessions(data_dir: Path, sqlite_url: str) -> None:
    store, _ = _import(sqlite_url, "sessions", data_dir / "diginetica")
    st = store.stats()
    assert st.sessions_by_split == {"train": 186_670, "test": 60_858}
    assert st.items == 43_097
    split = session_prefix(store)
    assert len(split.test) == 60_858
    assert len(split.train) == 186_670


def test_yoochoose_duplicate_row_is_quarantined(data_dir: Path, sqlite_url: str) -> None:
    store, summary = _import(sqlite_url, "yoochoose", data_dir / "yoochoose-100k")
    st = store.stats()
    assert summary.read == 70_278 + 13_568
    assert summary.quarantined == 1 and "exact duplicate" in store.quarantined()[0].reason
    assert st.events_by_split == {"train": 70_277, "test": 13_568}
    assert st.sessions_by_split == {"train": 17_794, "test": 3_416}
    assert st.events_by_type["click"] == st.events
    assert store.interactions().ts.min() > 1.3e9  # real timestamps, not ordinals


def test_chinese_reviews(data_dir: Path, sqlite_url: str) -> None:
    store, summary = _import(sqlite_url, "reviews-zh", data_dir / "chinese-reviews" / "online_shopping_10_cats.zip")
    assert store.stats().documents == 62_774 and summary.quarantined == 0
    docs = [d for _, d in store.documents()]
    assert sum(1 for d in docs if d.text == "") == 1
    assert {d.category for d in docs} >= {"酒店", "手机", "计算机", "书籍"}


@pytest.mark.parametrize("fmt,rel", [("amazon-seq", "homedepot"), ("homedepot", "amazon-beauty"),
                                      ("sessions", "amazon-beauty"), ("recbole", "diginetica")])
def test_wrong_folder_says_what_is_missing(data_dir: Path, fmt: str, rel: str, sqlite_url: str) -> None:
    from shopsage.errors import ImportFormatError

    with pytest.raises(ImportFormatError, match="missing|must hold|needs"):
        _import(sqlite_url, fmt, data_dir / rel)

from __future__ import annotations

import pytest

from shopsage.errors import ImportFormatError
from shopsage.search.bench_data import HOMEDEPOT, TableMapping, read_catalog, read_judgments, split_queries


def test_split_is_deterministic_disjoint_and_seeded() -> None:
    queries = [f"query {i}" for i in range(1000)]
    train, dev = split_queries(queries + queries[:10], 0.2, seed=1)
    assert not set(train) & set(dev) and len(train) + len(dev) == 1000
    assert 150 < len(dev) < 250
    assert split_queries(list(reversed(queries)), 0.2, seed=1) == (train, dev)
    assert split_queries(queries, 0.2, seed=2)[1] != dev


def test_homedepot_files(tmp_path) -> None:
    cat = tmp_path / "titles.csv"
    cat.write_bytes('"product_uid","product_title"\r\n100001,"Caf\xe9 table"\r\n100002,"Angle bracket"\r\n'.encode("latin-1"))
    jud = tmp_path / "train.csv"
    jud.write_text('"id","product_uid","product_title","search_term","relevance"\n'
                   '1,100001,"x","cafe  table",3\n2,100002,"x","angle",2.33\n3,100002,"x","angle",1.67\n', encoding="latin-1")
    rows = read_catalog(cat, HOMEDEPOT)
    assert [(r.ext_id, r.title) for r in rows] == [("100001", "Café table"), ("100002", "Angle bracket")]
    j = sorted(read_judgments(jud, HOMEDEPOT))
    assert j[0][:2] == ("angle", "100002") and j[0][2] == pytest.approx(1.0)  # mean of 1.33 and 0.67
    assert j[1] == ("cafe table", "100001", 2.0)


def test_table_mapping_and_missing_columns(tmp_path) -> None:
    cat = tmp_path / "items.csv"
    cat.write_text("sku,name,maker,cat,cost\nA,Red shoe,Nike,Shoes>Running,80\nB,Hat,,Hats,x\n", encoding="utf-8")
    m = TableMapping(item_id="sku", title="name", brand="maker", category="cat", price="cost")
    rows = read_catalog(cat, m)
    assert rows[0].brand == "Nike" and rows[0].category_path == ("Shoes", "Running") and rows[0].price == 80.0
    assert rows[1].brand is None and rows[1].price is None
    with pytest.raises(ImportFormatError, match="no column"):
        read_catalog(cat, HOMEDEPOT)

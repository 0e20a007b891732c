"""``bench search --query-encoder``: queries by one model, items by another, compared in the same run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shopsage.search import SearchConfig
from shopsage.search.bench import BenchConfig, run_search_bench, to_markdown
from shopsage.search.bench_data import TableMapping
from shopsage.search.ranker import RankerConfig

NOUNS = ["drill", "hose", "faucet", "ladder", "lamp", "rug"]
ADJS = ["red", "steel", "compact", "outdoor"]


def test_query_encoder_is_used_and_compared(tiny_model: str, tmp_path: Path) -> None:
    items = [(f"S{i}", f"{a} {n}") for i, (a, n) in enumerate((a, n) for n in NOUNS for a in ADJS)]
    cat = tmp_path / "items.csv"
    cat.write_text("sku,name\n" + "".join(f"{s},{t}\n" for s, t in items), encoding="utf-8")
    rows = [(f"{a} {n}", s, 3 if t == f"{a} {n}" else 2) for n in NOUNS for a in ADJS[:3] for s, t in items if t.endswith(n)]
    jud = tmp_path / "judgments.csv"
    jud.write_text("q,sku,label\n" + "".join(f"{q},{s},{g}\n" for q, s, g in rows), encoding="utf-8")
    mapping = TableMapping(item_id="sku", title="name", query="q", judged_item="sku", grade="label", gain_offset=1.0)
    cfg = BenchConfig(catalog=str(cat), judgments=str(jud), mapping=mapping, dev_fraction=0.4,
                      cache_dir=str(tmp_path / "cache"), latency_queries=3, log=lambda m: None,
                      encoder_model=None, query_encoder_model=tiny_model, compare_query_encoder=True,
                      search=SearchConfig(candidates=20, ranker=RankerConfig(epochs=5, min_data_in_leaf=2, early_stopping=0)))
    # a tiny random model for queries and MiniLM for items make different vector dimensions: refused
    try:
        run_search_bench(cfg)
    except Exception as exc:  # noqa: BLE001 - the engine's own ValidationError
        assert "dimension" in str(exc) or "-d vectors" in str(exc)
    else:
        raise AssertionError("a 32-d query encoder over 384-d items must be refused")
    cfg.encoder_model = tiny_model  # same model both sides: the comparison must reproduce the main numbers
    res = run_search_bench(cfg)
    assert res["setup"]["query_encoder"]["path"] == tiny_model
    base = res["item_encoder_for_queries"]
    assert np.isclose(base["vector"]["ndcg@10"], res["modes"]["vector"]["ndcg@10"])
    assert "queries embedded by the item encoder" in to_markdown(res)

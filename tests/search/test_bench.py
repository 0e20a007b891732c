"""The search benchmark end to end on a tiny table-format catalogue (MiniLM, about 10 s)."""

from __future__ import annotations

import json

import numpy as np

from shopsage.search import SearchConfig
from shopsage.search.bench import BenchConfig, run_search_bench, write_report
from shopsage.search.bench_data import TableMapping
from shopsage.search.ranker import RankerConfig

NOUNS = ["drill", "hose", "faucet", "ladder", "lamp", "rug", "saw", "mirror", "shelf", "grill"]
ADJS = ["red", "steel", "compact", "outdoor", "wooden", "electric"]


def _files(tmp_path):
    items = [(f"S{i}", f"{a} {n}") for i, (a, n) in enumerate((a, n) for n in NOUNS for a in ADJS)]
    cat = tmp_path / "items.csv"
    cat.write_text("sku,name\n" + "".join(f"{s},{t}\n" for s, t in items), encoding="utf-8")
    rows = []
    for n in NOUNS:
        for a in ADJS[:3]:
            q = f"{a} {n}"
            for s, t in items:
                if t == q:
                    rows.append((q, s, 3))
                elif t.endswith(n):
                    rows.append((q, s, 2))
                elif t.startswith(a):
                    rows.append((q, s, 1))
    jud = tmp_path / "judgments.csv"
    jud.write_text("q,sku,label\n" + "".join(f"{q},{s},{g}\n" for q, s, g in rows), encoding="utf-8")
    return cat, jud


def test_bench_runs_and_reports(tmp_path) -> None:
    cat, jud = _files(tmp_path)
    cfg = BenchConfig(catalog=str(cat), judgments=str(jud), mapping=TableMapping(
        item_id="sku", title="name", query="q", judged_item="sku", grade="label", gain_offset=1.0),
        dev_fraction=0.3, cache_dir=str(tmp_path / "cache"), latency_queries=5, log=lambda m: None,
        search=SearchConfig(candidates=20, ranker=RankerConfig(epochs=10, min_data_in_leaf=2, early_stopping=0)))
    res = run_search_bench(cfg)
    assert set(res["modes"]) == {"lexical", "vector", "hybrid", "learned", "learned_no_popularity"}
    # judgment files hold no behaviour events: no popularity feature, so leaving it out changes nothing
    assert res["setup"]["popularity"].startswith("none") and res["setup"]["config"]["min_similarity"] is None
    assert res["modes"]["learned_no_popularity"]["ndcg@10"] == res["modes"]["learned"]["ndcg@10"]
    assert res["setup"]["train_queries"] + res["setup"]["eval_queries"] == 30
    lex = res["modes"]["lexical"]
    # Every query names its exact item, which lexical search ranks first.
    assert lex["ndcg@10"] > 0.8 and lex["recall@100"] == 1.0
    for mode in ("lexical", "vector", "hybrid", "learned"):
        r = res["modes"][mode]
        assert 0 <= r["ndcg@10"] <= 1 and r["p50_ms"] > 0 and np.isfinite(r["qps"])
    assert res["reference_bm25s"]["ndcg@10"] > 0.8
    md = write_report(res, tmp_path / "out" / "search.json", command="test")
    assert "| lexical |" in md.read_text() and json.loads((tmp_path / "out" / "search.json").read_text())["modes"]


def test_cli_bench_search_table_format(tmp_path) -> None:
    from typer.testing import CliRunner

    from shopsage.cli.main import app

    cat, jud = _files(tmp_path)
    mapping = json.dumps({"item_id": "sku", "title": "name", "query": "q", "judged_item": "sku", "grade": "label",
                          "gain_offset": 1.0})
    out = tmp_path / "res" / "search.json"
    result = CliRunner().invoke(app, ["bench", "search", "--catalog", str(cat), "--judgments", str(jud), "--json", str(out),
                                      "--format", "table", "--mapping", mapping, "--latency-queries", "3",
                                      "--candidates", "20", "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert "| learned |" in result.output
    assert json.loads(out.read_text())["modes"]["lexical"]["recall@100"] == 1.0
    bad = CliRunner().invoke(app, ["bench", "search", "--catalog", str(cat), "--judgments", str(jud), "--json", str(out),
                                   "--format", "table"])
    assert bad.exit_code != 0

"""The search ranker trained for serving: held-out figures through the front door, recomputed by hand;
popularity from behaviour events only; a registry version the service can load."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from shopsage.data.rows import EventRow, ItemRow, JudgmentRow, RowKey
from shopsage.data.stores import Store, open_store
from shopsage.errors import ConfigError, ValidationError
from shopsage.registry import ModelRegistry
from shopsage.search import SearchConfig, SearchEngine, SearchRequest
from shopsage.search.bench_data import split_queries
from shopsage.search.ranker import RankerConfig
from shopsage.search.training import (
    RANKER,
    behaviour_popularity,
    fit_search_ranker,
    load_ranker,
    train_ranker_version,
)

NOUNS = ["drill", "hose", "faucet", "ladder", "lamp", "rug", "saw", "mirror", "shelf", "grill"]
ADJS = ["red", "steel", "compact", "outdoor", "wooden", "electric"]
ITEMS = [ItemRow(f"S{i}", f"{a} {n}") for i, (a, n) in enumerate((a, n) for n in NOUNS for a in ADJS)]
FAST = RankerConfig(epochs=10, min_data_in_leaf=2, early_stopping=0)


def _judgments() -> list[tuple[str, str, float]]:
    out = []
    for n in NOUNS:
        for a in ADJS[:3]:
            q = f"{a} {n}"
            for it in ITEMS:
                t = it.title or ""
                grade = 2.0 if t == q else 1.0 if t.endswith(n) else 0.0
                if grade or t.startswith(a):
                    out.append((q, it.ext_id, grade))
    return out


def _ndcg10(ranked: list[str], gains: dict[str, float]) -> float:
    dcg = sum(gains.get(x, 0.0) / math.log2(r + 2) for r, x in enumerate(ranked[:10]))
    ideal = sorted(gains.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def test_held_out_figures_are_the_front_doors_recomputed_by_hand() -> None:
    engine = SearchEngine(SearchConfig(candidates=20, ranker=FAST))
    engine.index(ITEMS)
    judgments = _judgments()
    fit = fit_search_ranker(engine, judgments, holdout=0.3, seed=1)
    train_q, eval_q = split_queries([q for q, _, _ in judgments], 0.3, 1)
    assert (fit.train_queries, fit.eval_queries) == (train_q, eval_q) and eval_q and not set(train_q) & set(eval_q)
    nd, rc = [], []
    for q in eval_q:
        ranked = engine.query(SearchRequest(q, per_page=100, mode="learned")).ids
        gains = {ext: g for qq, ext, g in judgments if qq == q}
        nd.append(_ndcg10(ranked, gains))
        relevant = {ext for ext, g in gains.items() if g >= 1}
        rc.append(len(relevant & set(ranked[:100])) / len(relevant))
    assert fit.metrics == pytest.approx({"ndcg@10": float(np.mean(nd)), "recall@100": float(np.mean(rc))})
    assert fit.metrics["ndcg@10"] > 0.8  # each query names its exact item
    with pytest.raises(ValidationError, match="too few"):
        fit_search_ranker(engine, judgments[:3], holdout=0.3)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    st.write_items(ITEMS)
    st.write_judgments([JudgmentRow(RowKey("j", i, 0), q, ext, g) for i, (q, ext, g) in enumerate(_judgments())])
    events = [("click", "S1"), ("purchase", "S1"), ("add_to_cart", "S7"), ("impression", "S7"), ("view", "S2"),
              ("impression", "S9")]
    st.write_events([EventRow(RowKey("e", i, 0), t, ext, user="u1", ordinal=i) for i, (t, ext) in enumerate(events)])
    yield st
    st.close()


def test_popularity_counts_behaviour_events_never_judgments(store: Store) -> None:
    engine = SearchEngine()
    engine.index(ITEMS)
    pop = behaviour_popularity(store, engine)
    assert pop is not None
    want = np.zeros(len(ITEMS), np.float32)
    want[[1, 7, 2]] = [2, 1, 1]  # impressions are not behaviour; the many judgments count nothing
    np.testing.assert_array_equal(pop, want)
    empty = open_store(f"sqlite:///{Path(store.url.removeprefix('sqlite:///')).parent / 'none.db'}")
    empty.write_items(ITEMS)
    assert behaviour_popularity(empty, engine) is None  # no events: the feature is absent (zeros)
    empty.close()
    x, _ = engine.training_rows("red drill", {0: 2.0}, popularity=pop)
    _, cands, _, _ = engine.candidates("red drill")
    col = engine.features.names.index("popularity")
    np.testing.assert_allclose(x[:, col], np.log1p(pop[cands.ids]))


def test_train_ranker_version_registers_what_the_service_loads(store: Store, tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "home" / "models")
    said: list[str] = []
    v = train_ranker_version(store, reg, {"holdout": 0.3, "seed": 1, "epochs": 10, "min_data_in_leaf": 2,
                                          "early_stopping": 0, "candidates": 20}, said.append)
    m = v.manifest
    assert v.name == RANKER and reg.current(RANKER) is None  # registered, not promoted
    assert set(m["metrics"]) == {"ndcg@10", "recall@100"} and m["metrics"]["ndcg@10"] > 0.8
    assert m["protocol"] == "judgments" and m["n_eval_queries"] == len(split_queries([q for q, _, _ in _judgments()], 0.3, 1)[1])
    assert m["test_fingerprint"] and m["dense"] is False and m["popularity"] == "behaviour events"
    assert m["config"]["epochs"] == 10 and m["config"]["seed"] == 1
    ranker = load_ranker(v.path)
    assert ranker.version == v.version and ranker.feature_names == SearchEngine().features.names
    again = train_ranker_version(store, reg, {"holdout": 0.3, "seed": 1, "epochs": 10, "min_data_in_leaf": 2,
                                              "early_stopping": 0, "candidates": 20}, said.append)
    assert again.manifest["test_fingerprint"] == m["test_fingerprint"]  # comparable by promote --if-better
    assert any("held-out" in s for s in said)
    with pytest.raises(ConfigError, match="unknown ranker training parameters"):
        train_ranker_version(store, reg, {"epoch": 3}, said.append)

from __future__ import annotations

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from shopsage.errors import ValidationError
from shopsage.search import LexicalConfig, LexicalIndex

WORDS = [f"w{chr(97 + i)}{chr(97 + j)}" for i in range(8) for j in range(8)]


def _corpus(seed: int, n_docs: int = 40) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(3, 12))) for _ in range(n_docs)]


def _single_field(docs: list[str], **cfg) -> LexicalIndex:
    ix = LexicalIndex(LexicalConfig(fields={"title": 1.0}, analyzer="english-nostem", typo_tolerance=False, **cfg))
    ix.add(np.arange(len(docs)), [{"title": d} for d in docs])
    return ix


def _all_scores(ix: LexicalIndex, query: str, n_docs: int) -> np.ndarray:
    docs, scores = ix.score_terms(ix.query_terms(query))
    out = np.zeros(n_docs)
    out[docs] = scores
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bm25_matches_rank_bm25_okapi(seed: int) -> None:
    docs = _corpus(seed)
    ix = _single_field(docs, k1=1.5, b=0.75, idf="robertson")
    tokenized = [d.split() for d in docs]
    ref = BM25Okapi(tokenized, k1=1.5, b=0.75)
    rng = np.random.default_rng(seed + 100)
    for _ in range(5):
        q = list(rng.choice(WORDS, size=3))
        df = [sum(w in t for t in tokenized) for w in q]
        assert max(df) < len(docs) / 2  # rank_bm25 floors negative idf; this corpus has none
        np.testing.assert_allclose(_all_scores(ix, " ".join(q), len(docs)), ref.get_scores(q), rtol=1e-5, atol=1e-6)


def test_bm25_matches_bm25s_lucene() -> None:
    import bm25s

    docs = _corpus(7)
    k1, b = 1.2, 0.75
    ix = _single_field(docs, k1=k1, b=b, idf="lucene")
    ref = bm25s.BM25(k1=k1, b=b, method="lucene")
    ref.index(bm25s.tokenize(docs, stopwords=None, show_progress=False), show_progress=False)
    q = "waa wbc wcd"
    ours = _all_scores(ix, q, len(docs))
    theirs = ref.get_scores(q.split())
    # bm25s leaves out the constant (k1 + 1) factor of the term-frequency part.
    np.testing.assert_allclose(ours, theirs * (k1 + 1), rtol=1e-5, atol=1e-6)


def test_field_weights_rank_title_matches_first() -> None:
    ix = LexicalIndex(LexicalConfig(fields={"title": 3.0, "description": 1.0}, typo_tolerance=False))
    ix.add([0, 1], [{"title": "garden hose", "description": "green and long"},
                    {"title": "watering can", "description": "works like a garden hose"}])
    ids, _ = ix.search(["garden hose"], 2).row(0)
    assert ids.tolist() == [0, 1]


def test_typo_tolerance_finds_the_intended_word() -> None:
    docs = [{"title": "cordless drill"}, {"title": "kitchen faucet"}, {"title": "sheet rock panel"}]
    ix = LexicalIndex(LexicalConfig(fields={"title": 1.0}))
    ix.add(np.arange(3), docs)
    assert ix.search(["cordles dril"], 3).row(0)[0].tolist() == [0]
    assert ix.search(["kitchn facuet"], 3).row(0)[0].tolist() == [1]
    assert ix.search(["sheetrock"], 3).row(0)[0].tolist() == [2]
    strict = LexicalIndex(LexicalConfig(fields={"title": 1.0}, typo_tolerance=False))
    strict.add(np.arange(3), docs)
    assert strict.search(["cordles dril"], 3).row(0)[0].tolist() == []


def test_incremental_updates_equal_a_fresh_build() -> None:
    docs = _corpus(3, 30)
    ix = _single_field(docs[:20], max_segments=2)
    ix.add(np.arange(20, 30), [{"title": d} for d in docs[20:]])  # add
    ix.add([5, 6], [{"title": "waa wab"}, {"title": "wbb wbc wbd"}])  # update
    ix.delete([7, 25])
    for _ in range(3):  # several flushes force merges (max_segments=2)
        ix.add([8], [{"title": docs[8]}])
        ix.search(["waa"], 1)
    final = {i: d for i, d in enumerate(docs)}
    final[5], final[6] = "waa wab", "wbb wbc wbd"
    del final[7], final[25]
    fresh = LexicalIndex(ix.config)
    fresh.add(list(final), [{"title": d} for d in final.values()])
    for q in ["waa wbc", "wbb", "wcc wdd wee"]:
        np.testing.assert_allclose(_all_scores(ix, q, 30), _all_scores(fresh, q, 30), rtol=1e-6)
    assert len(ix) == 28
    assert 7 not in ix.search(["waa wab wac wad wae waf wag wah"], 30).ids


def test_mask_filters_results() -> None:
    ix = _single_field(["red shoe", "red hat", "red sock"])
    mask = np.array([False, True, True])
    ids, _ = ix.search(["red"], 3, mask=mask).row(0)
    assert sorted(ids.tolist()) == [1, 2]


def test_save_and_load_round_trip(tmp_path) -> None:
    docs = _corpus(4)
    ix = _single_field(docs)
    ix.delete([3])
    ix.save(tmp_path / "lex")
    back = LexicalIndex.load(tmp_path / "lex")
    for q in ["waa wbc", "whh"]:
        np.testing.assert_allclose(_all_scores(back, q, 40), _all_scores(ix, q, 40), rtol=1e-6)
    assert len(back) == 39
    assert (tmp_path / "lex" / "manifest.json").is_file()


def test_chinese_documents() -> None:
    ix = LexicalIndex(LexicalConfig(fields={"title": 1.0}, analyzer="multilingual"))
    ix.add([0, 1, 2], [{"title": "这款手机的屏幕很清楚"}, {"title": "酒店房间干净，服务很好"}, {"title": "running shoes"}])
    assert ix.search(["手机"], 3).row(0)[0].tolist() == [0]
    assert ix.search(["酒店"], 3).row(0)[0].tolist() == [1]
    assert ix.search(["shoe"], 3).row(0)[0].tolist() == [2]


def test_unknown_field_and_bad_n_are_validation_errors() -> None:
    ix = LexicalIndex()
    with pytest.raises(ValidationError, match="not indexed"):
        ix.add([0], [{"colour": "red"}])
    with pytest.raises(ValidationError, match="n >= 1"):
        ix.search(["x"], 0)


def test_field_features_match_search_scores() -> None:
    docs = _corpus(5)
    ix = _single_field(docs)
    q = ix.query_terms("waa wbb")
    docs_, scores = ix.score_terms(q)
    f = ix.field_features(q, docs_)
    np.testing.assert_allclose(f["bm25"], scores, rtol=1e-5)
    np.testing.assert_allclose(f["field_bm25"][:, 0], scores, rtol=1e-5)
    assert (f["matched"] >= 1).all()


def test_save_and_load_keeps_field_order_and_weights(tmp_path) -> None:
    # "title" sorts after "description": the manifest's sorted keys must not reorder the columns.
    ix = LexicalIndex(LexicalConfig(fields={"title": 3.0, "description": 1.0}))
    ix.add([0, 1], [{"title": "garden hose", "description": "green"}, {"title": "reel", "description": "for a garden hose"}])
    ix.save(tmp_path / "lex")
    back = LexicalIndex.load(tmp_path / "lex")
    assert back.fields == ["title", "description"]
    a, b = ix.search(["garden hose"], 2), back.search(["garden hose"], 2)
    assert (a.ids == b.ids).all()
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)

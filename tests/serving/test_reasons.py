"""Every reason's evidence is checked against the data: the viewed item, the counts, the shared terms."""

from __future__ import annotations

import time

import numpy as np

from shopsage.data.schema import Event
from shopsage.serving.search import SearchRequest
from shopsage.serving.service import Service
from shopsage.testing.shop import item_ids


def _weight(svc: Service, src: str, dst: str) -> float:
    m = svc.models.get("itemknn")
    assert m is not None
    a, b = m.model_ids([svc.catalog.slot(src)]), m.model_ids([svc.catalog.slot(dst)])
    w = m.model.weights[int(a[0])]  # type: ignore[attr-defined]
    return float(w.toarray().ravel()[int(b[0])] if hasattr(w, "toarray") else w[int(b[0])])


def test_because_you_viewed_names_the_true_item(svc: Service) -> None:
    history = svc.profile("u0")["recent_items"]  # pipette buyer: pip0, pip1, then three more
    out = svc.recommend("for_you", user="u0", n=5)
    checked = 0
    for it in out["items"]:
        for r in it["reasons"]:
            if r["source"].startswith("itemknn:"):
                src = r["evidence"]["item"]
                assert src in history, (it["id"], src)
                assert r["text"] == f"Because you bought {svc.get_item(src)['title']}"
                assert abs(r["evidence"]["similarity"] - _weight(svc, src, it["id"])) < 1e-5
                # the named item is the history item that speaks most for this one (newest first, decayed)
                recent = history[:5]
                decayed = [_weight(svc, h, it["id"]) / (1 + 0.25 * k) for k, h in enumerate(recent)]
                assert recent[int(np.argmax(decayed))] == src
                checked += 1
    assert checked >= 3


def test_trending_evidence_counts_the_stored_and_live_events(svc: Service) -> None:
    inter = svc.store.interactions()
    ids = {rid: ext for ext, rid in svc.store.item_ids().items()}
    true = {}
    for rid in inter.item.tolist():
        true[ids[rid]] = true.get(ids[rid], 0) + 1
    svc.ingest([Event(type="view", item="drl3", session="x", timestamp=time.time())])
    svc._live.at = 0.0  # read live popularity now
    out = svc.recommend("trending", n=40)
    assert out["items"]
    for it in out["items"]:
        ev = it["reasons"][0]["evidence"]
        live = 1 if it["id"] == "drl3" else 0
        assert ev["stored"] == true.get(it["id"], 0) and ev["live"] == live
        assert ev["interactions"] == ev["stored"] + ev["live"]
        assert ev["category"] == it["category_path"][-1]
    by_cat: dict[str, list[int]] = {}  # the category cap reorders across categories, never within one
    for it in out["items"]:
        by_cat.setdefault(it["category_path"][-1], []).append(it["reasons"][0]["evidence"]["interactions"])
    assert all(c == sorted(c, reverse=True) for c in by_cat.values())
    assert [it["id"] for it in out["items"][:1]] == ["pip0"] or out["items"][0]["reasons"][0]["evidence"]["interactions"] == 10


def test_new_user_falls_back_to_trending(svc: Service) -> None:
    out = svc.recommend("for_you", user="never-seen", n=4)
    assert len(out["items"]) == 4
    assert all(it["reasons"][0]["stage"] == "fallback" and it["reasons"][0]["source"] == "trending" for it in out["items"])


def test_item_unknown_to_the_models_falls_back_to_content(svc: Service) -> None:
    from shopsage.data.rows import ItemRow

    svc.upsert_items([ItemRow("pipnew", "Acme pipette model pipnew", None, ("Lab", "Pipettes"), "Acme", 3.0, "EUR")])
    out = svc.recommend("similar_items", item="pipnew", n=5)
    assert out["stages"]["candidates"]["itemknn"] is None  # the model does not know the new item
    src_terms = svc.catalog.terms("Acme pipette model pipnew Acme")
    for it in out["items"]:
        r = it["reasons"][0]
        assert r["source"] == "content:bm25" and r["evidence"]["item"] == "pipnew"
        assert r["evidence"]["shared_terms"]
        for w in r["evidence"]["shared_terms"]:
            assert svc.catalog.terms(w) <= src_terms
            assert svc.catalog.terms(w) <= svc.catalog.terms(it["title"] + " " + (it["brand"] or ""))
    assert out["items"][0]["id"].startswith("pip")


def test_similar_items_evidence_is_the_page_item(svc: Service) -> None:
    out = svc.recommend("also_viewed", item="saw3", n=5)
    assert out["items"] and "saw3" not in [it["id"] for it in out["items"]]
    for it in out["items"]:
        r = it["reasons"][0]
        if r["source"].startswith("itemknn:"):
            assert r["evidence"]["item"] == "saw3"
            assert r["text"].startswith("Shoppers who viewed Toolo saw model saw3")
            assert abs(r["evidence"]["similarity"] - _weight(svc, "saw3", it["id"])) < 1e-5


def test_search_matched_terms_are_in_the_item(svc: Service) -> None:
    out = svc.search(SearchRequest("acme beaker", per_page=20))
    assert out["total"] == 19  # 10 Acme pipettes + 9 visible beakers (bk9 is hidden)
    for it in out["items"]:
        words = it["reasons"][0]["evidence"]["matched_terms"]
        assert words == (["acme"] if it["id"].startswith("pip") else ["beaker"])


def test_search_typo_is_corrected_and_explained(svc: Service) -> None:
    out = svc.search(SearchRequest("drils"))
    assert out["total"] == 10
    ev = out["items"][0]["reasons"][0]["evidence"]
    assert ev["corrected"] == {"drils": "drill"} or ev["corrected"] == {"drils": "drills"}
    assert ev["matched_terms"]


def test_next_in_session_reflects_an_event_at_once(svc: Service) -> None:
    before = svc.recommend("next_in_session", session="fresh", n=5)
    assert all(it["reasons"][0]["stage"] == "fallback" for it in before["items"])
    svc.ingest([Event(type="view", item="bk2", session="fresh", timestamp=time.time())])
    after = svc.recommend("next_in_session", session="fresh", n=5)
    ids = [it["id"] for it in after["items"]]
    assert "bk2" not in ids
    assert all(i in item_ids("bk") for i in ids[:3])
    assert after["items"][0]["reasons"][0]["evidence"]["item"] == "bk2"


def test_model_explanations_name_the_largest_contribution(svc: Service) -> None:
    import pytest

    from shopsage.serving.build import register_recommender, training_data
    from shopsage.serving.models import recommender_class

    cls = recommender_class("ease")
    if cls is None:
        pytest.skip("the ease recommender is not installed")
    vocab, data = training_data(svc.store)
    register_recommender(svc.registry, cls().fit(data), vocab, promote=True)
    svc.models.refresh()
    m = svc.models.get("ease")
    assert m is not None
    history = svc.profile("u2")["recent_items"]
    w = np.asarray(m.model.weights)  # type: ignore[attr-defined]
    checked = 0
    for it in svc.recommend("for_you", user="u2", n=8)["items"]:
        for r in it["reasons"]:
            if r["source"].startswith("ease:") and "item" in r["evidence"]:
                dst = int(m.model_ids([svc.catalog.slot(it["id"])])[0])
                contrib = {h: float(w[int(m.model_ids([svc.catalog.slot(h)])[0]), dst]) for h in history}
                assert r["evidence"]["item"] == max(contrib, key=lambda h: contrib[h])
                assert abs(r["evidence"]["contribution"] - contrib[r["evidence"]["item"]]) < 1e-5
                checked += 1
    assert checked >= 1


def test_personalized_search_names_the_true_interest(svc: Service) -> None:
    plain = svc.search(SearchRequest("model", per_page=40))
    mine = svc.search(SearchRequest("model", per_page=40, user="u3"))  # u3 bought four Toolo drills
    assert not plain["personalized"] and mine["personalized"]
    prof = svc.profile("u3")
    assert prof["top_brands"] == [{"name": "Toolo", "weight": 12.0}]
    brands = [it["brand"] for it in mine["items"]]
    assert brands[:20] == ["Toolo"] * 20 and "Toolo" not in brands[20:]  # every Toolo item lifted
    for it in mine["items"][:20]:
        ev = next(r for r in it["reasons"] if r["stage"] == "personalization")["evidence"]
        assert ev == {"brand": "Toolo", "share": 1.0}  # all of the shopper's brand weight
    assert all(r["stage"] != "personalization" for it in mine["items"][20:] for r in it["reasons"])

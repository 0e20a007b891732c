"""Every reason's evidence is checked against the data: the viewed item, the counts, the shared terms."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from shopsage.data.schema import Event
from shopsage.serving.search import SearchRequest
from shopsage.serving.service import Service
from shopsage.testing.shop import item_ids

ROOT = Path(__file__).resolve().parents[2]


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
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(svc._live.since))
    for it in out["items"]:
        r = it["reasons"][0]
        ev = r["evidence"]
        live = 1 if it["id"] == "drl3" else 0
        assert ev["stored"] == true.get(it["id"], 0) and ev["live"] == live
        assert ev["interactions"] == ev["stored"] + ev["live"]
        assert ev["category"] == it["category_path"][-1]
        assert ev["window"] == "all time" and ev["live_since"] == since  # the memory state counts since the start
        text = f"Popular in {ev['category']}: {ev['interactions']} interactions in all"
        if live:
            text += f", 1 since {since[:10]} {since[11:16]} UTC"
        assert r["text"] == text and "right now" not in r["text"]
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
            # itemknn learned from the users' purchases and the sessions' clicks: no one verb is true
            assert r["evidence"]["event_types"] == _store_types(svc) == {"click": 20, "purchase": 167}
            assert r["text"] == "Shoppers who interacted with Toolo saw model saw3 also chose this"
            assert abs(r["evidence"]["similarity"] - _weight(svc, "saw3", it["id"])) < 1e-5


def _store_types(svc: Service) -> dict[str, int]:
    """The store's interactions with items by event type (what build_missing trains on)."""
    from shopsage.data.stores.base import TYPE_CODES

    names = {c: t for t, c in TYPE_CODES.items()}
    inter = svc.store.interactions()
    out: dict[str, int] = {}
    for code, item in zip(inter.type.tolist(), inter.item.tolist(), strict=True):
        if item >= 0 and names[code] not in ("impression", "search"):
            out[names[code]] = out.get(names[code], 0) + 1
    return out


def test_search_matched_terms_are_in_the_item(svc: Service) -> None:
    out = svc.search(SearchRequest("acme beaker", per_page=20))
    assert out["total"] == 19  # 10 Acme pipettes + 9 visible beakers (bk9 is hidden)
    for it in out["items"]:
        words = it["reasons"][0]["evidence"]["matched_terms"]
        assert words == (["Acme"] if it["id"].startswith("pip") else ["beaker"])  # as the item's title writes it


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


# ---------------------------------------------------------------------- rules, diversity and fallbacks
def _with_config(make_service: Callable[..., Service], tmp_path: Path, replace: dict[str, str]) -> Service:
    text = (ROOT / "config" / "pipelines.toml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"pipelines-{len(list(tmp_path.glob('pipelines-*')))}.toml"
    path.write_text(text)
    return make_service(pipelines=path)


_TRENDING = '[scenarios.trending]\ncandidates = [{ kind = "trending", n = 200 }]'


def test_a_buried_item_stays_below_the_others_under_mmr(make_service: Callable[..., Service], tmp_path: Path) -> None:
    plain = make_service().recommend("trending", n=8)["items"]
    assert plain[0]["id"] == "pip0"  # the most popular item (every pipette buyer bought it)
    svc = _with_config(make_service, tmp_path, {
        "rules = []": '[[rules]]\nname = "less pip0"\naction = "bury"\nitems = ["pip0", "saw1"]\n',
        _TRENDING: _TRENDING + '\ndiversity = { method = "mmr", mmr_lambda = 0.3 }'})
    items = svc.recommend("trending", n=40)["items"]
    ids = [it["id"] for it in items]
    assert ids[-2:] == ["pip0", "saw1"]  # after every unburied item, by score
    assert len({it["category_path"][-1] for it in items[:4]}) == 4  # MMR still diversifies the others
    for it in items:
        rules = [r for r in it["reasons"] if r["stage"] == "rules"]
        if it["id"] in ("pip0", "saw1"):
            assert rules == [{"stage": "rules", "source": "rule:less pip0", "text": "Placed lower by the shop",
                              "evidence": {"rule": "less pip0", "action": "bury", "factor": None}}]
        else:
            assert rules == []


def test_pins_keep_their_position_under_diversity(make_service: Callable[..., Service], tmp_path: Path) -> None:
    svc = _with_config(make_service, tmp_path, {
        "rules = []": ('[[rules]]\nname = "drill day"\naction = "pin"\nitems = ["drl7", "pip5"]\nposition = 1\n'
                       '[[rules]]\nname = "drills up"\naction = "boost"\nitems = ["drl7", "drl1"]\nfactor = 3\n'),
        _TRENDING: _TRENDING + '\ndiversity = { method = "mmr", mmr_lambda = 0.2 }'})
    items = svc.recommend("trending", n=6)["items"]
    assert [it["id"] for it in items][1:3] == ["drl7", "pip5"]
    for at, it in enumerate(items):
        rules = [r for r in it["reasons"] if r["stage"] == "rules"]
        if it["id"] in ("drl7", "pip5"):  # the pin overrides the boost: only the pin moved it
            assert [(r["text"], r["evidence"]) for r in rules] == [
                (f"Pinned at #{at + 1} by the shop", {"rule": "drill day", "action": "pin", "factor": None, "position": at})]
        elif it["id"] == "drl1":
            assert [r["text"] for r in rules] == ["Promoted by the shop (score x3)"]
        else:
            assert rules == []


def test_rules_apply_to_fallback_items(make_service: Callable[..., Service], tmp_path: Path) -> None:
    svc = _with_config(make_service, tmp_path, {
        "rules = []": ('[[rules]]\nname = "no pipettes"\naction = "bury"\ncategories = ["pipettes"]\n'
                       '[[rules]]\nname = "saw of the day"\naction = "pin"\nitems = ["saw8"]\nposition = 2\n')})
    items = svc.recommend("for_you", user="never-seen", n=10)["items"]
    ids = [it["id"] for it in items]
    assert len(ids) == 10 and ids[2] == "saw8"
    assert not any(i.startswith("pip") for i in ids)  # trending's pipettes are buried below 30 other items
    assert all(it["reasons"][0]["stage"] == "fallback" for it in items)
    assert [r["text"] for r in items[2]["reasons"]] == [items[2]["reasons"][0]["text"], "Pinned at #3 by the shop"]
    deep = svc.recommend("for_you", user="never-seen", n=40)["items"]  # every visible item but bk9, pip9
    assert [it["id"][:3] for it in deep][-9:] == ["pip"] * 9
    assert all(it["reasons"][-1]["source"] == "rule:no pipettes" for it in deep[-9:])
    assert all(r["source"] != "rule:no pipettes" for it in deep[:-9] for r in it["reasons"])


def test_fallback_items_come_after_every_candidate(svc: Service) -> None:
    items = svc.recommend("also_viewed", item="bk2", n=12)["items"]  # item-kNN knows 8 neighbours of bk2
    stages = [it["reasons"][0]["stage"] for it in items]
    k = stages.index("fallback")
    assert k >= 1 and set(stages[k:]) == {"fallback"} and set(stages[:k]) == {"candidates"}
    scores = [it["score"] for it in items]
    assert max(scores[k:]) < min(scores[:k])


# ---------------------------------------------------------------------- wordings and their evidence
def test_picked_for_you_counts_distinct_items(svc: Service) -> None:
    from shopsage.serving.build import build_missing

    if "sknn" not in build_missing(svc.store, svc.registry, names=("sknn",)):
        pytest.skip("the sknn recommender is not installed")
    svc.models.refresh()
    t = time.time()
    svc.ingest([Event(type="view", item=i, session="rep", timestamp=t + k) for k, i in enumerate(["saw2", "saw3"] * 2)])
    texts = {r["text"] for it in svc.recommend("next_in_session", session="rep", n=5)["items"] for r in it["reasons"]
             if r["source"].startswith("sknn:")}
    assert texts == {"Picked for you from 2 items you interacted with in this session"}


def test_because_you_names_the_strongest_interaction(svc: Service) -> None:
    t = time.time()
    svc.ingest([Event(type="view", item="bk4", session="mix", timestamp=t), Event(type="purchase", item="bk4", session="mix", timestamp=t + 1),
                Event(type="view", item="bk4", session="mix", timestamp=t + 2), Event(type="click", item="drl2", session="mix", timestamp=t + 3),
                Event(type="add_to_cart", item="pip3", session="mix", timestamp=t + 4)])
    want = {"bk4": ("purchase", "bought"), "drl2": ("click", "clicked on"), "pip3": ("add_to_cart", "added")}
    seen = set()
    for it in svc.recommend("next_in_session", session="mix", n=30)["items"]:
        for r in it["reasons"]:
            if r["source"].startswith("itemknn:"):
                src = r["evidence"]["item"]
                typ, verb = want[src]
                assert r["evidence"]["interaction"] == typ
                title = svc.get_item(src)["title"]
                assert r["text"] == (f"Because you added {title} to your cart" if typ == "add_to_cart" else f"Because you {verb} {title}")
                seen.add(src)
    assert seen == set(want)


def test_explanations_use_the_shoppers_own_interaction(svc: Service) -> None:
    from shopsage.serving.build import build_missing

    if "ease" not in build_missing(svc.store, svc.registry, names=("ease",)):
        pytest.skip("the ease recommender is not installed")
    svc.models.refresh()
    svc.ingest([Event(type="view", item="bk3", user="u2", timestamp=time.time())])  # u2 bought saws; viewed bk3
    named: dict[str, str] = {}
    for it in svc.recommend("for_you", user="u2", n=40)["items"]:
        for r in it["reasons"]:
            if r["source"].startswith("ease:") and "item" in r["evidence"]:
                src, typ = r["evidence"]["item"], r["evidence"]["interaction"]
                named[src] = typ
                verb = {"purchase": "bought", "view": "viewed"}[typ]
                assert r["text"] == f"Because you {verb} {svc.get_item(src)['title']}"
    assert named.get("bk3") == "view" and "purchase" in named.values()


def _one_type_shop(tmp_path: Path, typ: str) -> Service:
    """The synthetic catalogue with the users' pipette and beaker histories, all of one event type."""
    from shopsage.data.rows import EventRow, RowKey
    from shopsage.data.stores import open_store
    from shopsage.serving.service import ServiceOptions
    from shopsage.testing.shop import make_shop

    src = make_shop(f"sqlite:///{tmp_path / 'src.db'}")
    store = open_store(f"sqlite:///{tmp_path / 'one.db'}")
    store.write_items([r for _, r in src.items()])
    store.write_events([EventRow(RowKey("t", u, k), typ, f"{p}{(u + k) % 6}", f"u{u}", None, None, None, None, k)
                        for u in range(12) for k in range(3) for p in (("pip", "bk")[u % 2],)])
    src.close()
    store.close()
    return Service(ServiceOptions(store_url=f"sqlite:///{tmp_path / 'one.db'}", home=tmp_path / "home",
                                  reload_interval_s=0)).start()


@pytest.mark.parametrize(("typ", "text"), [("purchase", "Shoppers who bought {t} also bought this"),
                                           ("view", "Shoppers who viewed {t} also viewed this")])
def test_also_viewed_names_the_event_type_the_model_learned_from(tmp_path: Path, typ: str, text: str) -> None:
    svc = _one_type_shop(tmp_path, typ)
    try:
        m = svc.models.get("itemknn")
        assert m is not None and m.event_types == {typ: 36}
        items = svc.recommend("also_viewed", item="pip2", n=5)["items"]
        knn = [r for it in items for r in it["reasons"] if r["source"].startswith("itemknn:")]
        assert len(knn) >= 3  # pip2's neighbours: the items bought with it
        for r in knn:
            assert r["text"] == text.format(t=svc.get_item("pip2")["title"])
            assert r["evidence"]["event_types"] == {typ: 36} and r["evidence"]["item"] == "pip2"
    finally:
        svc.close()


def test_a_model_that_does_not_say_what_it_learned_from_names_no_event_type(svc: Service) -> None:
    from dataclasses import replace

    m = svc.models.get("itemknn")
    assert m is not None
    svc.models.models = {**svc.models.models, "itemknn": replace(m, event_types=None)}  # a version from before manifests said
    r = svc.recommend("frequently_bought_together", item="saw3", n=3)["items"][0]["reasons"][0]
    assert r["text"] == "Shoppers who interacted with Toolo saw model saw3 also chose this"
    assert r["evidence"]["event_types"] is None


def test_strongest_interaction_ties_go_to_the_latest() -> None:
    from shopsage.serving.generators import strongest_types

    hist = [(1, "purchase"), (2, "view"), (1, "view"), (2, "click"), (3, "rating"), (3, "add_to_cart")]
    assert strongest_types(hist) == {1: "purchase", 2: "click", 3: "add_to_cart"}


def test_live_counts_of_a_shared_state_name_no_start_time(svc: Service) -> None:
    from shopsage.serving.generators import Popularity

    cap = svc.catalog.capacity
    stored, live = np.zeros(cap, np.float32), np.zeros(cap, np.float32)
    s = svc.catalog.slot("drl3")
    assert s is not None
    stored[s], live[s] = 4, 2
    r = svc.gens._popular(s, Popularity(stored + live, stored, live, None))  # a Redis state: since its first event
    assert r.text == "Popular in Drills: 6 interactions in all, 2 of them live"
    assert r.evidence == {"category": "Drills", "interactions": 6, "stored": 4, "live": 2, "window": "all time",
                          "live_since": None}

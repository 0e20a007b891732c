"""Over HTTP: answers carry their ids, events send them back under UBI, Algolia or Recombee names."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from shopsage.api import Keys, create_app
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop


def test_events_name_the_answer_that_showed_the_item(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0))
    with TestClient(create_app(svc, Keys())) as client:
        rec = client.get("/v1/recommendations/similar_items", params={"item": "pip1", "session": "v1"}).json()
        found = client.get("/v1/search", params={"q": "saw", "session": "v1"}).json()
        first, hit = rec["items"][0], found["items"][1]
        events = [{"type": "add_to_cart", "item": first["id"], "session": "v1",
                   "context": {"recommId": rec["recomm_id"], "position": first["position"]}},
                  {"type": "click", "item": hit["id"], "session": "v1",
                   "context": {"queryID": found["query_id"], "position": hit["position"]}},
                  {"type": "purchase", "item": hit["id"], "session": "v1", "value": 12.5,
                   "context": {"query_id": found["query_id"]}}]
        r = client.post("/v1/events", json={"events": events})
        assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
        bad = client.post("/v1/events", json={"type": "click", "item": "pip1", "session": "v1",
                                               "context": {"recommID": rec["recomm_id"]}})
        assert bad.status_code == 422  # not a known spelling: refused, as every unknown field
        got = [(a.type, a.exposure_id, a.position, a.kind, a.explicit) for a in svc.store.read_attributed()]
    assert got == [("add_to_cart", rec["recomm_id"], 1, "recommendation", True),
                   ("click", found["query_id"], 2, "search", True),
                   ("purchase", found["query_id"], 2, "search", True)]

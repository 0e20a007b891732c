"""The trend model serving ``trending``, and rules on the stock forecast and margins, through the Service."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from shopsage.data.schema import Event
from shopsage.forecast.live import trend_reason
from shopsage.policy import Rule
from shopsage.serving.config import load_pipelines
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop


@pytest.fixture()
def svc(tmp_path: Path) -> Iterator[Service]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    s = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0)).start()
    yield s
    s.close()


def _hourly_views(svc: Service, hours: int = 72) -> None:
    """Three days of views: saw1 every hour, drl2 only in the last 5 hours (a riser)."""
    now = time.time()
    evs = []
    for h in range(hours, 0, -1):
        at = now - h * 3600
        evs.append(Event(type="view", item="saw1", session=f"a{h}", timestamp=at))
        if h <= 5:
            evs += [Event(type="view", item="drl2", session=f"b{h}{k}", timestamp=at + k) for k in range(4)]
    svc.ingest(evs)


def test_trending_ranks_by_the_trend_model_with_recomputable_reasons(svc: Service) -> None:
    assert svc.recommend("trending", n=5)["items"][0]["reasons"][0]["source"] == "trending"  # no timed history: counts
    _hourly_views(svc)
    svc.gens.trend._cached = None  # type: ignore[union-attr]  # the test's events arrived within this window
    out = svc.recommend("trending", n=5)
    first = out["items"][0]
    r = first["reasons"][0]
    assert first["id"] == "drl2" and r["source"] == "trending:forecast"
    ev = r["evidence"]
    inter = svc.store.interactions()
    names = {rid: ext for ext, rid in svc.store.item_ids().items()}
    start = (int(time.time()) // 3600) * 3600
    ts = inter.ts
    mine = np.array([names[int(i)] == "drl2" for i in inter.item]) & ~np.isnan(ts)
    last = int((mine & (ts >= start - 6 * 3600) & (ts < start)).sum())
    before = int((mine & (ts >= start - 12 * 3600) & (ts < start - 6 * 3600)).sum())
    assert (ev["last"], ev["before"]) == (last, before) and last >= 16
    assert r["text"] == trend_reason(last, before, "6 hours", ev["last_24h"]) and ev["span"] == "6 hours"


def test_counts_remain_a_generator_option(tmp_path: Path, svc: Service) -> None:
    _hourly_views(svc)
    cfg = load_pipelines(None)
    for g in cfg.scenarios["trending"].candidates:
        g.trend = "counts"
    svc.pipelines = cfg
    out = svc.recommend("trending", n=3)
    assert all(it["reasons"][0]["source"] == "trending" for it in out["items"])


def _stocked(svc: Service) -> None:
    """saw1 (12 in stock, 3 bought a day, restock in 10 days) and saw2 (plenty) with costs."""
    for ext, stock, cost in (("saw1", 12, 90.0), ("saw2", 500, 20.0)):
        row = svc.catalog.row(svc.catalog.slot(ext))  # type: ignore[arg-type]
        assert row is not None
        svc.upsert_items([row._replace(stock=stock, price=100.0, attributes={"cost": cost, "restock_days": 10})])
    now = time.time()
    svc.ingest([Event(type="purchase", item=i, session=f"p{d}{k}{i}", timestamp=now - d * 86_400 - k)
                for d in range(1, 29) for k in range(3) for i in ("saw1", "saw2")])


def test_stockout_risk_buries_with_the_forecast_as_evidence(svc: Service) -> None:
    _stocked(svc)
    fact = svc.catalog.stock_fact(svc.catalog.slot("saw1"))  # type: ignore[arg-type]
    assert fact is not None and fact.sells_out_in_days == 4 and fact.runs_out_before_restock  # 12 / 3 a day
    assert fact.margin == pytest.approx(0.1)
    other = svc.catalog.stock_fact(svc.catalog.slot("saw2"))  # type: ignore[arg-type]
    assert other is not None and not other.runs_out_before_restock and other.margin == pytest.approx(0.8)
    cfg = load_pipelines(None)
    cfg.rules = [Rule(name="low stock", action="bury", stockout_risk=True),
                 Rule(name="margin", action="boost", min_margin=0.5, factor=1.5)]
    svc.pipelines = cfg
    items = svc.recommend("trending", n=10)["items"]
    ids = [it["id"] for it in items]
    assert ids == ["saw2", "saw1"]  # saw1 led before the rules (more recent purchases)
    buried = [r for r in items[-1]["reasons"] if r["stage"] == "rules"][0]
    assert buried["evidence"]["forecast"]["sells_out_in_days"] == 4 and buried["evidence"]["forecast"]["stock"] == 12
    assert buried["text"] == ("Placed lower by the shop: forecast to sell out in 4 days (12 in stock, 3 a day), "
                              "before its restock in 10 days")
    boosted = [r for it in items if it["id"] == "saw2" for r in it["reasons"] if r["stage"] == "rules"]
    assert boosted and boosted[0]["text"] == "Promoted by the shop (score x1.5): margin 80%"

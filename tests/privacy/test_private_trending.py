"""``privacy.dp_trending``: trending ranks by a recorded private release, shows only noisy counts,
reuses the release between refreshes (no new spending) and keeps it when the budget runs out."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopsage.config import PrivacyConfig
from shopsage.errors import PrivacyBudgetError
from shopsage.privacy.dp import clamped_counts
from shopsage.privacy.trending import PrivateTrending
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop
from shopsage.training.data import owner_groups, store_interactions


def _config(**budget: float) -> PrivacyConfig:
    return PrivacyConfig.model_validate({"dp_trending": True, "trending_release_s": 3600,
                                         "budget": {"epsilon_per_release": 10.0, "epsilon_per_period": 20.0,
                                                    "max_contributions": 5, **budget}})


def test_trending_serves_a_recorded_private_release(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    home = tmp_path / "home"
    svc = Service(ServiceOptions(store_url=url, home=home, reload_interval_s=0, build_on_start=False)).start()
    try:
        private = PrivateTrending(lambda: svc.store, home, _config())
        private._busy.acquire()  # no background refresh in this test: it releases explicitly below
        assert private.current() is None  # nothing released yet: trending would show nothing
        rel = private.release()
        svc.gens.private = private
        out = svc.recommend("trending", n=5)
        items = out["items"]
        assert items, out
        # pip0 and pip1 are bought by all 10 pipette users (within their 5 latest items), saws by about 7
        # shoppers each: with noise of scale 5 / 10 the pipettes stay on top
        assert {items[0]["id"], items[1]["id"]} == {"pip0", "pip1"}
        inter = store_interactions(svc.store)
        exact = clamped_counts(owner_groups(inter), inter.item, 5)
        ext_of = {rid: ext for ext, rid in svc.store.item_ids().items()}
        # discrete Laplace of scale 0.5: P(noise = k) is proportional to exp(-2|k|), so P(|noise| >= 7) is
        # about 1e-6 per item (an earlier bound of 3, P about 3e-3 per item, failed once in a full run). An
        # item whose noisy count fell to 0 or below is not released: its error is then at most |noise| too.
        for rid, count in enumerate(exact.tolist()):
            if rid not in ext_of:
                continue
            assert abs(rel.counts.get(ext_of[rid], 0) - count) <= 6, (ext_of[rid], count)
        reason = items[0]["reasons"][0]
        assert reason["text"].startswith("Popular in") and "about" in reason["text"]
        assert reason["evidence"]["differentially_private"] is True and reason["evidence"]["epsilon"] == 10.0
        assert "interactions" not in reason["evidence"]  # no exact count is shown
        assert [r.what for r in private.ledger.releases()] == ["trending counts"]
        # a worker started later reads the release from the home instead of spending again
        again = PrivateTrending(lambda: svc.store, home, _config())
        again._busy.acquire()
        assert again.current() is not None and again.current().counts == rel.counts  # type: ignore[union-attr]
        assert len(private.ledger.releases()) == 1
        # the budget allows one more release, then refuses and the last release stays served
        private.release()
        with pytest.raises(PrivacyBudgetError):
            private.release()
        assert svc.recommend("trending", n=5)["items"]
    finally:
        svc.close()

"""Real-data sanity (slow, not in ``make test``): Beauty leave-one-out, full ranking, seen filtered.

Reference on this machine (docs/benchmarks.md): popularity NDCG@10 about 0.006, item-kNN about
0.04; the bounds below are loose so that only a broken model fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsage.data.importers import get_importer, run_import
from shopsage.data.splits import SplitData, leave_one_out
from shopsage.data.stores import open_store
from shopsage.recommend import create
from shopsage.recommend.base import TrainData

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def beauty(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SplitData:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('beauty') / 'shop.db'}")
    run_import(store, get_importer("amazon-seq", str(data_dir / "amazon-beauty")))
    split = leave_one_out(store)
    store.close()
    return split


def ndcg_at_10(model, split: SplitData) -> float:  # type: ignore[no-untyped-def]
    ids = model.recommend(split.test.history, 10).ids
    match = ids == split.test.target[:, None]
    return float(np.where(match.any(1), 1 / np.log2(np.argmax(match, 1) + 2), 0).mean())


@pytest.mark.parametrize(("name", "config", "low", "high"), [
    ("pop", {}, 0.004, 0.009),
    ("itemknn", {"neighbors": 200, "shrink": 10.0}, 0.033, 0.06),
    ("fbt", {"measure": "confidence", "min_support": 1}, 0.015, 0.06),
])
def test_beauty_ndcg_is_in_the_expected_range(beauty: SplitData, name: str, config: dict, low: float,
                                              high: float) -> None:
    model = create(name, **config).fit(TrainData.from_split(beauty, with_valid_targets=True))
    assert low <= ndcg_at_10(model, beauty) <= high

"""Training for serving: versions scored on the store's held-out tail, blends as models, the
promotion gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsage.data.stores import open_store
from shopsage.errors import NotBetterError, ValidationError
from shopsage.evaluate.protocols import EvalOptions, evaluate, make_split
from shopsage.recommend import model_class
from shopsage.registry import ModelRegistry
from shopsage.serving.models import load_version
from shopsage.testing.shop import make_shop
from shopsage.training import MODEL_DIR, prepare, train_blend, train_recommender
from shopsage.vocab import Vocabulary


@pytest.fixture()
def shop(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = make_shop(f"sqlite:///{tmp_path / 'shop.db'}")
    yield store
    store.close()


def test_the_version_is_scored_on_a_tail_it_never_saw(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg = ModelRegistry(tmp_path / "models")
    v = train_recommender(shop, reg, "itemknn", params={"neighbors": 5})
    m = v.manifest
    assert m["protocol"] == "leave-one-out" and m["holdout"] is True
    split = make_split(shop, "leave-one-out")
    assert m["data"]["n_test_cases"] == len(split.test) > 0
    # the registered model, loaded back, gives exactly the recorded figures on the split's test cases
    model = model_class("itemknn").load(v.path / MODEL_DIR)
    again = evaluate(model, split.test, split.n_items, EvalOptions(ks=(10, 20), metrics=("hr", "ndcg", "mrr"),
                                                                   beyond=False, auc=False))
    assert m["metrics"] == pytest.approx({k: round(x, 6) for k, x in again.items()}, abs=1e-6)
    # it trained on train + validation targets only: no test target position is in its data
    ts = prepare(shop)
    lengths = ts.data.sequences.lengths
    full = prepare(shop, holdout=False).data.sequences.lengths
    sessions = 10  # the shop's anonymous sessions (2 clicks each): leave-one-out reads users only
    assert lengths.sum() == full.sum() - 2 * sessions - len(split.test)
    assert m["event_types"] == {"purchase": int(full.sum()) - 2 * sessions}
    assert not reg.current("itemknn")  # registered, not live


def test_no_holdout_trains_on_everything_and_records_no_figures(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    v = train_recommender(shop, ModelRegistry(tmp_path / "m"), "pop", holdout=False)
    assert v.manifest["metrics"] == {} and v.manifest["holdout"] is False


def test_promote_if_better_refuses_a_worse_version(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg = ModelRegistry(tmp_path / "models")
    good = train_recommender(shop, reg, "itemknn", params={"neighbors": 20})
    bad = train_recommender(shop, reg, "itemknn", params={"neighbors": 1})
    assert good.manifest["metrics"]["ndcg@10"] > bad.manifest["metrics"]["ndcg@10"]
    reg.promote_if_better("itemknn", good.version, "ndcg@10")  # nothing live yet: promoted
    with pytest.raises(NotBetterError, match="not better"):
        reg.promote_if_better("itemknn", bad.version, "ndcg@10")
    assert reg.current("itemknn").version == good.version  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="no held-out"):
        reg.promote_if_better("itemknn", good.version, "auc")


def test_versions_scored_on_other_tails_are_not_compared(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg = ModelRegistry(tmp_path / "models")
    a = train_recommender(shop, reg, "itemknn")
    reg.promote("itemknn", a.version)
    shop.write_events([])  # no change: same tail
    other = tmp_path / "other.db"
    store2 = make_shop(f"sqlite:///{other}")
    from shopsage.data.rows import EventRow, RowKey

    store2.write_events([EventRow(RowKey("extra", 1, 0), "purchase", "bk3", "u0", None, None, None, None, 99)])
    b = train_recommender(store2, reg, "itemknn")
    store2.close()
    assert a.manifest["test_fingerprint"] != b.manifest["test_fingerprint"]
    with pytest.raises(ValidationError, match="different held-out tails"):
        reg.promote_if_better("itemknn", b.version, "ndcg@10")


def test_a_blend_is_a_registry_model_the_service_loads(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg = ModelRegistry(tmp_path / "models")
    v = train_blend(shop, reg, "blend-user", parts=["pop", "itemknn", "recent"], step=0.25)
    m = v.manifest
    assert m["kind"] == "recommender/hybrid" and m["blend"]["parts"] == ["pop", "itemknn", "recent"]
    assert len(m["blend"]["alphas"]) == 2 and m["blend"]["normalization"] in ("minmax", "zscore")
    assert set(m["parts_alone"]) == {"pop", "itemknn", "recent"}
    items = Vocabulary.load(str(v.path / "items.txt"))
    slot = {e: i for i, e in enumerate(items.ids)}
    loaded = load_version("blend-user", v.path, v.version, slot.get, len(items))
    hist = np.array([slot["saw1"], slot["saw2"]], dtype=np.int32)
    ids, scores = loaded.model.recommend([hist], 5).row(0)
    assert len(ids) == 5 and np.all(np.diff(scores) <= 0)
    # the loaded blend gives the recorded held-out figures
    split = make_split(shop, "leave-one-out")
    again = evaluate(loaded.model, split.test, split.n_items, EvalOptions(ks=(10, 20), metrics=("hr", "ndcg", "mrr"),
                                                                          beyond=False, auc=False))
    assert m["metrics"]["ndcg@10"] == pytest.approx(again["ndcg@10"], abs=1e-6)


def test_a_blend_needs_parts(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from shopsage.errors import ConfigError

    with pytest.raises(ConfigError, match="needs its parts"):
        train_blend(shop, ModelRegistry(tmp_path / "m"), "blend-mine")


def test_anonymous_sessions_without_a_test_split_are_refused(tmp_path: Path) -> None:
    from shopsage.data.rows import EventRow, ItemRow, RowKey

    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.write_items([ItemRow(f"i{i}", f"item {i}", None, (), None, 1.0, "EUR", None, True, 1) for i in range(5)])
    store.write_events([EventRow(RowKey("s", s, p), "click", f"i{(s + p) % 5}", None, f"s{s}", None, None, None, p)
                        for s in range(6) for p in range(3)])
    with pytest.raises(ValidationError, match="--no-holdout"):
        prepare(store)
    assert len(prepare(store, holdout=False).data.sequences) == 6
    store.close()


def test_the_weight_search_scores_exactly_the_blend_it_registers(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from shopsage.recommend import create
    from shopsage.recommend.hybrid import normalize_scores
    from shopsage.training.blends import _nest, _nested

    data = prepare(shop).data
    parts = [create("pop").fit(data), create("itemknn").fit(data), create("recent").fit(data)]
    hist = data.sequences
    for how in ("minmax", "zscore"):
        blend = _nest(parts, [0.3, 0.8], how)
        normed = [normalize_scores(p.score(hist), how) for p in parts]
        np.testing.assert_allclose(blend.score(hist), _nested(normed, [0.3, 0.8], how), rtol=1e-5, atol=1e-6)


def test_refinement_never_lowers_the_validation_figure(shop) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from shopsage.recommend import create
    from shopsage.recommend.sequential.base import holdout_valid
    from shopsage.training.blends import choose_weights

    held = holdout_valid(replace(prepare(shop).data, valid=None), 50, 0)
    parts = [create("pop").fit(held), create("itemknn").fit(held), create("recent").fit(held)]
    kw = dict(metric="ndcg@10", filter_seen=True, step=0.25, norms=("minmax",))
    plain = choose_weights(parts, held.valid, held.n_items, refine=0, **kw)  # type: ignore[arg-type]
    refined = choose_weights(parts, held.valid, held.n_items, refine=2, **kw)  # type: ignore[arg-type]
    assert refined.value >= plain.value

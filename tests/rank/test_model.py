"""The stage ranker learns what decides relevance, saves as plain files, and its reasons are its true contributions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsage.rank import (
    ClickModelConfig,
    PositionBasedClicks,
    StageFeatures,
    StageRanker,
    stage_ranker_config,
)
from shopsage.serving.ranker_training import StageData, StageTrainConfig, fit_stage_ranker, simulated_groups

GENS = ["model:a", "model:b"]


def _synthetic(n_users: int = 400, m: int = 30, seed: int = 0) -> StageData:
    """Lists in a fused order that knows nothing; the relevant item is the one with the largest
    'score/model/b' (generator b is right, a is noise), placed anywhere in the list."""
    rng = np.random.default_rng(seed)
    names = StageFeatures(GENS).names
    data = StageData(names)
    for _ in range(n_users):
        x = rng.normal(size=(m, len(names))).astype(np.float32)
        x[:, names.index("fused_rank")] = np.arange(1, m + 1)
        t = int(np.argmax(x[:, names.index("score/model/b")]))
        data.add(x, t)
    return data


@pytest.fixture(scope="module")
def trained() -> tuple[StageRanker, dict[str, float]]:
    cfg = StageTrainConfig(holdout=0.25, clicks=ClickModelConfig(shown=30, impressions=5, epsilon=0.01),
                           ranker={"min_data_in_leaf": 20, "epochs": 150})
    ranker, metrics, held = fit_stage_ranker(_synthetic(), GENS, cfg, lambda _m: None)
    assert held is not None and held == fit_stage_ranker(_synthetic(), GENS, cfg, lambda _m: None)[2]
    return ranker, metrics


def test_one_feature_decides_relevance_and_the_ranker_learns_it(trained: tuple[StageRanker, dict[str, float]]) -> None:
    ranker, metrics = trained
    assert metrics["rank_fusion_ndcg@10"] < 0.4  # the fused order is random here
    assert metrics["ndcg@10"] > 0.8
    assert next(iter(ranker.importance())) == "score/model/b"


def test_each_click_is_a_group_weighted_by_its_inverse_examination() -> None:
    """One group per clicked item: the clicked row labelled 1, every row weighted clicks x 1/exam(k) = clicks x k."""
    data = _synthetic(200)
    pbm = PositionBasedClicks(ClickModelConfig(shown=30, impressions=5, epsilon=0.0, max_weight=30))
    x, y, groups, w = simulated_groups(data, np.arange(200), pbm)
    assert groups.sum() == len(x) == len(y) == len(w)
    starts = np.r_[0, np.cumsum(groups)[:-1]]
    for s, g in zip(starts.tolist(), groups.tolist(), strict=True):
        assert y[s:s + g].sum() == 1
        k = x[s + int(np.argmax(y[s:s + g])), data.names.index("fused_rank")]  # the clicked position
        assert np.all(w[s:s + g] == w[s]) and w[s] % k == 0 and 1 <= w[s] / k <= 5


def test_saved_as_plain_files_and_loaded_identically(trained: tuple[StageRanker, dict[str, float]], tmp_path: Path) -> None:
    ranker, _ = trained
    ranker.save(tmp_path / "r")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["manifest.json", "model.txt"]
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["kind"] == "stage-ranker" and manifest["feature_names"] == ranker.feature_names
    back = StageRanker.load(tmp_path / "r")
    x = _synthetic(5, seed=9).features[0]
    assert np.array_equal(back.predict(x), ranker.predict(x))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), top=st.integers(1, 5))
def test_reasons_are_the_true_largest_contributions(trained: tuple[StageRanker, dict[str, float]], seed: int, top: int) -> None:
    """The explained features are the row's largest positive pred_contrib values, and all contributions sum to the score."""
    ranker, _ = trained
    x = _synthetic(1, m=8, seed=seed).features[0]
    contrib = ranker.contributions(x)
    assert contrib.sum(axis=1) == pytest.approx(ranker.predict(x).astype(np.float64), abs=1e-4)
    for row, why in zip(contrib[:, :-1], ranker.explain(x, top), strict=True):
        expected = sorted(((ranker.feature_names[j], row[j]) for j in range(len(row)) if row[j] > 0), key=lambda t: -t[1])
        assert [n for n, _ in why] == [n for n, _ in expected[:top]]
        assert [c for _, c in why] == pytest.approx([c for _, c in expected[:top]])


def test_stage_config_uses_binary_gains() -> None:
    cfg = stage_ranker_config(epochs=5)
    assert (cfg.max_grade, cfg.levels_per_unit, cfg.epochs) == (1.0, 1, 5)


def _walk(node: dict, row: np.ndarray, path: np.ndarray) -> float:
    """Follow ``row`` down a dumped tree by its thresholds, crediting each split's feature with the node
    value change (an independent reading of the dump, not the ranker's leaf tables)."""
    while "split_feature" in node:
        f, v = node["split_feature"], float(row[node["split_feature"]])
        if np.isnan(v) and node["missing_type"] != "NaN":
            v = 0.0
        missing = np.isnan(v) or (node["missing_type"] == "Zero" and v == 0.0)
        left = node["default_left"] if missing else v <= node["threshold"]
        child = node["left_child"] if left else node["right_child"]
        path[f] += (child.get("internal_value", child.get("leaf_value")) - node["internal_value"])
        node = child
    return float(node["leaf_value"])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), holes=st.floats(0, 0.5))
def test_path_contributions_follow_each_tree_and_sum_to_the_score(trained: tuple[StageRanker, dict[str, float]],
                                                                   seed: int, holes: float) -> None:
    ranker, _ = trained
    x = _synthetic(1, m=6, seed=seed).features[0]
    x[np.random.default_rng(seed).random(x.shape) < holes] = np.nan  # missing features take the default branch
    got = ranker.contributions(x)
    trees = ranker._booster.dump_model()["tree_info"]  # type: ignore[union-attr]
    for row, c in zip(x, got, strict=True):
        path = np.zeros(len(ranker.feature_names))
        score = sum(_walk(t["tree_structure"], row, path) for t in trees)
        bias = sum(t["tree_structure"].get("internal_value", t["tree_structure"].get("leaf_value")) for t in trees)
        assert c[:-1] == pytest.approx(path, abs=1e-6) and c[-1] == pytest.approx(bias, abs=1e-6)
        assert c.sum() == pytest.approx(score, abs=1e-5)
    assert got.sum(axis=1) == pytest.approx(ranker.predict(x).astype(np.float64), abs=1e-4)

"""The search ranker from simulated clicks: unbiased click labels, and close to the judgment-trained ranker."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest

from shopsage.rank.clicks import ClickModelConfig, PositionBasedClicks
from shopsage.rank.search_clicks import ClickStudyConfig, click_judgments, run_click_study
from shopsage.search.bench_data import read_catalog
from shopsage.search.engine import SearchConfig, SearchEngine
from shopsage.search.front import SearchRequest

WORDS = ["drill", "saw", "hammer", "paint", "brush", "ladder", "pipe", "valve", "lamp", "bulb", "tile", "grout",
         "screw", "nail", "glue", "tape", "hose", "rake", "shovel", "fence", "door", "lock", "hinge", "shelf"]


def _data(folder: Path, n_items: int = 400, n_queries: int = 120, seed: int = 0) -> tuple[Path, Path]:
    """A Home Depot-format catalogue and judgments: relevance 3 when the title holds both query words, 2 for
    one, 1 for none (judged items: every item holding a query word, plus a few others)."""
    rng = random.Random(seed)
    folder.mkdir()
    titles = {str(1000 + i): " ".join(rng.sample(WORDS, 3)) + f" model {i}" for i in range(n_items)}
    cat = folder / "catalog.csv"
    with open(cat, "w", encoding="ISO-8859-1", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["product_uid", "product_title"])
        w.writerows(titles.items())
    judged = folder / "train.csv"
    with open(judged, "w", encoding="ISO-8859-1", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "product_uid", "product_title", "search_term", "relevance"])
        for qi in range(n_queries):
            a, b = rng.sample(WORDS, 2)
            q = f"{a} {b} {qi}"  # distinct query texts
            for uid, t in titles.items():
                words = set(t.split())
                hits = (a in words) + (b in words)
                if hits or rng.random() < 0.02:
                    w.writerow([len(titles), uid, t, q, 1.0 + hits])
    return cat, judged


def test_weighted_click_labels_estimate_the_attraction_at_every_position(tmp_path: Path) -> None:
    """Over many impressions the inverse-propensity click rate of each shown item tends to attract(gain),
    whatever its position (the plain click rate falls with the position)."""
    cat, _ = _data(tmp_path / "d")
    engine = SearchEngine(SearchConfig(min_similarity=None))
    engine.index(read_catalog(cat))
    engine.compact()
    cfg = ClickModelConfig(max_relevance=2.0, shown=10, impressions=20_000, epsilon=0.05, max_weight=10, seed=1)
    q = "drill saw"
    shown = [h.slot for h in engine.query(SearchRequest(q, per_page=10, mode="lexical")).hits]
    gains = {(q, s): float(i % 3) for i, s in enumerate(shown)}
    pbm = PositionBasedClicks(cfg)
    labels = {ext: g for _, ext, g in click_judgments(engine, [q], gains, pbm)}
    truth = pbm.attraction(np.array([gains[(q, s)] for s in shown])) * cfg.max_relevance
    got = np.array([labels[engine.ext(s)] for s in shown])
    assert np.abs(got - truth).max() < 0.15
    plain = {ext: g for _, ext, g in click_judgments(engine, [q], gains, PositionBasedClicks(cfg), weighted=False)}
    assert plain[engine.ext(shown[9])] < 0.3 * truth[9] + 0.05  # unweighted: position 10 is seen a tenth of the time


@pytest.mark.timeout(120)
def test_the_click_trained_ranker_comes_close_to_the_judgment_trained_one(tmp_path: Path) -> None:
    cat, judged = _data(tmp_path / "d")
    out = run_click_study(ClickStudyConfig(catalog=str(cat), judgments=str(judged),
                                           clicks=ClickModelConfig(max_relevance=2.0, shown=20, impressions=20)))
    assert out["simulated_clicks_labelled_pairs"] > 0
    assert out["judgments"]["ndcg@10"] > 0.5
    assert out["ratio_ndcg@10"] >= 0.9

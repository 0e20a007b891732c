"""Does a ranker learn from clicks alone? The search ranker trained on simulated clicks vs on judgments.

Home Depot has human relevance judgments and no click log. The study trains the search engine's
LambdaMART ranker (:meth:`shopsage.search.SearchEngine.fit_ranker`, the one that serves) twice on the
same training queries and scores both on the same held-out queries through the front door
(:func:`shopsage.search.training.evaluate`, learned mode, 100 results, nDCG@10 with gain =
relevance - 1, unjudged = 0):

- **judgments**: the graded judgments themselves;
- **simulated clicks**: each training query's lexical (BM25F) top ``shown`` results, the list a shop
  without a ranker serves, are shown ``impressions`` times to the position-based click model of
  :mod:`shopsage.rank.clicks` whose attraction follows the judged gain (unjudged items: gain 0, so
  ``epsilon`` clicks). A shown item's label is its inverse-propensity-weighted click rate
  ``clicks x min(1/exam(k), max_weight) / impressions`` (an unbiased estimate of its attraction),
  mapped onto the ranker's gain scale (``max_relevance x rate``); unshown items are unlabelled (0),
  as unjudged items are in the judgment-trained ranker. The ranker never sees a judgment.
- the same clicks **without** the weights (plain click rate), to show what position bias costs.

Lexical features only (no text encoder): both rankers see the same features, and the study runs on
CPU in minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.rank.clicks import ClickModelConfig, PositionBasedClicks
from shopsage.search.bench_data import HOMEDEPOT, TableMapping, read_catalog, read_judgments, split_queries
from shopsage.search.engine import SearchConfig, SearchEngine
from shopsage.search.front import SearchRequest
from shopsage.search.training import evaluate

__all__ = ["ClickStudyConfig", "click_judgments", "run_click_study"]

Log = Callable[[str], None]


class ClickStudyConfig(BaseModel):
    """Inputs of the study (``benchmarks/bench_click_ranker.py``)."""

    model_config = ConfigDict(extra="forbid")

    catalog: str
    judgments: str
    mapping: TableMapping = Field(default_factory=lambda: HOMEDEPOT)
    dev_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 0
    clicks: ClickModelConfig = Field(default_factory=lambda: ClickModelConfig.model_validate({"max_relevance": 2.0}))
    """The simulated shoppers; ``max_relevance`` is the judgments' largest gain (Home Depot: 2)."""
    candidates: int = Field(150, ge=10)
    """Candidates per source the ranker ranks (``SearchConfig.candidates``)."""


def click_judgments(engine: SearchEngine, queries: Sequence[str], gains: dict[tuple[str, int], float],
                    clicks: PositionBasedClicks, weighted: bool = True) -> list[tuple[str, str, float]]:
    """``(query, item id, label)`` from simulated clicks on each query's lexical top ``clicks.config.shown``:
    label = ``max_relevance`` x the (inverse-propensity-weighted, when ``weighted``) click rate, clipped to
    ``[0, max_relevance]``. ``gains``: ``(query, slot) -> judged gain`` (absent = 0), read only by the
    simulated shopper."""
    c = clicks.config
    out: list[tuple[str, str, float]] = []
    for q in queries:
        page = engine.query(SearchRequest(q, per_page=c.shown, mode="lexical"))
        slots = [h.slot for h in page.hits]
        if not slots:
            continue
        rel = np.array([gains.get((q, s), 0.0) for s in slots])
        counts = clicks.simulate(rel)
        w = clicks.weights(np.arange(1, len(slots) + 1)) if weighted else np.ones(len(slots))
        rate = np.clip(counts * w / c.impressions, 0.0, 1.0)
        out += [(q, engine.ext(s), float(c.max_relevance * r)) for s, r in zip(slots, rate.tolist(), strict=True)]
    return out


def run_click_study(cfg: ClickStudyConfig, log: Log = lambda _m: None) -> dict[str, Any]:
    """Both rankers (and the unweighted clicks) on the same split; nDCG@10 and Recall@100 of each on the held-out queries."""
    rows = read_catalog(cfg.catalog, cfg.mapping)
    judgments = read_judgments(cfg.judgments, cfg.mapping)
    train_q, dev_q = split_queries([q for q, _, _ in judgments], cfg.dev_fraction, cfg.seed)
    dev = set(dev_q)
    train_j = [j for j in judgments if j[0] not in dev]
    eval_j = [j for j in judgments if j[0] in dev]
    engine = SearchEngine(SearchConfig.model_validate({"candidates": cfg.candidates, "min_similarity": None}))
    for i in range(0, len(rows), 5000):
        engine.index(rows[i:i + 5000])
    engine.compact()
    engine.add_past_queries(train_q)
    log(f"{len(rows):,} items, {len(train_q):,} training queries, {len(dev_q):,} held out")
    out: dict[str, Any] = {"n_train_queries": len(train_q), "n_eval_queries": len(dev_q),
                           "clicks": cfg.clicks.model_dump(mode="json"), "features": "lexical (no text encoder)"}
    out["lexical"] = evaluate(engine, eval_j, "lexical", queries=dev_q)
    engine.fit_ranker(train_j)
    out["judgments"] = evaluate(engine, eval_j, "learned", queries=dev_q)
    log(f"judgment-trained: {out['judgments']}")
    gains: dict[tuple[str, int], float] = {}
    for q, ext, g in train_j:
        s = engine.slot(ext)
        if s is not None:
            gains[(q, s)] = g
    for key, weighted in (("simulated_clicks", True), ("simulated_clicks_unweighted", False)):
        labels = click_judgments(engine, train_q, gains, PositionBasedClicks(cfg.clicks), weighted)
        out[f"{key}_labelled_pairs"] = int(sum(1 for _, _, g in labels if g > 0))
        engine.fit_ranker(labels)
        out[key] = evaluate(engine, eval_j, "learned", queries=dev_q)
        log(f"{key}: {out[key]}")
    out["ratio_ndcg@10"] = round(out["simulated_clicks"]["ndcg@10"] / out["judgments"]["ndcg@10"], 4)
    out["ratio_ndcg@10_unweighted"] = round(out["simulated_clicks_unweighted"]["ndcg@10"] / out["judgments"]["ndcg@10"], 4)
    return out

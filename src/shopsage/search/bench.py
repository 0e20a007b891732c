"""The search benchmark: retrieval over the whole catalogue, four modes, quality and latency.

Protocol (``docs/benchmarks.md``): queries are split into train/dev by query text (seeded hash)
unless separate evaluation judgments are given. Everything learned (the ranker, past queries for
spelling) comes from the training queries only. Every mode answers each evaluation query through
the search front door (``SearchEngine.query``, the path the service serves, fallback chain
included; no similarity floor, so the whole catalogue is ranked), 100 results;
``ndcg@10`` uses gain = grade as read (Home Depot: relevance - 1) with unjudged items at 0,
``recall@100`` counts items of gain >= 1 and leaves out queries with none. Latency is measured one
front-door query at a time on one thread, including query analysis, encoding and the evidence of
the 100 results. The reference BM25 (bm25s with the same stemmer) is measured in the same run.

Popularity, a ranker feature, counts behaviour events (views, clicks, carts, purchases); judgment
files have none, so the ranker trains without it and ``learned_no_popularity`` equals ``learned``
(the key stays for data with events). Counting judged impressions instead, as this benchmark once
did, measures "was judged by an engine that showed it", not popularity.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from shopsage.data.rows import ItemRow
from shopsage.search._eval import JudgmentTable, judgment_table, quality
from shopsage.search.bench_data import HOMEDEPOT, TableMapping, read_catalog, read_judgments, split_queries
from shopsage.search.engine import Mode, SearchConfig, SearchEngine, embedding_text
from shopsage.search.front import SearchRequest
from shopsage.search.training import evaluate
from shopsage.text.encoder import EncoderConfig, TextEncoder
from shopsage.types import ScoredItems

__all__ = ["BenchConfig", "run_search_bench", "to_markdown"]


@dataclass
class BenchConfig:
    catalog: str
    judgments: str
    eval_judgments: str | None = None
    mapping: TableMapping = field(default_factory=lambda: HOMEDEPOT)
    dev_fraction: float = 0.2
    seed: int = 0
    cache_dir: str | None = "var/cache/embeddings"
    latency_queries: int = 500
    """Evaluation queries timed one by one per mode (all of them are scored for quality)."""
    query_backend: Literal["torch", "torch-int8", "onnx"] = "torch"
    """Backend of the query encoder (items are always encoded in float32)."""
    int8_check: bool = False
    """Also encode the catalogue with the int8 backend and report its quality loss."""
    encoder_model: str | None = None
    """A sentence-transformers directory (a fine-tuned model, or a LoRA adapter over its base) instead of
    the packaged MiniLM."""
    query_encoder_model: str | None = None
    """A different model for queries only (a query-tower fine-tuned version): items keep ``encoder_model``'s vectors."""
    compare_query_encoder: bool = False
    """With ``query_encoder_model``: also score vector, hybrid and learned with ``encoder_model`` for the queries
    (the zero-shot baseline), in the same run, with its own ranker."""
    search: SearchConfig = field(default_factory=SearchConfig)
    """The engine and its front door. The benchmark ranks the whole catalogue, as the protocol asks: it
    serves without a similarity floor (``min_similarity=None``; a floor cuts the vector side's tail and
    Recall@100 with it) and with at least 100 semantic-fallback results, whatever this says."""
    log: Callable[[str], None] = print

MODES: tuple[Mode, ...] = ("lexical", "vector", "hybrid", "learned")


def _single_thread() -> None:
    import faiss
    import torch

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)


def _latency(fn: Callable[[str], Any], queries: Sequence[str]) -> dict[str, float]:
    """Wall-clock and CPU time per query. CPU time (every thread of this process) is what the
    query costs on an idle core; wall time adds the waits for a core on a loaded machine."""
    for q in queries[:5]:
        fn(q)
    times = np.empty(len(queries))
    cpu = np.empty(len(queries))
    start = time.perf_counter()
    for i, q in enumerate(queries):
        t, c = time.perf_counter(), time.process_time()
        fn(q)
        times[i] = time.perf_counter() - t
        cpu[i] = time.process_time() - c
    total = time.perf_counter() - start
    return {"p50_ms": float(np.percentile(times, 50) * 1e3), "p99_ms": float(np.percentile(times, 99) * 1e3),
            "cpu_p50_ms": float(np.percentile(cpu, 50) * 1e3), "cpu_p99_ms": float(np.percentile(cpu, 99) * 1e3),
            "qps": float(len(queries) / total), "timed_queries": len(queries)}


def _bm25s_reference(rows: Sequence[ItemRow], queries: Sequence[str], n: int) -> tuple[np.ndarray, Callable[[str], Any]]:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    corpus = bm25s.tokenize([r.title or "" for r in rows], stopwords="en", stemmer=stemmer, show_progress=False)
    model = bm25s.BM25()
    model.index(corpus, show_progress=False)

    k = min(n, len(rows))

    def one(q: str) -> np.ndarray:
        tok = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False)
        if not tok.vocab:
            return np.full((1, k), -1)
        docs, _ = model.retrieve(tok, k=k, show_progress=False, n_threads=1)
        return docs

    out = np.full((len(queries), n), -1, dtype=np.int64)
    for i, q in enumerate(queries):
        out[i, :k] = one(q)[0]
    return out, one


def run_search_bench(cfg: BenchConfig) -> dict[str, Any]:
    """Build the engine on the catalogue, train on the training judgments, score every mode."""
    log = cfg.log
    rows = read_catalog(cfg.catalog, cfg.mapping)
    judgments = read_judgments(cfg.judgments, cfg.mapping)
    if cfg.eval_judgments:
        eval_j = read_judgments(cfg.eval_judgments, cfg.mapping)
        train_q = sorted({q for q, _, _ in judgments})
        dev_q = sorted({q for q, _, _ in eval_j} - set(train_q))
        train_j = judgments
    else:
        train_q, dev_q = split_queries([q for q, _, _ in judgments], cfg.dev_fraction, cfg.seed)
        dev_set = set(dev_q)
        train_j = [j for j in judgments if j[0] not in dev_set]
        eval_j = [j for j in judgments if j[0] in dev_set]
    log(f"{len(rows)} items, {len(train_q)} training queries, {len(dev_q)} evaluation queries")

    encoder = TextEncoder(EncoderConfig(model=cfg.encoder_model, cache_dir=cfg.cache_dir))
    t0 = time.perf_counter()
    vecs = encoder.encode([embedding_text(r) for r in rows])
    t_encode = time.perf_counter() - t0
    qencoder = encoder
    if cfg.query_backend != "torch" or cfg.query_encoder_model:
        qencoder = TextEncoder(EncoderConfig(model=cfg.query_encoder_model or cfg.encoder_model, cache_dir=cfg.cache_dir,
                                             backend=cfg.query_backend))
    search = cfg.search.model_copy(update={"min_similarity": None,
                                           "semantic_results": max(cfg.search.semantic_results, 100)})
    engine = SearchEngine(search, encoder, qencoder)
    t0 = time.perf_counter()
    engine.index(rows, vecs)
    t_index = time.perf_counter() - t0
    log(f"encoded in {t_encode:.1f}s (cache: {len(encoder.cache) if encoder.cache else 0}), indexed in {t_index:.1f}s")

    engine.add_past_queries(train_q)
    qvec_train = dict(zip(train_q, engine.query_vectors(train_q), strict=True))
    qvec_dev = engine.query_vectors(dev_q)
    dev_set = set(dev_q)
    eval_j = [j for j in eval_j if j[0] in dev_set]
    table = judgment_table(dev_q, eval_j, engine.slot)

    t0 = time.perf_counter()
    engine.fit_ranker(train_j, qvec_train)  # no behaviour events in judgment files: no popularity
    t_train = time.perf_counter() - t0
    assert engine.ranker is not None
    log(f"ranker trained in {t_train:.1f}s, {engine.ranker.metrics}")

    results: dict[str, Any] = {"modes": {}}
    n = 100
    for mode in MODES:
        t0 = time.perf_counter()
        results["modes"][mode] = evaluate(engine, eval_j, mode, qvecs=qvec_dev, queries=dev_q)
        results["modes"][mode]["batch_seconds"] = time.perf_counter() - t0
        log(f"{mode}: {results['modes'][mode]}")
    # The same ranker: without behaviour events there is no popularity to leave out.
    results["modes"]["learned_no_popularity"] = {k: v for k, v in results["modes"]["learned"].items()
                                                 if k != "batch_seconds"}

    if cfg.query_encoder_model and cfg.compare_query_encoder:
        results["item_encoder_for_queries"] = _compare_query_encoder(engine, encoder, train_q, dev_q, train_j, eval_j, log)

    ref_ids, bm25s_one = _bm25s_reference(rows, dev_q, n)
    vocab_ids = engine.catalog.slots([r.ext_id for r in rows])
    ref = np.where(ref_ids >= 0, vocab_ids[np.maximum(ref_ids, 0)], -1)
    results["reference_bm25s"] = quality(ref, table)
    log(f"bm25s: {results['reference_bm25s']}")

    _single_thread()
    rng = np.random.default_rng(cfg.seed)
    timed = list(rng.choice(dev_q, min(cfg.latency_queries, len(dev_q)), replace=False))
    for mode in MODES:
        results["modes"][mode].update(_latency(lambda q, m=mode: engine.query(SearchRequest(q, per_page=n, mode=m)), timed))
        log(f"{mode} latency: {results['modes'][mode]}")
    results["reference_bm25s"].update(_latency(bm25s_one, timed))
    results["lexical_qps_over_bm25s"] = results["modes"]["lexical"]["qps"] / results["reference_bm25s"]["qps"]

    results["ann"] = _ann_recall(engine, qvec_dev)
    if cfg.int8_check:
        results["int8"] = _int8_check(cfg, rows, vecs, dev_q, table, engine, timed)
    results["setup"] = {
        "items": len(rows), "train_queries": len(train_q), "eval_queries": len(dev_q),
        "split": "eval file" if cfg.eval_judgments else f"hash of query text, dev_fraction={cfg.dev_fraction}, seed={cfg.seed}",
        "encode_seconds": t_encode, "index_seconds": t_index, "train_seconds": t_train,
        "encoder": encoder.describe(), "query_encoder": qencoder.describe(), "ranker": engine.ranker.metrics,
        "feature_importance": dict(list(engine.ranker.importance().items())[:12]),
        "popularity": "none: judgment files hold no behaviour events",
        "config": search.model_dump(),
    }
    return results


def _compare_query_encoder(engine: SearchEngine, encoder: TextEncoder, train_q: Sequence[str], dev_q: Sequence[str],
                           train_j: Sequence[tuple[str, str, float]], eval_j: Sequence[tuple[str, str, float]],
                           log: Callable[[str], None]) -> dict[str, dict[str, float]]:
    """Vector, hybrid and learned quality with the item encoder embedding the queries too (its own ranker)."""
    items, queries, vector, ranker = engine.encoder, engine.query_encoder, engine.vector, engine.ranker
    assert items is not None and vector is not None
    engine.use_encoders(items, encoder, vector)
    try:
        qv_train = dict(zip(train_q, engine.query_vectors(train_q), strict=True))
        qv_dev = engine.query_vectors(dev_q)
        engine.fit_ranker(train_j, qv_train)
        out = {mode: evaluate(engine, eval_j, mode, qvecs=qv_dev, queries=dev_q) for mode in ("vector", "hybrid", "learned")}
        log(f"item encoder for queries: {out}")
        return out
    finally:
        engine.use_encoders(items, queries, vector)
        engine.ranker = ranker


def _ann_recall(engine: SearchEngine, qvecs: np.ndarray) -> dict[str, float]:
    assert engine.vector is not None
    exact = engine.vector.search(qvecs, 10, exact=True)
    approx = engine.vector.search(qvecs, 10)
    inter = [len(np.intersect1d(exact.ids[i], approx.ids[i])) / 10 for i in range(len(qvecs))]
    return {"recall@10_vs_exact": float(np.mean(inter)), "hnsw": engine.vector._hnsw is not None,
            "ef_search": engine.config.vector.ef_search, "hnsw_m": engine.config.vector.hnsw_m}


def _int8_check(cfg: BenchConfig, rows: Sequence[ItemRow], vecs: np.ndarray, dev_q: Sequence[str],
                table: JudgmentTable, engine: SearchEngine, timed: Sequence[str]) -> dict[str, float]:
    enc8 = TextEncoder(EncoderConfig(model=cfg.encoder_model, cache_dir=cfg.cache_dir, backend="torch-int8"))
    v8 = enc8.encode([embedding_text(r) for r in rows])
    q8 = enc8.encode([engine.dense_text(q) for q in dev_q], progress=False)
    cos = float(np.mean(np.sum(v8 * vecs, axis=1)))
    scores = q8 @ v8.T
    ids = ScoredItems.from_scores(scores, 100).ids
    slots = engine.catalog.slots([r.ext_id for r in rows])
    ids = np.where(ids >= 0, slots[np.maximum(ids, 0)], -1)
    enc8.set_threads(1)
    lat8 = _latency(enc8.encode_query, timed)
    enc32 = TextEncoder(EncoderConfig(model=cfg.encoder_model, cache_dir=cfg.cache_dir))
    enc32.set_threads(1)
    lat32 = _latency(enc32.encode_query, timed)
    return {"mean_cosine_to_fp32": cos, **{f"vector_{k}": v for k, v in quality(ids, table).items()},
            "encode_query_p50_ms_int8": lat8["p50_ms"], "encode_query_p50_ms_fp32": lat32["p50_ms"],
            "encode_query_p99_ms_int8": lat8["p99_ms"], "encode_query_p99_ms_fp32": lat32["p99_ms"]}


def to_markdown(results: dict[str, Any], command: str = "") -> str:
    """A Markdown report of :func:`run_search_bench` results."""
    s = results["setup"]
    lines = ["## Product search (Home Depot-format catalogue, whole-catalogue retrieval)", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [f"{s['items']} items; {s['train_queries']} training queries, {s['eval_queries']} evaluation queries "
              f"(split: {s['split']}). Latency: one query at a time, one thread, including query encoding "
              f"(query encoder backend: {s['query_encoder']['backend']}); wall-clock and CPU milliseconds per query.", "",
              "| mode | nDCG@10 | Recall@100 | p50 ms | p99 ms | CPU p50 ms | CPU p99 ms | QPS |",
              "|---|---|---|---|---|---|---|---|"]
    rows = [(m, r) for m, r in results["modes"].items()] + [("bm25s (reference)", results["reference_bm25s"])]
    for name, r in rows:
        lat = (f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r.get('cpu_p50_ms', float('nan')):.2f} | "
               f"{r.get('cpu_p99_ms', float('nan')):.2f} | {r['qps']:.0f}" if "p50_ms" in r else "- | - | - | - | -")
        lines.append(f"| {name} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {lat} |")
    lines += ["", f"Lexical QPS / bm25s QPS: {results['lexical_qps_over_bm25s']:.2f}.",
              f"HNSW recall@10 against exact search: {results['ann']['recall@10_vs_exact']:.4f} "
              f"(M={results['ann']['hnsw_m']}, efSearch={results['ann']['ef_search']})."]
    if "item_encoder_for_queries" in results:
        base = results["item_encoder_for_queries"]
        lines.append("Same run, queries embedded by the item encoder instead (its own ranker): " + ", ".join(
            f"{m} {r['ndcg@10']:.4f} / {r['recall@100']:.4f}" for m, r in base.items()) + " (nDCG@10 / Recall@100).")
    if "int8" in results:
        i8 = results["int8"]
        lines.append(f"int8 encoder for items and queries: mean cosine of item vectors to float32 "
                     f"{i8['mean_cosine_to_fp32']:.4f}, vector nDCG@10 {i8['vector_ndcg@10']:.4f} (this run's vector mode, "
                     f"{s['query_encoder']['backend']} queries on float32 items: {results['modes']['vector']['ndcg@10']:.4f}); "
                     f"query encoding p50 {i8['encode_query_p50_ms_int8']:.1f} ms int8 vs "
                     f"{i8['encode_query_p50_ms_fp32']:.1f} ms float32, p99 {i8['encode_query_p99_ms_int8']:.1f} vs "
                     f"{i8['encode_query_p99_ms_fp32']:.1f} ms.")
    lines += [f"Index build {s['index_seconds']:.1f}s, encoding {s['encode_seconds']:.1f}s (cached after the first run), "
              f"ranker training {s['train_seconds']:.1f}s.", ""]
    return "\n".join(lines)


def write_report(results: dict[str, Any], json_path: str | Path, command: str = "") -> Path:
    """Write ``results`` as JSON and the Markdown table beside it (``.md``)."""
    import json

    path = Path(json_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    md = path.with_suffix(".md")
    md.write_text(to_markdown(results, command), encoding="utf-8")
    return md

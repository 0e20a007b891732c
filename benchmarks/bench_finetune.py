"""Fine-tune MiniLM on Home Depot judgments (LoRA and full) and score dense retrieval on held-out queries.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_finetune.py [--methods lora,full] [--tower query]
     [--max-steps 400] [--batch-size 64] [--hard 3]

Protocol: the same query split as `shopsage bench search` (hash of the query text, 20% dev, seed 0).
Training pairs come only from the training queries: (query, product with relevance >= 2); hard
negatives per pair: products judged 1.5 or below for that query, then, alternately, BM25's and the
zero-shot vector index's best products not judged for it. Early stopping uses 10% of the *training*
queries (seeded) held out of the pairs; the dev queries are scored once, at the end, over the whole
54,667-product catalogue: nDCG@10 (gain = relevance - 1, unjudged = 0) and Recall@100 (products
with relevance >= 2; queries with none left out), exact cosine search; each model twice: the dev
queries as typed, and as the search engine's query encoder reads them (``corrected_queries``:
spelling-corrected against the catalogue's and the training queries' words).

``--tower query`` trains the query encoder only, against the zero-shot item vectors (the catalogue
keeps its embeddings); ``--tower both`` trains one encoder for both sides (the catalogue is
re-embedded; early stopping then scores a 4,000-product sample plus the judged products).
Each model is registered in var/models/<name> with its manifest.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shopsage.data.rows import ItemRow  # noqa: E402
from shopsage.evaluate.machine import describe  # noqa: E402
from shopsage.finetune import FineTuneConfig, Pair, PairSet, fine_tune, interleave  # noqa: E402
from shopsage.finetune.publish import register_encoder  # noqa: E402
from shopsage.ranking_metrics import ndcg  # noqa: E402
from shopsage.registry import ModelRegistry  # noqa: E402
from shopsage.search import SearchConfig, SearchEngine  # noqa: E402
from shopsage.search.bench_data import read_catalog, read_judgments, split_queries  # noqa: E402
from shopsage.search.engine import embedding_text  # noqa: E402
from shopsage.text import EncoderConfig, TextEncoder, default_model_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", ROOT / ".." / "shared" / "data"))
CACHE = str(ROOT / "var" / "cache" / "embeddings")


def dense_quality(qv: np.ndarray, dv: np.ndarray, queries: list[str], ids: list[str],
                  gains: dict[str, dict[str, float]]) -> dict[str, object]:
    """nDCG@10 (graded gains, :func:`shopsage.ranking_metrics.ndcg`) and Recall@100 of exact cosine
    retrieval over ``dv``."""
    pos = {e: i for i, e in enumerate(ids)}
    ranked_gains = np.zeros((len(queries), 10))
    ideal_gains = np.zeros((len(queries), 10))
    recalls = []
    for start in range(0, len(queries), 256):
        scores = qv[start:start + 256] @ dv.T
        top = np.argpartition(-scores, 100, axis=1)[:, :100]
        order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
        top = np.take_along_axis(top, order, axis=1)
        for b, q in enumerate(queries[start:start + 256]):
            g = gains[q]
            ranked = [ids[i] for i in top[b]]
            ranked_gains[start + b] = [g.get(e, 0.0) for e in ranked[:10]]
            ideal = sorted(g.values(), reverse=True)[:10]
            ideal_gains[start + b, :len(ideal)] = ideal
            relevant = {e for e, x in g.items() if x >= 1.0 and e in pos}
            if relevant:
                recalls.append(len(relevant & set(ranked)) / len(relevant))
    return {"ndcg@10": float(ndcg(ranked_gains, ideal_gains).mean()), "recall@100": float(np.mean(recalls)),
            "queries": len(queries)}


def dev_quality(encoder: object, dv: np.ndarray, proto: Protocol, fixed_dev: list[str]) -> dict[str, object]:
    """Dense dev figures with the queries as typed, and (``corrected_queries``) as the engine's
    corrector rewrites them (``fixed_dev``, in ``proto.dev_q``'s order)."""
    def score(queries: list[str]) -> dict[str, object]:
        return dense_quality(encoder.encode(queries, progress=False), dv, proto.dev_q, proto.ids, proto.gains)  # type: ignore[attr-defined]

    return {**score(proto.dev_q), "corrected_queries": score(fixed_dev)}


class _GpuEncoder:
    """The fine-tuned model itself on the GPU (the serving encoder, TextEncoder, runs on the CPU)."""

    def __init__(self, path: str, base: str) -> None:
        from shopsage.finetune.trainer import load_finetuned

        self.model = load_finetuned(path, base_model=base)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.model.encode(texts, batch_size=512, normalize_embeddings=True, convert_to_numpy=True)


def _encoder(path: str, base: str, threads: int) -> object:
    """The serving path (TextEncoder, CPU, embedding cache); the model on the GPU when one is present."""
    import torch

    if torch.cuda.is_available():
        return _GpuEncoder(path, base)
    return TextEncoder(EncoderConfig(model=path, cache_dir=CACHE, progress=False, threads=threads))


def _minable(ranked: list[str], skip_top: int, judged: set[str], pool: set[str] | None) -> list[str]:
    """A retriever's results below ``skip_top`` that may be a negative: not judged for the query, and in
    ``pool`` when there is one."""
    return [i for i in ranked[skip_top:] if i not in judged and (pool is None or i in pool)]


def build_pairs(train_q: list[str], judgments: list[tuple[str, str, float]], texts: dict[str, str],
                bm25: dict[str, list[str]], dense: dict[str, list[str]], hard: int, skip_top: int = 0,
                anchor_text: dict[str, str] | None = None, pool: set[str] | None = None) -> PairSet:
    """``pool``: mined negatives only among these products (--known-negatives: the products judged for
    some training query), so a product the training logs never showed is never a negative."""
    by_q: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for q, item, gain in judgments:  # gain = relevance - 1
        by_q[q].append((item, gain))
    pairs = []
    for q in train_q:
        positives = {i: g for i, g in by_q[q] if g >= 1.0}  # the gain is the pair's weight
        judged_neg = [i for i, g in sorted(by_q[q], key=lambda x: x[1]) if g <= 0.5]
        judged = {i for i, _ in by_q[q]}
        # the very best unjudged results are often relevant products nobody judged: skip them
        mined = interleave(_minable(bm25.get(q, []), skip_top, judged, pool),
                            _minable(dense.get(q, []), skip_top, judged, pool))
        negatives = tuple((judged_neg + mined)[:hard])
        anchor = (anchor_text or {}).get(q, q)  # the query as the encoder will read it (--correct-queries)
        pairs += [Pair(anchor, i, negatives, weight=positives[i]) for i in sorted(positives) if texts.get(i)]
    return PairSet(pairs, texts, "query-item", {"judgments": len(pairs), "hard negatives": hard, "skip_top": skip_top})


@dataclass
class Protocol:
    """The Home Depot fine-tuning protocol: catalogue, judgments and the three query sets."""

    rows: list[ItemRow]
    judgments: list[tuple[str, str, float]]
    texts: dict[str, str]
    ids: list[str]
    gains: dict[str, dict[str, float]]
    fit_q: list[str]  # training pairs come from these
    es_q: list[str]  # 10% of the training queries, held out of the pairs: early stopping and model choice
    dev_q: list[str]  # the search benchmark's dev queries, scored once at the end
    es_items: list[str]  # the early-stopping catalogue: a 4,000-product sample plus every product judged for es_q
    es_text: dict[str, str] = field(default_factory=dict)  # what the encoder reads of an es_q query (--correct-queries)


def load_protocol() -> Protocol:
    hd = DATA / "homedepot"
    rows = read_catalog(hd / "product_titles.csv")
    judgments = read_judgments(hd / "train.csv")
    texts = {r.ext_id: embedding_text(r) for r in rows}
    ids = [r.ext_id for r in rows]
    train_q, dev_q = split_queries([q for q, _, _ in judgments], 0.2, 0)
    rng = random.Random(0)
    es_q = sorted(rng.sample(train_q, len(train_q) // 10))
    fit_q = sorted(set(train_q) - set(es_q))
    gains: dict[str, dict[str, float]] = defaultdict(dict)
    for q, item, gain in judgments:  # read_judgments gives gain = relevance - 1 already
        gains[q][item] = gain
    es_items = sorted({i for q in es_q for i in gains[q]} | set(rng.sample(ids, min(4000, len(ids)))))
    return Protocol(rows, judgments, texts, ids, gains, fit_q, es_q, dev_q, es_items)


def spelling_engine(proto: Protocol) -> SearchEngine:
    """A lexical engine over the catalogue that has seen the training queries (never the dev ones):
    its ``dense_text`` is the query as the search engine's query encoder reads it
    (``SearchConfig.dense_spelling``, spelling-corrected)."""
    engine = SearchEngine(SearchConfig(dense_spelling=True))
    engine.index(proto.rows)
    engine.add_past_queries(proto.fit_q + proto.es_q)
    return engine


def corrected_training_queries(proto: Protocol) -> dict[str, str]:
    """Each training query as the search engine's query encoder would read it had it arrived after
    all the *other* training queries: corrected against the catalogue's words and the words another
    training query also uses (a word only this query uses is one the corrector would not know)."""
    from collections import Counter

    train_q = proto.fit_q + proto.es_q
    uses = Counter(w for q in train_q for w in {w for w in q.casefold().split() if w.isalpha() and len(w) >= 3})
    engine = SearchEngine(SearchConfig(dense_spelling=True))
    engine.index(proto.rows)
    engine.add_past_queries([w for w, n in uses.items() if n >= 2])
    return {q: engine.dense_text(q) for q in train_q}


def early_stop_ndcg(model: object, proto: Protocol, item_vectors: np.ndarray | None = None) -> float:
    """nDCG@10 of the early-stopping queries: over the whole catalogue's fixed ``item_vectors`` (query
    tower), else over the early-stopping catalogue embedded by ``model`` itself."""
    qv = model.encode([proto.es_text.get(q, q) for q in proto.es_q], batch_size=128, normalize_embeddings=True)  # type: ignore[attr-defined]
    if item_vectors is not None:
        return float(dense_quality(qv, item_vectors, proto.es_q, proto.ids, proto.gains)["ndcg@10"])  # type: ignore[arg-type]
    dv = model.encode([proto.texts[i] for i in proto.es_items], batch_size=128,  # type: ignore[attr-defined]
                      normalize_embeddings=True)
    return float(dense_quality(qv, dv, proto.es_q, proto.es_items, proto.gains)["ndcg@10"])  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="lora,full")
    ap.add_argument("--tower", default="query", choices=["query", "both"])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--hard", type=int, default=1)
    ap.add_argument("--skip-top", type=int, default=10, help="mined negatives start below this rank")
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on the shared, loaded machine)")
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--lr-lora", type=float, default=5e-4)
    ap.add_argument("--lr-full", type=float, default=5e-5)
    ap.add_argument("--patience", type=int, default=4)
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--weighted", action="store_true", help="weigh each pair by its judgment's gain (1 to 2)")
    ap.add_argument("--symmetric", action="store_true", help="add the item -> anchor softmax (MNSRL; the product's "
                    "default, off here so that the earlier runs' commands reproduce)")
    ap.add_argument("--scale", type=float, default=20.0, help="inverse temperature of the softmax")
    ap.add_argument("--train-all", action="store_true",
                    help="train on every training query, the early-stopping ones too, without early stopping "
                    "(the last step is kept): the final model of a configuration chosen by an early-stopped run")
    ap.add_argument("--average-from", type=float, default=None,
                    help="share of the steps after which the running mean of the weights (SWA) is what each "
                    "evaluation scores and early stopping may keep (the raw weights' score is logged as dev_raw)")
    ap.add_argument("--correct-queries", action="store_true",
                    help="train and early-stop on the training queries as the engine's query encoder reads them "
                    "(spelling-corrected, each against the catalogue and the other training queries' words)")
    ap.add_argument("--known-negatives", action="store_true",
                    help="mine negatives only among products judged for some training query (a product the "
                         "training logs never showed is never pushed away from the queries)")
    ap.add_argument("--mine-depth", type=int, default=20, help="mined candidates per query below --skip-top")
    ap.add_argument("--seed", type=int, default=0, help="training seed: batch order and dropout (the split is fixed)")
    ap.add_argument("--name", default="encoder-homedepot")
    ap.add_argument("--base-model", default=None, help="a sentence-transformers directory to start from "
                    "(default: the packaged all-MiniLM-L6-v2)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "finetune-homedepot.json"))
    args = ap.parse_args()

    base = args.base_model or default_model_path()
    zero = _encoder(base, base, args.threads)
    proto = load_protocol()
    texts, ids, fit_q, es_q, dev_q = proto.texts, proto.ids, proto.fit_q, proto.es_q, proto.dev_q
    if args.train_all:
        fit_q = sorted(fit_q + es_q)
    t0 = time.perf_counter()
    dv0 = zero.encode([texts[i] for i in ids])
    enc_s = time.perf_counter() - t0
    item_vectors = dict(zip(ids, dv0, strict=True))
    print(f"catalogue embedded (zero-shot) in {enc_s:.0f}s", flush=True)

    from shopsage.search import LexicalIndex, item_fields

    lex = LexicalIndex()
    lex.add(np.arange(len(proto.rows)), [item_fields(r) for r in proto.rows])
    bm25 = {q: [ids[i] for i in lex.search([q], args.mine_depth + args.skip_top).ids[0] if i >= 0] for q in fit_q}
    qv_fit = zero.encode(fit_q, progress=False)
    dense = {}
    for start in range(0, len(fit_q), 256):
        top = np.argsort(-(qv_fit[start:start + 256] @ dv0.T), axis=1)[:, :args.mine_depth + args.skip_top]
        dense.update({q: [ids[i] for i in top[b]] for b, q in enumerate(fit_q[start:start + 256])})
    anchor_text = corrected_training_queries(proto) if args.correct_queries else None
    if anchor_text:
        proto.es_text = {q: anchor_text[q] for q in es_q}
        print(f"--correct-queries: {sum(a != q for q, a in anchor_text.items())} of {len(anchor_text)} training "
              "queries corrected", flush=True)
    pool = None
    if args.known_negatives:
        fit = set(fit_q)
        pool = {i for q, i, _ in proto.judgments if q in fit}
        dev = set(dev_q)
        dev_rel = [i for q, i, g in proto.judgments if q in dev and g >= 1.0]
        print(f"--known-negatives: mined negatives among the {len(pool)} products judged for a training query; "
              f"{sum(i in pool for i in dev_rel) / len(dev_rel):.1%} of the dev queries' relevant products are among "
              "them", flush=True)
    pairs = build_pairs(fit_q, proto.judgments, texts, bm25, dense, args.hard, args.skip_top, anchor_text, pool)
    print(f"{len(proto.rows)} products; {len(fit_q)} training queries -> {len(pairs)} pairs; "
          f"{len(es_q)} early-stopping queries; {len(dev_q)} dev queries", flush=True)

    def early_stop_metric(model: object) -> float:
        return early_stop_ndcg(model, proto, dv0 if args.tower == "query" else None)

    speller = spelling_engine(proto)  # one engine: building it indexes the whole catalogue
    dev_fixed = [speller.dense_text(q) for q in dev_q]
    results: dict[str, object] = {
        "machine": describe(), "tower": args.tower, "pairs": len(pairs), "fit_queries": len(fit_q),
        "early_stop_queries": 0 if args.train_all else len(es_q), "dev_queries": len(dev_q), "argv": sys.argv[1:],
        "zero-shot": {**dev_quality(zero, dv0, proto, dev_fixed), "encode_catalogue_seconds": round(enc_s, 1)}}
    print("zero-shot", results["zero-shot"], flush=True)
    registry = ModelRegistry(ROOT / "var" / "models")
    for method in args.methods.split(","):
        cfg = FineTuneConfig(method=method, tower=args.tower, epochs=args.epochs, batch_size=args.batch_size,  # type: ignore[arg-type]
                             max_steps=args.max_steps, learning_rate=args.lr_lora if method == "lora" else args.lr_full,
                             eval_every=args.eval_every, patience=args.patience, max_length=args.max_length, seed=args.seed, threads=args.threads,
                             precision=args.precision, weighted=args.weighted,
                             symmetric=args.symmetric, scale=args.scale, average_from=args.average_from)
        out = registry.new_version_dir(args.name)
        res = fine_tune(base, pairs, cfg, out, evaluate=None if args.train_all else early_stop_metric,
                        item_vectors=item_vectors,
                        log=lambda m, method=method: print(method, m, flush=True))
        print(method, "trained:", {k: v for k, v in res.__dict__.items() if k != "history"}, flush=True)
        tuned = _encoder(str(out), base, args.threads)
        t0 = time.perf_counter()
        dv = dv0 if args.tower == "query" else tuned.encode([texts[i] for i in ids])
        enc_s = time.perf_counter() - t0
        quality = dev_quality(tuned, dv, proto, dev_fixed)
        results[method] = {**quality, "train_seconds": res.train_seconds, "train_minutes": round(res.train_seconds / 60, 2),
                           "seconds_with_evaluation": res.seconds, "steps": res.steps, "best_step": res.best_step,
                           "early_stop_ndcg": res.best_metric, "early_stop_baseline": res.baseline_metric,
                           "trainable_params": res.trainable_params, "total_params": res.total_params,
                           "saved_mb": round(res.saved_bytes / 2**20, 2), "device": res.device,
                           "encode_catalogue_seconds": round(enc_s, 1), "version": out.name, "path": str(out),
                           "history": res.history, "learning_rate": cfg.learning_rate, "precision": res.precision,
                           "weighted": cfg.weighted,
                           "symmetric": cfg.symmetric, "scale": cfg.scale, "average_from": cfg.average_from}
        register_encoder(registry, args.name, out, base, pairs, res,
                         {k: quality[k] for k in ("ndcg@10", "recall@100")})
        print(method, {k: v for k, v in results[method].items() if k != "history"}, flush=True)
        Path(args.out).write_text(json.dumps(results, indent=2))
    results["load_average_1min"] = os.getloadavg()[0]
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k not in ("lora", "full")}, indent=2))


if __name__ == "__main__":
    main()

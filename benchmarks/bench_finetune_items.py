"""Item-to-item fine-tuning on Amazon Scientific co-interactions, scored on cold-start items.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_finetune_items.py [--methods lora] [--max-steps 200]

Protocol (the cold-start protocol of the sequential issue): 10% of the items are held out by a
seeded hash of the item id (`shopsage.data.splits.cold_start_items`, fraction 0.1, seed 0). The data
set is imported into an event store with the `recbole` importer; training pairs are (item -> next
item, or each of the next `--window` items) of the users' *training* events
(`pairs_from_sequences(split="train")`), never touching a held-out item, with in-batch negatives
and the zero-shot encoder's nearest neighbours as hard negatives (`--hard`, after skipping the
`--skip-top` nearest, near-duplicates that are often bought together; never a known next item of
the anchor). `--tower query` (default) trains the side that
embeds the history items against the zero-shot item vectors, which the candidates keep (so a held-out
item is represented exactly as before, by its text through the base encoder); `--tower both` trains
one encoder for both sides.

`--anchor history` trains on (the last 5 item texts of a training history as one text, newest
first -> the next item) pairs instead, and a case's profile is then the embedding of its history
text (the zero-shot encoder is scored that way too, as "zero-shot text profile").

Measure: the validation (early stopping) and test rows of the RecBole files whose target is a held-out
item. Each case's history (its last 5 items, cut at 50 by the data) is embedded, the mean of its unit
vectors is the profile, and the held-out items are ranked by cosine to it (the target ranked among all
held-out items): Recall@10 (= HR@10, one target) and NDCG@10. Also reported: the same with all items
as candidates (history items excluded). Zero-shot and fine-tuned encoders are scored in the same run
with the same encoder settings (max_length 128).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from shopsage.data.importers import get_importer, run_import  # noqa: E402
from shopsage.data.splits import cold_start_items  # noqa: E402
from shopsage.data.stores import open_store  # noqa: E402
from shopsage.evaluate.machine import describe  # noqa: E402
from shopsage.finetune import (  # noqa: E402
    FineTuneConfig,
    PairSet,
    cap_per_positive,
    fine_tune,
    history_text,
    item_text,
    mine_hard_negatives,
    pairs_from_histories,
    pairs_from_sequences,
)
from shopsage.finetune.publish import register_encoder  # noqa: E402
from shopsage.ranking_metrics import target_rank_metrics  # noqa: E402
from shopsage.registry import ModelRegistry  # noqa: E402
from shopsage.text import EncoderConfig, TextEncoder, default_model_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", ROOT / ".." / "shared" / "data")) / "amazon-scientific"
CACHE = str(ROOT / "var" / "cache" / "embeddings")
HISTORY = 5


def read_cases(split: str, index_to_asin: dict[str, str]) -> list[tuple[list[str], str]]:
    cases = []
    with open(DATA / f"Scientific.{split}.inter", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            _, hist, target = line.rstrip("\n").split("\t")
            cases.append(([index_to_asin[i] for i in hist.split()], index_to_asin[target]))
    return cases


def mean_profiles(vec: dict[str, np.ndarray], cases: list[tuple[list[str], str]]) -> np.ndarray:
    """Each case's profile: the mean of its last HISTORY item vectors (``profile=mean``)."""
    return np.stack([np.mean([vec[h] for h in hist[-HISTORY:]], axis=0) for hist, _ in cases])


def history_texts(cases: list[tuple[list[str], str]], texts: dict[str, str]) -> list[str]:
    """Each case's history as one text (``profile=text``; the anchors of ``--anchor history``)."""
    return [history_text([texts[h] for h in hist[-HISTORY:]], HISTORY) for hist, _ in cases]


def gain_at_10(ranks: np.ndarray) -> np.ndarray:
    """NDCG@10 of one target at each 0-based rank (0 beyond the top 10)."""
    return target_rank_metrics(ranks, 10)["ndcg"]


def cold_quality(profiles: np.ndarray, cases: list[tuple[list[str], str]], cold: list[str],
                 everything: list[str], cand_vec: dict[str, np.ndarray], ranks: dict[str, list[int]] | None = None
                 ) -> dict[str, float]:
    """Recall@10 / NDCG@10 of the target among the held-out items, and among all items (history
    items excluded). ``profiles`` has one row per case; ``cand_vec`` embeds the candidates. Each
    case's 0-based rank goes to ``ranks["cold"]`` / ``ranks["all"]`` when given (paired tests)."""
    out: dict[str, float] = {}
    for name, cands in (("cold", cold), ("all", everything)):
        pos = {e: i for i, e in enumerate(cands)}
        mat = np.stack([cand_vec[e] for e in cands])
        hits, gains = [], []
        for prof, (hist, target) in zip(profiles, cases, strict=True):
            scores = mat @ (prof / max(np.linalg.norm(prof), 1e-9))
            if name == "all":
                scores[[pos[h] for h in set(hist) if h in pos]] = -np.inf
            rank = int((scores > scores[pos[target]]).sum())
            if ranks is not None:
                ranks.setdefault(name, []).append(rank)
            hits.append(rank < 10)
            gains.append(float(gain_at_10(np.asarray(rank))))
        out[f"{name}_recall@10"] = float(np.mean(hits))
        out[f"{name}_ndcg@10"] = float(np.mean(gains))
    out["cases"] = len(cases)
    return out


def paired_tests(base: dict[str, list[int]], tuned: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    """Tuned against zero-shot on the same cases: exact McNemar test of the Recall@10 hits (a binomial
    test on the cases only one of them hits) and a Wilcoxon signed-rank test of per-case NDCG@10."""
    from scipy.stats import binomtest, wilcoxon

    out = {}
    for name in base:
        b, t = np.asarray(base[name]), np.asarray(tuned[name])
        only_t, only_b = int(((t < 10) & (b >= 10)).sum()), int(((b < 10) & (t >= 10)).sum())
        diff = gain_at_10(t) - gain_at_10(b)
        out[name] = {"hits_only_tuned": only_t, "hits_only_zero_shot": only_b,
                     "mcnemar_p": float(binomtest(only_t, only_t + only_b).pvalue) if only_t + only_b else 1.0,
                     "ndcg_wilcoxon_p": float(wilcoxon(diff[diff != 0]).pvalue) if (diff != 0).sum() > 0 else 1.0}
    return out


def zero_shot_ranks(pairs: PairSet, zv: dict[str, np.ndarray], warm: list[str]) -> np.ndarray:
    """Per item -> item pair: how many warm items (the anchor itself aside) the zero-shot encoder puts
    nearer to the anchor than its positive (0 = the positive is the anchor's nearest neighbour)."""
    if not pairs.pairs or pairs.pairs[0].anchor_item is None:
        return np.zeros(len(pairs), dtype=int)
    mat = np.stack([zv[e] for e in warm])
    out = np.empty(len(pairs), dtype=int)
    for start in range(0, len(pairs), 2048):
        chunk = pairs.pairs[start:start + 2048]
        sims = np.stack([zv[p.anchor_item] for p in chunk]) @ mat.T  # type: ignore[index]
        pos = np.array([float(zv[p.positive] @ zv[p.anchor_item]) for p in chunk])  # type: ignore[index]
        out[start:start + len(chunk)] = (sims > pos[:, None]).sum(axis=1) - 1
    return np.maximum(out, 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="lora")
    ap.add_argument("--tower", default="query", choices=["query", "both"],
                    help="query: train the history-item side against the zero-shot item vectors (candidates keep them)")
    ap.add_argument("--max-steps", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=1, help="passes over the pairs (--max-steps still caps the steps)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--anchor", default="item", choices=["item", "history"],
                    help="item: (item -> next items) pairs, profiles are the mean of the history's item "
                         "vectors; history: (last 5 item texts as one text -> next item), the history text "
                         "is the profile")
    ap.add_argument("--window", type=int, default=1,
                    help="pairs (item -> each of the next WINDOW items of the same user's training history)")
    ap.add_argument("--max-per-positive", type=int, default=None,
                    help="keep at most N pairs per positive item (a seeded sample): best-sellers dominate otherwise")
    ap.add_argument("--cold-seed", type=int, default=0,
                    help="seed of the held-out bucket (cold_start_items(..., 0.1, seed)); 0 is the issue's protocol")
    ap.add_argument("--near", type=int, default=None,
                    help="keep only the pairs whose positive is among the anchor item's NEAR nearest warm items "
                         "by the zero-shot encoder (co-interactions that are also alike in text)")
    ap.add_argument("--hard", type=int, default=1)
    ap.add_argument("--skip-top", type=int, default=3)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on the shared, loaded machine)")
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--lr-lora", type=float, default=5e-4)
    ap.add_argument("--lr-full", type=float, default=5e-5)
    ap.add_argument("--symmetric", action="store_true", help="add the item -> anchor softmax (MNSRL; the product's "
                    "default, off here so that the earlier runs' commands reproduce)")
    ap.add_argument("--wise", default="",
                    help="WiSE-FT: comma-separated alphas; train to --max-steps, then keep the best blend "
                         "(1-a)*zero-shot + a*tuned weights on validation")
    ap.add_argument("--evaluate", default=None,
                    help="score this trained model directory against zero-shot (paired tests) instead of training")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "finetune-scientific.json"))
    args = ap.parse_args()

    db = ROOT / "var" / "bench" / "scientific-finetune.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    if not db.exists():  # import beside it, then rename: a run started meanwhile never sees half a store
        tmp = db.with_name(f"{db.name}.{os.getpid()}.tmp")
        fresh = open_store(f"sqlite:///{tmp}")
        print(run_import(fresh, get_importer("recbole", str(DATA))), flush=True)
        fresh.close()
        os.replace(tmp, db)
    store = open_store(f"sqlite:///{db}")
    texts = {row.ext_id: item_text(row) for _, row in store.items()}
    everything = sorted(texts)
    cold_set = cold_start_items(everything, 0.1, seed=args.cold_seed)
    cold = sorted(cold_set)
    index_to_asin = {}
    with open(DATA / "Scientific.item2index", encoding="utf-8") as fh:
        for line in fh:
            asin, idx = line.rstrip("\n").split("\t")
            index_to_asin[idx] = asin
    valid = [c for c in read_cases("valid", index_to_asin) if c[1] in cold_set]
    test = [c for c in read_cases("test", index_to_asin) if c[1] in cold_set]
    if args.anchor == "history":
        pairs = pairs_from_histories(store, history=HISTORY, split="train", exclude_items=cold_set)
    else:
        pairs = pairs_from_sequences(store, window=args.window, split="train", exclude_items=cold_set)
    if args.max_per_positive:
        pairs = cap_per_positive(pairs, args.max_per_positive, seed=0)
    print(f"{len(everything)} items, {len(cold)} held out; {len(pairs)} training pairs; "
          f"{len(valid)} validation and {len(test)} test cases with a held-out target", flush=True)

    zero = TextEncoder(EncoderConfig(cache_dir=CACHE, progress=False, threads=args.threads))
    t0 = time.perf_counter()
    zv = dict(zip(everything, zero.encode([texts[e] for e in everything]), strict=True))
    enc_s = time.perf_counter() - t0
    warm = [e for e in everything if e not in cold_set]
    warm_mat = np.stack([zv[e] for e in warm])

    def neighbours(anchors: list[str]) -> list[list[str]]:  # the zero-shot vector index, anchors by text
        by_text = {texts[e]: e for e in warm}
        out = []
        for a in anchors:
            v = zv.get(by_text.get(a, ""))
            out.append([] if v is None else [warm[i] for i in np.argsort(-(warm_mat @ v))[:10]])
        return out

    ranks = zero_shot_ranks(pairs, zv, warm)
    print("zero-shot rank of each pair's positive among the warm items, quantiles 10/25/50/75/90%:",
          np.percentile(ranks, [10, 25, 50, 75, 90]).tolist(), flush=True)
    if args.near:
        pairs = PairSet([p for p, r in zip(pairs.pairs, ranks, strict=True) if r < args.near], pairs.texts, pairs.kind,
                        {**pairs.sources, "near": args.near})
        print(f"{len(pairs)} pairs with the positive among the anchor's {args.near} nearest", flush=True)
    if args.hard:
        pairs = mine_hard_negatives(pairs, neighbours, {e: texts[e] for e in warm}, per_pair=args.hard,
                                    skip_top=args.skip_top)
    zero_ranks: dict[str, list[int]] = {}
    results: dict[str, object] = {"machine": describe(), "items": len(everything), "held_out": len(cold),
                                  "pairs": len(pairs), "valid_cases": len(valid), "test_cases": len(test),
                                  "argv": sys.argv[1:],
                                  "zero-shot": {**cold_quality(mean_profiles(zv, test), test, cold, everything, zv, zero_ranks),
                                                "valid": cold_quality(mean_profiles(zv, valid), valid, cold, everything, zv),
                                                "encode_seconds": round(enc_s, 1)}}
    if args.anchor == "history":  # the zero-shot encoder under the same profile, for a like-for-like baseline
        zero_text = {name: cold_quality(zero.encode(history_texts(cases, texts)), cases, cold, everything, zv)
                     for name, cases in (("test", test), ("valid", valid))}
        results["zero-shot text profile"] = {**zero_text["test"], "valid": zero_text["valid"]}
    print("zero-shot", {k: v for k, v in results.items() if k.startswith("zero-shot")}, flush=True)
    query = args.tower == "query"
    by_history = args.anchor == "history"
    # what early stopping must embed with the model in training: history items (mean profiles) and,
    # with both towers, the held-out candidates
    needed = sorted((set() if by_history else {h for hist, _ in valid for h in hist[-HISTORY:]})
                    | (set() if query else set(cold)))
    valid_texts = history_texts(valid, texts)

    def early_stop_metric(model: object) -> float:
        encode = model.encode  # type: ignore[attr-defined]
        vecs = dict(zip(needed, encode([texts[e] for e in needed], batch_size=64, normalize_embeddings=True), strict=True))
        profiles = encode(valid_texts, batch_size=64, normalize_embeddings=True) if by_history else mean_profiles(vecs, valid)
        return cold_quality(profiles, valid, cold, cold, zv if query else vecs)["cold_ndcg@10"]

    def score(model_dir: Path) -> dict[str, object]:
        """Test (with paired tests against zero-shot) and validation quality of a trained encoder."""
        tuned = TextEncoder(EncoderConfig(model=str(model_dir), cache_dir=CACHE, progress=False, threads=args.threads))
        t0 = time.perf_counter()
        if not query:  # the tuned model embeds the candidates (and the history items) too
            hist_items = everything
        elif by_history:  # profiles are history texts; candidates keep their zero-shot vectors
            hist_items = []
        else:
            hist_items = sorted({h for hist, _ in test + valid for h in hist[-HISTORY:]})
        tv = dict(zip(hist_items, tuned.encode([texts[e] for e in hist_items]), strict=True)) if hist_items else {}
        cands = zv if query else tv
        prof = {name: tuned.encode(history_texts(cases, texts)) if by_history else mean_profiles(tv, cases)
                for name, cases in (("test", test), ("valid", valid))}
        tuned_ranks: dict[str, list[int]] = {}
        quality: dict[str, object] = dict(cold_quality(prof["test"], test, cold, everything, cands, tuned_ranks))
        if not by_history:  # the like-for-like baseline of history anchors is the text profile
            quality["paired_vs_zero_shot"] = paired_tests(zero_ranks, tuned_ranks)
        return {**quality, "valid": cold_quality(prof["valid"], valid, cold, everything, cands),
                "tower": args.tower, "anchor": args.anchor, "encode_seconds": round(time.perf_counter() - t0, 1)}

    if args.evaluate:  # score a model trained earlier (same flags for --tower and --anchor)
        results["evaluated"] = {**score(Path(args.evaluate)), "model": args.evaluate}
        print("evaluated", results["evaluated"], flush=True)
        methods = []
    else:
        methods = args.methods.split(",")
    registry = ModelRegistry(ROOT / "var" / "models")
    base = default_model_path()
    for method in methods:
        cfg = FineTuneConfig(method=method, tower=args.tower,  # type: ignore[arg-type]
                             batch_size=args.batch_size, max_steps=args.max_steps, epochs=args.epochs,
                             learning_rate=args.lr_lora if method == "lora" else args.lr_full, eval_every=args.eval_every,
                             patience=3, max_length=args.max_length, seed=0, threads=args.threads,
                             symmetric=args.symmetric,
                             wise_alphas=[float(a) for a in args.wise.split(",") if a])
        out = registry.new_version_dir("encoder-scientific-items")
        res = fine_tune(base, pairs, cfg, out, evaluate=early_stop_metric, item_vectors=zv, log=lambda m, method=method: print(method, m, flush=True))
        print(method, "trained:", {k: v for k, v in res.__dict__.items() if k != "history"}, flush=True)
        results[method] = {**score(out), "train_seconds": res.train_seconds,
                           "train_minutes": round(res.train_seconds / 60, 2), "seconds_with_evaluation": res.seconds,
                           "steps": res.steps, "best_step": res.best_step, "trainable_params": res.trainable_params,
                           "saved_mb": round(res.saved_bytes / 2**20, 2), "version": out.name, "history": res.history,
                           "wise_alpha": res.alpha, "wise_blend": res.blend}
        register_encoder(registry, "encoder-scientific-items", out, base, pairs, res,
                         {"cold_recall@10": results[method]["cold_recall@10"],  # type: ignore[index]
                          "cold_ndcg@10": results[method]["cold_ndcg@10"]})  # type: ignore[index]
        print(method, {k: v for k, v in results[method].items() if k != "history"}, flush=True)  # type: ignore[union-attr]
        Path(args.out).write_text(json.dumps(results, indent=2))
    results["load_average_1min"] = os.getloadavg()[0]
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Dense retrieval on Home Depot dev queries, raw and spelling-corrected, for one encoder.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_dense_spelling.py [--encoder var/models/encoder-homedepot/v0001]
     [--out benchmarks/results/dense-spelling.json]

Protocol: bench_finetune.py's (the same query split, dev queries, catalogue, nDCG@10 with gain =
relevance - 1 and unjudged = 0, Recall@100, exact cosine search over all 54,667 products). The
corrector is the search engine's own: :class:`SpellCorrector` over the catalogue's surface words
plus the *training* queries' words (``SearchEngine.add_past_queries``), so no dev query teaches it.
Each dev query is encoded twice: as typed, and corrected. Queries the corrector leaves alone
score the same both ways; the report lists how many it changed, what they gained, and a paired
bootstrap 95% interval of the mean gain over all dev queries.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_finetune import CACHE, ROOT, dense_quality, load_protocol, spelling_engine  # noqa: E402
from machine import describe  # noqa: E402
from shopsage.text import EncoderConfig, TextEncoder, default_model_path  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoder", default=None, help="a sentence-transformers directory (default: zero-shot MiniLM)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dense-spelling.json"))
    args = ap.parse_args()

    proto = load_protocol()
    engine = spelling_engine(proto)
    fixed, ms = [], []
    for q in proto.dev_q:  # one at a time, as a shopper's query arrives
        t0 = time.perf_counter()
        fixed.append(engine.dense_text(q))
        ms.append((time.perf_counter() - t0) * 1000)
    changed = [i for i, (q, f) in enumerate(zip(proto.dev_q, fixed, strict=True)) if q.casefold() != f.casefold()]
    enc = TextEncoder(EncoderConfig(model=args.encoder or default_model_path(), cache_dir=CACHE, progress=False,
                                    threads=args.threads))
    dv = enc.encode([proto.texts[i] for i in proto.ids])
    raw = dense_quality(enc.encode(proto.dev_q, progress=False), dv, proto.dev_q, proto.ids, proto.gains, per_query=True)
    cor = dense_quality(enc.encode(fixed, progress=False), dv, proto.dev_q, proto.ids, proto.gains, per_query=True)
    diff = np.asarray(cor.pop("ndcg@10 per query")) - np.asarray(raw.pop("ndcg@10 per query"))
    rng = np.random.default_rng(0)  # paired bootstrap over dev queries: 95% interval of the mean gain
    boot = diff[rng.integers(0, len(diff), (2000, len(diff)))].mean(axis=1)
    sub = [proto.dev_q[i] for i in changed]
    sub_raw = dense_quality(enc.encode(sub, progress=False), dv, sub, proto.ids, proto.gains)
    sub_cor = dense_quality(enc.encode([fixed[i] for i in changed], progress=False), dv, sub, proto.ids, proto.gains)
    out = {"machine": describe(), "encoder": args.encoder or "zero-shot all-MiniLM-L6-v2", "dev_queries": len(proto.dev_q),
           "changed_queries": len(changed),
           "correct_ms": {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
                          "p50_changed": float(np.percentile([ms[i] for i in changed], 50))},
           "raw": raw, "corrected": cor,
           "gain": {"ndcg@10": float(diff.mean()), "ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
                    "queries_better": int((diff > 0).sum()), "queries_worse": int((diff < 0).sum())},
           "changed_only": {"raw": sub_raw, "corrected": sub_cor},
           "examples": [[proto.dev_q[i], fixed[i]] for i in changed[:40]]}
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(json.dumps({k: v for k, v in out.items() if k != "examples"}, indent=2))
    for q, f in out["examples"][:25]:
        print(f"  {q!r} -> {f!r}")


if __name__ == "__main__":
    main()

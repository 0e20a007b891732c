"""Dense retrieval on Home Depot dev queries, raw and spelling-corrected, for one encoder.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_dense_spelling.py [--encoder var/models/encoder-homedepot/v0001]
     [--out benchmarks/results/dense-spelling.json]

Protocol: bench_finetune.py's (the same query split, dev queries, catalogue, nDCG@10 with gain =
relevance - 1 and unjudged = 0, Recall@100, exact cosine search over all 54,667 products). The
corrector is the search engine's own: :class:`SpellCorrector` over the catalogue's surface words
plus the *training* queries' words (``SearchEngine.add_past_queries``), so no dev query teaches it.
Each dev query is encoded twice: as typed, and corrected. Queries the corrector leaves alone
score the same both ways; the report lists how many it changed and what they gained.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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
    fixed = [engine.dense_text(q) for q in proto.dev_q]
    changed = [i for i, (q, f) in enumerate(zip(proto.dev_q, fixed, strict=True)) if q.casefold() != f.casefold()]
    enc = TextEncoder(EncoderConfig(model=args.encoder or default_model_path(), cache_dir=CACHE, progress=False,
                                    threads=args.threads))
    dv = enc.encode([proto.texts[i] for i in proto.ids])
    raw = dense_quality(enc.encode(proto.dev_q, progress=False), dv, proto.dev_q, proto.ids, proto.gains)
    cor = dense_quality(enc.encode(fixed, progress=False), dv, proto.dev_q, proto.ids, proto.gains)
    sub = [proto.dev_q[i] for i in changed]
    sub_raw = dense_quality(enc.encode(sub, progress=False), dv, sub, proto.ids, proto.gains)
    sub_cor = dense_quality(enc.encode([fixed[i] for i in changed], progress=False), dv, sub, proto.ids, proto.gains)
    out = {"machine": describe(), "encoder": args.encoder or "zero-shot all-MiniLM-L6-v2", "dev_queries": len(proto.dev_q),
           "changed_queries": len(changed), "raw": raw, "corrected": cor,
           "changed_only": {"raw": sub_raw, "corrected": sub_cor},
           "examples": [[proto.dev_q[i], fixed[i]] for i in changed[:40]]}
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(json.dumps({k: v for k, v in out.items() if k != "examples"}, indent=2))
    for q, f in out["examples"][:25]:
        print(f"  {q!r} -> {f!r}")


if __name__ == "__main__":
    main()

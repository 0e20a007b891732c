"""What serving with the text encoder (`shopsage serve --semantic`) costs, beside the same service without it.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_semantic_serving.py [--calls 1000]
Writes benchmarks/results/semantic-serving.json.

Amazon Scientific (4,385 items) is imported into a fresh SQLite store and pop + item-kNN are trained.
In one process, one after the other: the service without the encoder; with it and an empty
embedding cache (the catalogue is embedded at start); with it again, the cache filled. Then, on
the plain and the warm semantic service, the pipelines' own time (no HTTP) of:
- `similar_items` for random items, twice (the `semantic` generator reads the page's item vector from
  the embedding cache: with the base encoder the catalogue embedding at start filled it; a
  query-tower version encodes each page's item once);
- search for two-word title queries (BM25 answers; the encoder is not used);
- search for queries that match no word (the plain service answers "nothing", the semantic one
  runs the fallback: encode the query, nearest items).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from shopsage.evaluate.load import timed  # noqa: E402
from shopsage.evaluate.load import title_queries as queries  # noqa: E402
from shopsage.evaluate.machine import describe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", ROOT / ".." / "shared" / "data"))
NONSENSE = ["zorbly", "quaxing", "vrellish", "snibbet", "plimfrum", "waskle", "driblet", "kelpor", "mirnosh", "blopt"]
NO_MATCH = [f"{a} {b}" for a in NONSENSE for b in NONSENSE if a != b]  # 90 queries no catalogue word matches


def main() -> None:
    from shopsage.data.importers import get_importer, run_import
    from shopsage.data.stores import open_store
    from shopsage.registry import ModelRegistry
    from shopsage.serving.build import build_missing
    from shopsage.serving.search import SearchRequest
    from shopsage.serving.service import Service, ServiceOptions

    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "semantic-serving.json"))
    args = ap.parse_args()
    rng = random.Random(7)
    out: dict[str, object] = {"machine": describe(), "argv": sys.argv[1:]}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        url = f"sqlite:///{tmp / 'scientific.db'}"
        store = open_store(url)
        run_import(store, get_importer("recbole", str(DATA / "amazon-scientific")))
        build_missing(store, ModelRegistry(tmp / "home" / "models"), ("pop", "itemknn"), say=lambda m: None)
        items = sorted(store.item_ids())
        titles = [r.title or "" for _, r in store.items()]
        store.close()
        qs = queries(titles, 2000, rng)
        pages = rng.sample(items, min(args.calls, len(items)))

        def start(semantic: bool) -> tuple[Service, float]:
            t0 = time.perf_counter()
            svc = Service(ServiceOptions(store_url=url, home=tmp / "home", reload_interval_s=0, build_on_start=False,
                                         semantic=semantic)).start()
            return svc, round(time.perf_counter() - t0, 2)

        plain, out["start_s_plain"] = start(False)
        cold, out["start_s_semantic_empty_cache"] = start(True)
        cold.close()
        warm, out["start_s_semantic_cached"] = start(True)
        print({k: v for k, v in out.items() if k.startswith("start")}, flush=True)
        try:
            for name, svc in (("plain", plain), ("semantic", warm)):
                res: dict[str, object] = {}
                res["similar_items_first_view"] = timed(
                    lambda i, s=svc: s.recommend("similar_items", item=pages[i], n=10), len(pages))
                res["similar_items_again"] = timed(
                    lambda i, s=svc: s.recommend("similar_items", item=pages[i], n=10), len(pages))
                res["search_title_words"] = timed(lambda i, s=svc: s.search(SearchRequest(qs[i % len(qs)])), args.calls, 20)
                res["search_no_word_matches"] = timed(
                    lambda i, s=svc: s.search(SearchRequest(NO_MATCH[i % len(NO_MATCH)])), 300, 20)
                got = svc.search(SearchRequest(NO_MATCH[0]))
                res["no_word_query_results"] = got["total"]
                semantic_share = np.mean([any(r["source"] == "semantic" for r in it["reasons"])
                                          for p in pages[:200] for it in svc.recommend("similar_items", item=p, n=10)["items"]])
                res["similar_items_results_with_a_semantic_reason"] = round(float(semantic_share), 3)
                out[name] = res
                print(name, res, flush=True)
        finally:
            plain.close()
            warm.close()
    ratios = {}
    for key in ("similar_items_first_view", "similar_items_again", "search_title_words"):
        ratios[key + "_p50"] = round(out["semantic"][key]["p50_ms"] / out["plain"][key]["p50_ms"], 2)  # type: ignore[index]
    out["ratio_semantic_to_plain"] = ratios
    out["load_average_1min"] = os.getloadavg()[0]
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(json.dumps(ratios), flush=True)


if __name__ == "__main__":
    main()

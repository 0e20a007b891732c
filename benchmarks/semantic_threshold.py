"""How close (cosine) the nearest product is for real queries and for gibberish: the semantic fallback's threshold.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/semantic_threshold.py

The zero-shot encoder embeds the 54,667 Home Depot products (through the embedding cache) and, for
500 real shopper queries of the judgments (seeded sample), for the 90 made-up word pairs of
bench_semantic_serving.py and for a few odd strings, the cosine of the nearest product. The search
fallback (`semantic_min_similarity` of the search scenario) should keep the first and drop the others.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_semantic_serving import NO_MATCH  # noqa: E402
from shopsage.search.bench_data import read_catalog, read_judgments  # noqa: E402
from shopsage.search.engine import embedding_text  # noqa: E402
from shopsage.text import EncoderConfig, TextEncoder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", ROOT / ".." / "shared" / "data")) / "homedepot"
ODD = ["xqzv", "qwrtp", "lorem ipsum dolor", "asdf ghjk", "blorptastic", "florp", "zzzz", "mxyzptlk"]


def main() -> None:
    rows = read_catalog(DATA / "product_titles.csv")
    enc = TextEncoder(EncoderConfig(cache_dir=str(ROOT / "var" / "cache" / "embeddings"), progress=False))
    items = enc.encode([embedding_text(r) for r in rows])
    queries = sorted({q for q, _, _ in read_judgments(DATA / "train.csv")})
    random.Random(0).shuffle(queries)

    def nearest(texts: list[str]) -> np.ndarray:
        return (enc.encode(texts, progress=False) @ items.T).max(axis=1)

    print("cosine of the nearest product, percentiles 1 / 5 / 25 / 50 / 75 / 95 / 99")
    for name, texts in (("500 real queries", queries[:500]), ("90 made-up word pairs", NO_MATCH), ("8 odd strings", ODD)):
        print(f"{name}: {np.percentile(nearest(texts), [1, 5, 25, 50, 75, 95, 99]).round(3).tolist()}")


if __name__ == "__main__":
    main()

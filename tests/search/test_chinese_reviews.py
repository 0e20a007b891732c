"""Chinese search on real reviews: each category name as the query over all 62,774 reviews.

Marked slow: segmenting the corpus with jieba takes most of a minute on the 2-core machine.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from shopsage.search import LexicalConfig, LexicalIndex

DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
ZIP = DATA / "chinese-reviews" / "online_shopping_10_cats.zip"


@pytest.mark.slow
@pytest.mark.skipif(not ZIP.is_file(), reason=f"{ZIP} is not there (set SHOPSAGE_DATA_DIR)")
def test_category_names_retrieve_their_reviews() -> None:
    with zipfile.ZipFile(ZIP) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".csv"))
        text = zf.read(name).decode("utf-8-sig")
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r.get("review")]
    cats = [r["cat"] for r in rows]
    ix = LexicalIndex(LexicalConfig(fields={"title": 1.0}, analyzer="chinese", typo_tolerance=False))
    ix.add(np.arange(len(rows)), [{"title": r["review"]} for r in rows])
    names = sorted(set(cats))
    assert len(names) == 10
    res = ix.search(names, 10)
    hits = {c: sum(cats[i] == c for i in res.row(b)[0]) for b, c in enumerate(names)}
    good = [c for c, h in hits.items() if h >= 8]
    assert len(good) >= 8, hits
    assert Counter(cats).most_common(1)[0][1] == 10_000

"""The sequential benchmarks' data: real files imported once into a SQLite store, then split.

- ``beauty``: ``amazon-seq`` (Amazon Beauty 5-core), leave-one-out, seen items filtered;
- ``scientific``: ``recbole`` (Amazon Industrial & Scientific), leave-one-out, seen items filtered;
- ``diginetica``: ``sessions``, each line of test_prefixes.tsv (already every prefix of the test
  sessions) predicts its next click (``session_prefix`` without expansion), seen items kept.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shopsage.data.importers import get_importer, run_import
from shopsage.data.splits import SplitData, leave_one_out, session_prefix
from shopsage.data.stores import open_store
from shopsage.settings import get_settings

DATA = get_settings().data_dir  # $SHOPSAGE_DATA_DIR, else ../shared/data from the repository root
CACHE = Path(os.environ.get("SHOPSAGE_BENCH_CACHE", Path(tempfile.gettempdir()) / "shopsage-bench-seq"))

SETS = {
    "beauty": ("amazon-seq", "amazon-beauty", "leave-one-out", True, (10,)),
    "scientific": ("recbole", "amazon-scientific", "leave-one-out", True, (10,)),
    "diginetica": ("sessions", "diginetica", "session-prefix", False, (20,)),
}


@dataclass
class BenchData:
    name: str
    fmt: str
    split: SplitData
    item_text: list[str]
    filter_seen: bool
    ks: tuple[int, ...]


def load(name: str) -> BenchData:
    fmt, folder, protocol, filter_seen, ks = SETS[name]
    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / f"{name}.db"
    fresh = not db.exists()
    store = open_store(f"sqlite:///{db}")
    try:
        if fresh:
            run_import(store, get_importer(fmt, str(DATA / folder)))
        split = leave_one_out(store) if protocol == "leave-one-out" else session_prefix(store)
        titles = {row.ext_id: (row.title or "") for _, row in store.items()}
    finally:
        store.close()
    text = [titles.get(ext, "") for ext in split.items.ids]
    return BenchData(name, fmt, split, text, filter_seen, ks)

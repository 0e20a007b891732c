"""Import a small shop export into an embedded store and split it for training.

Run: .venv/bin/python examples/data_import_and_split.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from shopsage.data.importers import get_importer, run_import
from shopsage.data.splits import leave_one_out
from shopsage.data.stores import open_store

MAPPING = """kind = "events"
timestamp_unit = "iso"
[columns]
user = "customer"
item = "sku"
type = "action"
timestamp = "at"
"""

EVENTS = """customer,sku,action,at
alice,shoe-1,view,2024-05-01T10:00:00Z
alice,shoe-2,view,2024-05-01T10:01:00Z
alice,sock-9,purchase,2024-05-01T10:05:00Z
alice,hat-3,view,2024-05-02T09:00:00Z
bob,shoe-1,view,2024-05-01T11:00:00Z
bob,shoe-1,teleport,2024-05-01T11:01:00Z
"""

with tempfile.TemporaryDirectory() as tmp:
    folder = Path(tmp)
    (folder / "mapping.toml").write_text(MAPPING)
    (folder / "events.csv").write_text(EVENTS)
    store = open_store(f"sqlite:///{folder / 'shop.db'}")
    summary = run_import(store, get_importer("table", str(folder / "events.csv"), mapping=folder / "mapping.toml"))
    print(f"read {summary.read} = accepted {summary.accepted} + already present {summary.already_present}"
          f" + quarantined {summary.quarantined}")
    for row in store.quarantined():
        print(f"quarantined line {row.key.line}: {row.reason}")
    split = leave_one_out(store)
    alice = split.owners.index("alice")
    print("alice trains on", split.items.externals(split.train[alice]))
    case = list(split.test.owner).index(alice)
    print("and is tested on", split.items.externals(split.test.targets[case]))
    assert summary.quarantined == 1 and split.items.externals(split.test.targets[case]) == ["hat-3"]

"""``shopsage segments report`` on a store with timed events: counts, model and plot written."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shopsage.cli.main import app
from shopsage.data.rows import EventBlock, EventRow, ItemRow, RowKey
from shopsage.data.stores import open_store
from shopsage.testing.segment_shop import catalogue, timed_events


def test_segments_report_writes_counts_model_and_plot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    store = open_store(url)
    store.write_items([ItemRow(ext, f"thing {ext}", None, info.category_path, None, info.price)
                       for ext, info in catalogue().items()])
    block = EventBlock()
    for i, e in enumerate(timed_events(users=60)):
        block.append(EventRow(RowKey("t", i, 0), e.type, e.item, e.user, None, None, e.value, e.ts, None))
    store.write_events(block)
    store.close()
    res = CliRunner().invoke(app, ["segments", "report", "--store", url, "--out", str(tmp_path / "seg")])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "seg" / "segments.json").read_text())
    assert rep["shoppers"] == 60 and sum(rep["counts"]["lifecycle"].values()) == 60
    assert rep["model"]["activity"] == "purchase" and rep["thresholds_days"]["lapsed_after"] > 10
    assert sorted(rep["interest_groups"].values()) == ["Garden", "Kitchen", "Lab", "Tools"]
    assert (tmp_path / "seg" / "segments.png").stat().st_size > 5000
    assert "lapsed after" in res.output and "interest_" in res.output

"""Report: the protocol's published metrics lead the table; refusals are rows with their message."""

from __future__ import annotations

import json
from pathlib import Path

from shopsage.evaluate.report import headline_metrics, markdown_table, write_report


def _report(protocol: str) -> dict:
    ok = {"status": "ok", "hr@10": 0.5, "ndcg@10": 0.25, "hr@20": 0.75, "mrr@20": 0.125, "ndcg@20": 0.3,
          "mrr@10": 0.1, "auc": 0.9, "coverage@10": 0.2, "train_seconds": 1.234, "peak_rss_mb": 321.0,
          "params": {"reg": 10.0}, "tuning": {"metric": "valid/mrr@20"}}
    refused = {"status": "refused", "message": "EASE needs a dense 43,097 x 43,097 | matrix"}
    return {"dataset": "d", "format": "sessions", "protocol": protocol, "ranking": "full (all items)",
            "filter_seen": False, "n_items": 43097, "n_train_sequences": 10, "n_test_cases": 5,
            "tune_metric": "valid/mrr@20", "tune_trials": 3, "models": {"itemknn": ok, "ease": refused}}


def test_columns_follow_the_protocol() -> None:
    assert headline_metrics(_report("session-prefix"))[:4] == ["hr@20", "mrr@20", "hr@10", "ndcg@10"]
    assert headline_metrics(_report("leave-one-out"))[:3] == ["hr@10", "ndcg@10", "hr@20"]
    assert headline_metrics(_report("leave-one-out"))[-2:] == ["auc", "coverage@10"]


def test_table_rows_and_files(tmp_path: Path) -> None:
    md = markdown_table(_report("session-prefix"))
    lines = md.splitlines()
    assert lines[2] == "| model | hr@20 | mrr@20 | hr@10 | ndcg@10 | auc | coverage@10 | train s | peak MB | status |"
    assert lines[4] == "| itemknn | 0.7500 | 0.1250 | 0.5000 | 0.2500 | 0.9000 | 0.2000 | 1.2 | 321 | ok |"
    assert lines[5].startswith("| ease |") and "refused: EASE needs a dense 43,097 x 43,097 / matrix |" in lines[5]
    assert '- itemknn: `{"reg": 10.0}`' in md
    paths = write_report(_report("session-prefix"), tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.png")
    assert json.loads(paths["json"].read_text())["models"]["ease"]["status"] == "refused"
    assert paths["md"].read_text() == md and paths["plot"].read_bytes()[:4] == b"\x89PNG"

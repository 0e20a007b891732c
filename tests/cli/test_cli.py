"""The CLI: thin commands, clear errors for bad paths and formats."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from shopsage.cli.main import app

runner = CliRunner()


def _shop(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "item_titles.txt").write_text("A red shoe\nB blue hat\n", encoding="utf-8")
    (folder / "user_sequence.txt").write_text("u1 A B\nu2\nu3 B A B\n", encoding="utf-8")
    return folder


def test_import_then_stats(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    res = runner.invoke(app, ["import", "amazon-seq", str(_shop(tmp_path)), "--store", url, "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert (summary["read"], summary["accepted"], summary["quarantined"]) == (8, 7, 1)
    res = runner.invoke(app, ["stats", "--store", url, "--json"])
    stats = json.loads(res.output)
    assert (stats["users"], stats["items"], stats["events"], stats["quarantined"]) == (2, 2, 5, 1)
    res = runner.invoke(app, ["quarantine", "--store", url])
    assert "has no items" in res.output and "user_sequence.txt" in res.output
    res = runner.invoke(app, ["import", "amazon-seq", str(tmp_path / "shop"),
                              "--store", url])
    assert "already present 7" in res.output and "quarantined 1" in res.output


def test_bad_format_and_path(tmp_path: Path) -> None:
    res = runner.invoke(app, ["import", "excel", str(tmp_path), "--store", f"sqlite:///{tmp_path / 's.db'}"])
    assert res.exit_code == 2 and "unknown format 'excel'" in res.output and "amazon-seq" in res.output
    res = runner.invoke(app, ["import", "amazon-seq", str(tmp_path / "nope"), "--store", f"sqlite:///{tmp_path / 's.db'}"])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = runner.invoke(app, ["import", "table", str(tmp_path), "--store", f"sqlite:///{tmp_path / 's.db'}"])
    assert res.exit_code == 2 and "--mapping" in res.output
    res = runner.invoke(app, ["stats", "--store", "oracle://x"])
    assert res.exit_code == 2 and "unknown store URL" in res.output


def test_strict_reports_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["import", "amazon-seq", str(_shop(tmp_path)), "--store", f"sqlite:///{tmp_path / 's.db'}", "--strict"])
    assert res.exit_code == 2 and "line 2" in res.output


def test_table_jsonl_and_parquet(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('kind = "events"\ntimestamp_unit = "iso"\n[columns]\nsession = "sid"\nitem = "sku"\n'
                       'timestamp = "at"\n[constants]\ntype = "view"\n', encoding="utf-8")
    rows = [{"sid": "s1", "sku": "A", "at": "2024-05-01T10:00:00Z"}, {"sid": "s1", "sku": "B", "at": "not a time"},
            {"sid": "s2", "sku": "A", "at": "2024-05-01T11:00:00+02:00"}]
    (tmp_path / "ev.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n", encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "ev.parquet")
    for name, quarantined in (("ev.jsonl", 2), ("ev.parquet", 1)):
        url = f"sqlite:///{tmp_path / (name + '.db')}"
        res = runner.invoke(app, ["import", "table", str(tmp_path / name), "--mapping", str(mapping), "--store", url, "--json"])
        assert res.exit_code == 0, res.output
        summary = json.loads(res.output)
        assert (summary["accepted"], summary["quarantined"]) == (2, quarantined), name
        stats = json.loads(runner.invoke(app, ["stats", "--store", url, "--json"]).output)
        assert stats["events_by_type"]["view"] == 2 and stats["sessions"] == 2


def test_config_file_sets_import_defaults(tmp_path: Path) -> None:
    cfg = tmp_path / "shopsage.toml"
    url = f"sqlite:///{tmp_path / 'cfg.db'}"
    cfg.write_text(f'[store]\nurl = "{url}"\n[import]\nstrict = true\n', encoding="utf-8")
    res = runner.invoke(app, ["--config", str(cfg), "import", "amazon-seq", str(_shop(tmp_path))])
    assert res.exit_code == 2 and "line 2" in res.output  # strict from the file, store from the file
    res = runner.invoke(app, ["--config", str(cfg), "import", "amazon-seq", str(tmp_path / "shop"), "--no-strict", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["quarantined"] == 1
    res = runner.invoke(app, ["--config", str(tmp_path / "missing.toml"), "stats"])
    assert res.exit_code == 2 and "cannot read the configuration" in res.output

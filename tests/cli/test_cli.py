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


def test_read_only_commands_refuse_a_store_that_does_not_exist(tmp_path: Path) -> None:
    typo = tmp_path / "typo.db"
    for command in ("stats", "quarantine"):
        res = runner.invoke(app, [command, "--store", f"sqlite:///{typo}"])
        assert res.exit_code == 2, res.output
        assert f"no store at {typo}: import data first with `shopsage import" in res.output and "check the path" in res.output
    res = runner.invoke(app, ["import", "amazon-seq", str(tmp_path / "nope"), "--store", f"sqlite:///{typo}"])
    assert res.exit_code == 2 and "does not exist" in res.output
    assert not typo.exists()  # neither a read nor a failed import leaves an empty store behind


def _demo_data(root: Path) -> Path:
    """Tiny stand-ins of the demo data sets, in their real formats (UniSRec text layout included)."""
    sci = root / "amazon-scientific"
    sci.mkdir(parents=True)
    texts = {"A": "Red running shoe. Shop Shoes Running. Acme. ", "B": "Blue hat. Shop Hats. Hatco. ",
             "C": "Wool socks. Shop Socks. Acme. ", "D": "Rain coat. Shop Coats Rain. Wetco. "}
    (sci / "Tiny.text").write_text("item_id:token\ttext:token_seq\n" + "".join(f"{k}\t{v}\n" for k, v in texts.items()),
                                   encoding="utf-8")
    seqs = {"u1": "A B C D", "u2": "B C D A", "u3": "C D A B", "u4": "A C B D"}
    head = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
    train = [f"{u}\t{' '.join(s.split()[:n])}\t{s.split()[n]}" for u, s in seqs.items() for n in (1,)]
    (sci / "Tiny.train.inter").write_text(head + "\n".join(train) + "\n", encoding="utf-8")
    (sci / "Tiny.valid.inter").write_text(head + "".join(f"{u}\t{' '.join(s.split()[:2])}\t{s.split()[2]}\n"
                                                         for u, s in seqs.items()), encoding="utf-8")
    (sci / "Tiny.test.inter").write_text(head + "".join(f"{u}\t{' '.join(s.split()[:3])}\t{s.split()[3]}\n"
                                                        for u, s in seqs.items()), encoding="utf-8")
    hd = root / "homedepot"
    hd.mkdir()
    (hd / "product_titles.csv").write_text('"product_uid","product_title"\r\n1,"Angle bracket"\r\n', encoding="latin-1")
    (hd / "train.csv").write_text("id,product_uid,product_title,search_term,relevance\n2,1,Angle bracket,bracket,3\n",
                                  encoding="latin-1")
    return root


def test_demo_home_is_the_one_every_command_reads(tmp_path: Path) -> None:
    """`shopsage demo --home H` writes H/shop.db and H/models; `models list`, `stats` and `import` with
    SHOPSAGE_HOME=H (no --store, no --root) find them; a second demo data set is refused into that home."""
    data, home = _demo_data(tmp_path / "data"), tmp_path / "home"
    res = runner.invoke(app, ["demo", "--data", str(data), "--home", str(home), "--no-serve"])
    assert res.exit_code == 0, res.output
    assert "read 20 = accepted 20" in res.output and (home / "shop.db").is_file() and (home / "models").is_dir()
    env = {"SHOPSAGE_HOME": str(home), "SHOPSAGE_STORE": ""}
    listed = runner.invoke(app, ["models", "list"], env=env)
    assert listed.exit_code == 0 and "itemknn" in listed.output and "pop" in listed.output, listed.output
    stats = json.loads(runner.invoke(app, ["stats", "--json"], env=env).output)
    assert (stats["items"], stats["users"], stats["events"]) == (4, 4, 16)
    res = runner.invoke(app, ["demo", "--data", str(data), "--home", str(home), "--no-serve"])
    assert res.exit_code == 0 and "already present 20" in res.output and "none (already in the registry)" in res.output
    res = runner.invoke(app, ["demo", "--dataset", "homedepot", "--data", str(data), "--home", str(home), "--no-serve"])
    assert res.exit_code == 2 and "already holds another demo data set" in res.output
    assert f"--home {home / 'homedepot'}" in res.output


def test_import_and_stats_default_to_the_store_of_the_home(tmp_path: Path) -> None:
    env = {"SHOPSAGE_HOME": str(tmp_path / "h"), "SHOPSAGE_STORE": ""}
    res = runner.invoke(app, ["import", "amazon-seq", str(_shop(tmp_path)), "--json"], env=env)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "h" / "shop.db").is_file()
    assert json.loads(runner.invoke(app, ["stats", "--json"], env=env).output)["items"] == 2

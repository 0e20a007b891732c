"""``shopsage import`` takes every per-row limit of ``ImportLimits`` as an option: a row within the
default limit is stored, the same row with the limit lowered on the command line is quarantined with
a reason naming the limit, and a bad value is refused with a message before anything is read."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopsage.cli.main import app
from shopsage.data.importers import DEFAULT_LIMITS
from shopsage.data.stores import open_store

runner = CliRunner()

_GOOD = {"query_id": "q1", "user_query": "red shoe", "client_id": "c1", "timestamp": "2026-12-01T10:00:00Z",
         "query_response_hit_ids": ["A", "B"]}


def _ubi(folder: Path, target: dict) -> tuple[str, Path, list[str]]:
    folder.mkdir()
    lines = [_GOOD, {**_GOOD, "query_id": "q2", **target}]
    (folder / "ubi_queries.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines), encoding="utf-8")
    return "ubi", folder, []


def _items_csv(folder: Path) -> tuple[str, Path, list[str]]:
    """A catalogue whose second item's description spans three lines inside quotes."""
    folder.mkdir()
    (folder / "map.toml").write_text('kind = "items"\n[columns]\nid = "id"\ntitle = "title"\n'
                                     'description = "description"\n', encoding="utf-8")
    (folder / "items.csv").write_text('id,title,description\nA,red shoe,leather\nB,blue hat,"wool\nlined\nwarm"\n',
                                      encoding="utf-8")
    return "table", folder / "items.csv", ["--mapping", str(folder / "map.toml")]


def _ratings(folder: Path) -> tuple[str, Path, list[str]]:
    folder.mkdir()
    (folder / "x.inter").write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                    "u1\ti1\t4\t1400000000\nu1\ti2\t7\t1400000001\n", encoding="utf-8")
    return "recbole", folder, []


CASES: dict[str, tuple[str, Callable[[Path], tuple[str, Path, list[str]]], str]] = {
    # option value, the file (its second row within the default, beyond the lowered limit), reason
    "max_line_bytes": ("150", lambda f: _ubi(f, {"user_query": "x" * 200}), "ImportLimits.max_line_bytes"),
    "max_field_chars": ("100", lambda f: _ubi(f, {"user_query": "x" * 200}), "ImportLimits.max_field_chars"),
    "max_depth": ("3", lambda f: _ubi(f, {"query_attributes": {"note": [[["deep"]]]}}), "ImportLimits.max_depth"),
    "max_number_chars": ("8", lambda f: _ubi(f, {"query_attributes": {"propensities": [0.123456789, 0.5]}}),
                         "ImportLimits.max_number_chars"),
    "max_record_lines": ("2", _items_csv, "ImportLimits.max_record_lines is 2"),
    "max_rating": ("5", _ratings, "rating 7 is outside 0..5"),
    "min_rating": ("5", _ratings, "rating 4 is outside 5..10"),
}


def _import(tmp_path: Path, name: str, make: Callable[[Path], tuple[str, Path, list[str]]],
            extra: list[str]) -> tuple[dict, dict[int, str]]:
    fmt, path, args = make(tmp_path / name)
    url = f"sqlite:///{tmp_path / name}.db"
    res = runner.invoke(app, ["import", fmt, str(path), "--store", url, "--home", str(tmp_path / "home"), "--json",
                              *args, *extra])
    assert res.exit_code == 0, res.output
    store = open_store(url)
    reasons = {q.key.line: q.reason for q in store.quarantined()}
    store.close()
    return json.loads(res.output), reasons


def test_every_limit_has_an_option() -> None:
    res = runner.invoke(app, ["import", "--help"], env={"COLUMNS": "200"})
    for f in fields(DEFAULT_LIMITS):
        assert "--" + f.name.replace("_", "-") in res.output, f.name


@pytest.mark.parametrize("limit", sorted(CASES))
def test_a_limit_lowered_on_the_command_line_quarantines_the_row_naming_the_limit(tmp_path: Path, limit: str) -> None:
    value, make, reason = CASES[limit]
    summary, reasons = _import(tmp_path, "default", make, [])
    assert summary["quarantined"] == 0, reasons
    lowered, reasons = _import(tmp_path, "lowered", make, ["--" + limit.replace("_", "-"), value])
    assert lowered["quarantined"] >= 1 and lowered["accepted"] < summary["accepted"], (lowered, reasons)
    assert reason in reasons[min(reasons)], reasons  # a CSV record's later lines are then read as rows of their own


def test_give_up_after_stops_a_file_whose_first_rows_are_all_refused(tmp_path: Path) -> None:
    folder = tmp_path / "u"
    folder.mkdir()
    (folder / "ubi_queries.jsonl").write_text("".join(json.dumps({**_GOOD, "query_id": f"q{n}", "timestamp": "noon"})
                                                      + "\n" for n in range(3)), encoding="utf-8")
    base = ["import", "ubi", str(folder), "--home", str(tmp_path / "home")]
    res = runner.invoke(app, [*base, "--store", f"sqlite:///{tmp_path / 'a.db'}", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["quarantined"] == 3, res.output
    res = runner.invoke(app, [*base, "--store", f"sqlite:///{tmp_path / 'b.db'}", "--give-up-after", "2"])
    assert res.exit_code == 2 and "the first 2 rows" in res.output and "were all refused" in res.output, res.output


@pytest.mark.parametrize(("args", "message"), [
    (["--max-field-chars", "0"], "Input should be greater than or equal to 1"),
    (["--max-line-bytes", "many"], "valid integer"),
    (["--max-depth", "1000"], "ImportLimits.max_depth must be at most 256"),
    (["--min-rating", "5", "--max-rating", "1"], "ImportLimits.min_rating (5.0) is above max_rating (1.0)"),
    (["--max-rating", "inf"], "ImportLimits.max_rating must be a finite number"),
])
def test_bad_limits_are_refused_before_reading(tmp_path: Path, args: list[str], message: str) -> None:
    fmt, path, extra = _ubi(tmp_path / "u", {})
    url = f"sqlite:///{tmp_path / 's.db'}"
    res = runner.invoke(app, ["import", fmt, str(path), "--store", url, "--home", str(tmp_path / "home"), *args],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output
    assert not (tmp_path / "s.db").exists()

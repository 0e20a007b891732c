"""Hypothesis fuzz of every importer with mutated excerpts of the real data sets.

Each example damages one file of a ~30-line real excerpt (see ``shopsage.testing.import_fuzz``;
UBI: Open Bandit's logged recommendations written by the UBI export) and checks: no crash (at most one clear ImportFormatError, only for a damaged header, archive or
document), every untouched line stores exactly what a clean import stores for it, every line of
the damaged file is stored or quarantined, and ``read == accepted + already present + quarantined``.
SQLite for every importer; PostgreSQL for the NUL and invalid UTF-8 cases (text there cannot hold NUL).
"""

from __future__ import annotations

import json
import random
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsage.data.stores import open_store
from shopsage.testing.import_fuzz import Case, FuzzFailure, Mutation, cases, check, mutate, run_case

NAMES = ["amazon-seq", "s3rec", "recbole", "homedepot", "sessions", "yoochoose", "reviews-zh", "table-csv",
         "table-csv-gz", "table-jsonl", "table-parquet", "ubi"]


@pytest.fixture(scope="module")
def excerpts(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Case, object, Path] | str]:
    """Per case: (case, its clean import's store, the clean folder), or why it is skipped."""
    found, missing = cases(data_dir)
    out: dict[str, tuple[Case, object, Path] | str] = dict(missing)
    root = tmp_path_factory.mktemp("clean")
    for name, case in found.items():
        folder = root / name / "data"
        store, outcome = run_case(case, folder, f"sqlite:///{root / name / 'clean.db'}")
        assert outcome.error is None and outcome.summary is not None and outcome.summary.accepted, (name, outcome)
        out[name] = (case, store, folder)
    return out


def _case(excerpts: dict, name: str) -> tuple[Case, object, Path]:
    got = excerpts[name]
    if isinstance(got, str):
        pytest.skip(f"data set for {name} unavailable: {got}")
    return got


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=6)
@given(seed=st.integers(0, 2**32 - 1))
def test_fuzzed_file_keeps_every_good_row(excerpts: dict, name: str, seed: int) -> None:
    case, clean, clean_folder = _case(excerpts, name)
    mutation = mutate(case, random.Random(seed))
    with tempfile.TemporaryDirectory() as tmp:
        check(case, mutation, clean, clean_folder, Path(tmp) / "data", f"sqlite:///{tmp}/fuzz.db")


def _forced(case: Case, rng: random.Random, what: bytes) -> Mutation:
    """``what`` inserted into one data line of a line-oriented file."""
    spec = next(s for s in case.specs if s.kind != "whole")
    lines = case.files[spec.name].split(b"\n")
    i = rng.randrange(spec.header, len(lines) - 1)
    at = rng.randint(0, len(lines[i]))
    lines[i] = lines[i][:at] + what + lines[i][at:]
    return Mutation(spec.name, b"\n".join(lines), {i + 1}, ["forced"])


@pytest.mark.parametrize("name", ["sessions", "homedepot", "table-jsonl", "reviews-zh", "recbole", "ubi"])
@settings(max_examples=3)
@given(seed=st.integers(0, 2**32 - 1), what=st.sampled_from([b"\x00", b"\xff\xfe", b"a\x00\xc3"]))
def test_nul_and_invalid_utf8_on_postgresql(excerpts: dict, pg_url: str, name: str, seed: int, what: bytes) -> None:
    case, clean, clean_folder = _case(excerpts, name)
    url = pg_url.replace("?schema=", "?schema=f") + uuid.uuid4().hex[:6]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            outcome = check(case, _forced(case, random.Random(seed), what), clean, clean_folder, Path(tmp) / "data", url)
        assert outcome.summary is not None
        assert outcome.summary.quarantined >= 1 or (b"\x00" not in what and case.fmt == "homedepot")  # ISO-8859-1
    finally:
        store = open_store(url)
        store.drop_schema()  # type: ignore[attr-defined]
        store.close()


def test_the_checks_catch_a_repeated_ubi_line_that_is_stored_again(excerpts: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The duplicate promise is checked, not assumed: with the UBI importer's duplicate rule switched
    off, an event line repeated at the end of the file is a failure."""
    import shopsage.data.importers.ubi as ubi

    case, clean, clean_folder = _case(excerpts, "ubi")
    lines = case.files["ubi_events.jsonl"].split(b"\n")[:-1]
    mutation = Mutation("ubi_events.jsonl", b"\n".join([*lines, lines[3]]) + b"\n", {len(lines) + 1}, ["duplicate"])
    with tempfile.TemporaryDirectory() as tmp:
        outcome = check(case, mutation, clean, clean_folder, Path(tmp) / "a" / "data", f"sqlite:///{tmp}/a.db")
        assert outcome.summary is not None and outcome.summary.quarantined == 1
        monkeypatch.setattr(ubi, "_first_time", lambda parsed, seen, line: parsed[1])
        with pytest.raises(FuzzFailure, match=f"line {len(lines) + 1} repeats stored line 4"):
            check(case, mutation, clean, clean_folder, Path(tmp) / "b" / "data", f"sqlite:///{tmp}/b.db")


def test_the_wrong_type_mutator_hits_the_time_fields_often() -> None:
    """``true`` read as second 1 of 1970 hid in UBI and table JSON Lines: a time field is swapped for a
    value of another type in about a third of the mutations of a line that has one (a uniform pick among
    this UBI line's ten slots would hit it one time in ten)."""
    from shopsage.testing.import_fuzz import TIME_KEYS, _wrong_type

    line = (b'{"action_name":"click","query_id":"q1","client_id":"c1","timestamp":"2026-12-01T10:00:05Z",'
            b'"event_attributes":{"object":{"object_id":"B"},"position":{"ordinal":2}}}')
    rng = random.Random(5)
    changed = []
    for _ in range(600):
        doc = json.loads(_wrong_type(rng, line))
        changed.append(isinstance(doc, dict) and doc.get("timestamp") != "2026-12-01T10:00:05Z")
    assert "timestamp" in TIME_KEYS and 0.3 < sum(changed) / len(changed) < 0.5

"""kill -9 in the middle of an import: every acknowledged batch is present and intact."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopsage.data.importers import get_importer, run_import
from shopsage.data.importers.base import source_name
from shopsage.data.stores import open_store

N_LINES = 40_000


def _write_shop(folder: Path) -> list[list[str]]:
    rng = random.Random(7)
    folder.mkdir()
    (folder / "item_titles.txt").write_text("".join(f"I{i} item {i}\n" for i in range(500)), encoding="utf-8")
    lines = [[f"U{n}"] + [f"I{rng.randrange(500)}" for _ in range(rng.randrange(3, 12))] for n in range(N_LINES)]
    (folder / "user_sequence.txt").write_text("".join(" ".join(ln) + "\n" for ln in lines), encoding="utf-8")
    return lines


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_loses_no_acknowledged_batch(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    lines = _write_shop(tmp_path / "shop")
    ack = tmp_path / "ack.jsonl"
    cmd = [sys.executable, "-m", "shopsage.cli.main", "import", "amazon-seq", str(tmp_path / "shop"),
           "--store", url, "--batch-size", "2000", "--ack-log", str(ack)]
    # raw ids: the rows are compared with the file's (pseudonymised imports are tested in tests/privacy)
    env = {**os.environ, "SHOPSAGE_RAW_IDS": "1", "SHOPSAGE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if ack.exists() and len(ack.read_text().splitlines()) >= 5:
            break
        time.sleep(0.005)
    assert proc.poll() is None, f"the import ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    acks = [json.loads(x) for x in ack.read_text().splitlines()]
    last = acks[-1]
    assert last["source"] == "shop/user_sequence.txt"
    store = open_store(url)
    if backend == "sqlite":
        assert store.integrity_check() == "ok"
    src = source_name(tmp_path / "shop" / "user_sequence.txt")
    acked_lines = range(1, last["line"] + 1)
    stored = store.event_rows(src, list(acked_lines))
    by_line: dict[int, list[tuple[str, str, int]]] = {}
    for e in stored:
        by_line.setdefault(e.key.line, []).append((e.user, e.item, e.ordinal))
    for n in acked_lines:  # every acknowledged row is there, exactly as in the file
        user, *items = lines[n - 1]
        assert by_line.get(n) == [(user, item, p) for p, item in enumerate(items)], n
    # resuming the import completes it without duplicates
    summary = run_import(store, get_importer("amazon-seq", str(tmp_path / "shop")))
    total = sum(len(ln) - 1 for ln in lines)
    assert summary.quarantined == 0
    assert store.stats().events == total
    assert summary.already_present >= sum(len(lines[n - 1]) - 1 for n in acked_lines)
    store.close()

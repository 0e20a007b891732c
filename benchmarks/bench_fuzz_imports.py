"""The import fuzz goal of issue 23: 0 crashes and 0 lost good rows over at least 10,000 fuzzed files.

    .venv/bin/python benchmarks/bench_fuzz_imports.py --files 10000 [--seed 0] [--pg-share 0.05]
        [--postgres postgresql://127.0.0.1:5432/test] [--out benchmarks/results/fuzz-imports.json]

Every file is a ~30-line excerpt of a real data set under ``../shared/data`` (or $SHOPSAGE_DATA_DIR)
damaged by the seeded mutators of ``shopsage.testing.import_fuzz`` (the same ones the test suite
uses), round-robin over every importer. Each is imported into a fresh SQLite store (a share into a
fresh PostgreSQL schema) and checked against the clean import of the same excerpt:

- crash: any exception other than one ``ImportFormatError`` for a damaged whole-file structure;
- lost: an untouched line whose rows differ from the clean import's, a line neither stored nor
  quarantined, a NUL / undecodable / over-limit line not quarantined, or an unbalanced summary.

Writes per importer: files, crashes, lost, clear errors (ImportFormatError), rows quarantined,
seconds; plus the first failures with their file seeds (replay one with ``--only NAME --replay SEED``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import traceback
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from shopsage.evaluate.machine import describe
from shopsage.testing.import_fuzz import FuzzFailure, cases, check, mutate, run_case

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", str(ROOT.parent / "shared" / "data")))


def _pg_available(url: str) -> bool:
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        return False


def _drop(url: str) -> None:
    from shopsage.data.stores import open_store

    store = open_store(url)
    store.drop_schema()  # type: ignore[attr-defined]
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000, help="Fuzzed files in all (round-robin over the importers).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pg-share", type=float, default=0.05, help="Share of the files imported into PostgreSQL.")
    ap.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    ap.add_argument("--only", default=None, help="Comma-separated case names (default: all present).")
    ap.add_argument("--replay", type=int, default=None, help="Import only the file of this seed (from a failure).")
    ap.add_argument("--lines", type=int, default=30, help="Lines of each real file in an excerpt.")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fuzz-imports.json")
    args = ap.parse_args()

    found, missing = cases(DATA, args.lines)
    if args.only:
        found = {k: v for k, v in found.items() if k in args.only.split(",")}
    pg = args.pg_share > 0 and _pg_available(args.postgres)
    if args.replay is not None:
        args.files = len(found)
    names = sorted(found)
    stats: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    failures: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clean = {}
        for name in names:
            store, outcome = run_case(found[name], root / "clean" / name / "data", f"sqlite:///{root / 'clean' / name}.db")
            assert outcome.error is None, (name, outcome.error)
            clean[name] = store
        master = random.Random(args.seed)
        for n in range(args.files):
            name = names[n % len(names)]
            seed = master.getrandbits(48) if args.replay is None else args.replay
            on_pg = pg and master.random() < args.pg_share
            url = f"{args.postgres}?schema=fz_{uuid.uuid4().hex[:10]}" if on_pg else f"sqlite:///{root}/f{n}.db"
            row = stats[name]
            row["files"] += 1
            row["postgresql_files"] += on_pg
            t0 = time.perf_counter()
            try:
                mutation = mutate(found[name], random.Random(seed))
                outcome = check(found[name], mutation, clean[name], root / "clean" / name / "data",
                                root / f"m{n}" / "data", url)
                if outcome.error is not None:
                    row["clear_errors"] += 1
                else:
                    assert outcome.summary is not None
                    row["rows_read"] += outcome.summary.read
                    row["rows_quarantined"] += outcome.summary.quarantined
            except FuzzFailure as exc:
                row["lost"] += 1
                failures.append({"case": name, "seed": seed, "postgresql": on_pg, "kind": "lost", "what": str(exc)[:2000]})
            except Exception as exc:  # noqa: BLE001 - a crash is what this benchmark counts
                row["crashes"] += 1
                failures.append({"case": name, "seed": seed, "postgresql": on_pg, "kind": "crash",
                                 "what": "".join(traceback.format_exception(exc))[-3000:]})
            finally:
                row["seconds"] += time.perf_counter() - t0
                if on_pg:
                    _drop(url)
                for p in (root / f"f{n}.db", root / f"f{n}.db-wal", root / f"f{n}.db-shm"):
                    p.unlink(missing_ok=True)
            if (n + 1) % 500 == 0:
                print(f"{n + 1:,} files, {sum(r['crashes'] for r in stats.values())} crashes, "
                      f"{sum(r['lost'] for r in stats.values())} lost, {time.perf_counter() - started:,.0f} s", flush=True)
    per = {k: {**v, "seconds": round(v["seconds"], 2)} for k, v in sorted(stats.items())}
    total = {key: sum(r.get(key, 0) for r in stats.values()) for key in ("files", "postgresql_files", "crashes", "lost",
                                                                          "clear_errors", "rows_read", "rows_quarantined")}
    report = {"command": "benchmarks/bench_fuzz_imports.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in
                                                                       vars(args).items() if v is not None),
              "seed": args.seed, "postgresql": pg, "skipped": missing, "total": total,
              "seconds": round(time.perf_counter() - started, 1), "per_importer": per,
              "failures": failures[:50], "machine": describe()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(json.dumps({"total": total, "seconds": report["seconds"]}))
    for f in failures[:5]:
        print(f["case"], f["seed"], f["kind"], f["what"][:500])


if __name__ == "__main__":
    main()

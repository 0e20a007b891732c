"""`make bench`: the maintained benchmarks, one after another (never at once: timings need a quiet machine).

    .venv/bin/python benchmarks/run_all.py [--only search,serve] [--list] [--postgres URL]

Two kinds of entries, each the command behind figures in docs/benchmarks.md:

- ``PRESETS``: ``shopsage bench ...`` with the settings of the published figures (name -> the
  arguments after ``shopsage bench``); ``shopsage bench`` writes the JSON and Markdown reports.
  They replaced the wrapper scripts ``bench_import.py``, ``bench_search.py`` and ``bench_rec.py``.
- ``SCRIPTS``: what the CLI does not measure (HTTP load, single-query encoding, the text encoder's
  serving cost, sequential inference latency) and the peer checks against other libraries
  (``benchmarks/peers/``).

Every run also writes ``benchmarks/results/runs/<name>.json``: the command, its exit status, the
wall seconds and the machine with its 1-minute load average at the end (the machine is shared).
``ON_REQUEST`` entries (an hour or more) run only when named in ``--only``. The training
benchmarks (``bench_seq.py``, ``bench_finetune.py``, ``bench_finetune_items.py``, and
``peers/bench_seq_recbole.py`` in RecBole's own virtual environment) take per-run settings: their
commands are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shopsage.evaluate.machine import describe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", str(ROOT.parent / "shared" / "data")))
POSTGRES = "postgresql://127.0.0.1:5432/test"
RESULTS = "benchmarks/results"


def presets(data: Path = DATA, postgres: str = POSTGRES) -> dict[str, list[str]]:
    """Name -> the arguments after ``shopsage bench`` (``data``: the shared data folder; ``postgres``:
    the server the import benchmark measures, in a schema of its own that each run empties)."""
    scratch = Path(tempfile.gettempdir()) / "shopsage-bench-import.db"

    def imports(name: str, folder: str, fmt: str) -> list[str]:
        return ["import", "--data", str(data / folder), "--format", fmt, "--store", f"sqlite:///{scratch}",
                "--store", f"{postgres}?schema=bench_import", "--repeats", "3", "--json", f"{RESULTS}/import-{name}.json"]

    hd = data / "homedepot"
    return {
        "import-beauty": imports("beauty", "amazon-beauty", "amazon-seq"),
        "import-diginetica": imports("diginetica", "diginetica", "sessions"),
        "search": ["search", "--catalog", str(hd / "product_titles.csv"), "--judgments", str(hd / "train.csv"),
                   "--query-backend", "onnx", "--candidates", "100", "--cache-dir", "var/cache/embeddings",
                   "--json", f"{RESULTS}/search-onnxq-c100.json"],
        "rec-beauty": ["rec", "--data", str(data / "amazon-beauty"), "--format", "amazon-seq",
                       "--models", "pop,itemknn,ease,sknn,fbt,als,bpr", "--tune", "8",
                       "--tune-trials", '{"ease": 3, "pop": 4}', "--max-valid", "3000", "--threads", "1",
                       "--json", f"{RESULTS}/rec-beauty.json"],
        "rec-diginetica": ["rec", "--data", str(data / "diginetica"), "--format", "sessions",
                           "--models", "pop,itemknn,sknn,fbt,ease,als,bpr", "--tune", "6",
                           "--tune-trials", '{"pop": 4}', "--max-valid", "2000", "--threads", "1",
                           "--json", f"{RESULTS}/rec-diginetica.json"],
        **{f"ope-{c}": ["ope", "--data", str(data / "open-bandit"), "--campaign", c, "--bootstrap", "10000",
                        "--json", f"{RESULTS}/ope-open-bandit-{c}.json"] for c in ("all", "men")},
        "forecast": ["forecast", "--data", str(data / "retail-sales" / "train.csv"), "--horizon", "42",
                     "--models", "lgbm,arima,seasonal_naive,weekday_median", "--json", f"{RESULTS}/forecast-retail-sales.json"],
        "trend": ["trend", "--data", str(data / "yoochoose-100k"), "--format", "yoochoose", "--window", "3600",
                  "--json", f"{RESULTS}/trend-yoochoose.json"],
        **{f"bandit-{c}": ["bandit", "--data", str(data / "open-bandit"), "--campaign", c, "--bootstrap", "2000",
                           "--sim-steps", "40000", "--sim-seeds", "8", "--json", f"{RESULTS}/bandit-open-bandit-{c}.json"]
           for c in ("all", "men")},
        "abtest": ["abtest", "--runs", "1000", "--seed", "0", "--json", f"{RESULTS}/abtest-simulated.json"],
    }


PRESETS = presets()

SCRIPTS: dict[str, list[str]] = {
    "query-encoder": ["benchmarks/bench_query_encoder.py"],
    "serve": ["benchmarks/bench_serve.py"],
    "autocomplete": ["benchmarks/bench_autocomplete.py"],
    "web": ["benchmarks/bench_web.py"],  # the storefront search page at 20 shoppers
    "semantic-serving": ["benchmarks/bench_semantic_serving.py"],
    "explore-latency": ["benchmarks/bench_explore_latency.py", "--json", f"{RESULTS}/explore-latency.json"],
    "seq-latency": ["benchmarks/bench_seq_latency.py", "--data", "beauty"],
    "tombstones": ["benchmarks/bench_tombstones.py"],  # what erasure tombstones cost an import
    "click-ranker": ["benchmarks/bench_click_ranker.py", "--data", str(DATA / "homedepot")],
    "peer-implicit": ["benchmarks/peers/peer_implicit.py", "--data", str(DATA / "amazon-beauty")],
    "peer-recbole": ["benchmarks/peers/compare_recbole.py"],
    **{f"peer-ope-obp-{c}": ["benchmarks/peers/ope_obp.py", "--data", str(DATA / "open-bandit"), "--campaign", c,
                             "--bootstrap", "10000", "--json", f"{RESULTS}/ope-obp-{c}.json",
                             "--compare", f"{RESULTS}/ope-open-bandit-{c}.json"] for c in ("all", "men")},
}
"""Name -> a script under benchmarks/ and its arguments."""

ON_REQUEST = ("rec-diginetica",)


def commands(data: Path = DATA, postgres: str = POSTGRES) -> dict[str, list[str]]:
    """Every entry's full command line, presets first."""
    cli = [PY, "-m", "shopsage.cli.main", "bench"]
    out = {name: cli + argv for name, argv in presets(data, postgres).items()}
    return {**out, **{name: [PY, *argv] for name, argv in SCRIPTS.items()}}


def shown(cmd: list[str]) -> str:
    """A command as docs/benchmarks.md writes it."""
    return " ".join(["shopsage", *cmd[3:]] if cmd[1:3] == ["-m", "shopsage.cli.main"] else ["python", *cmd[1:]])


def _record(name: str, cmd: list[str], rc: int, seconds: float) -> None:
    path = ROOT / RESULTS / "runs" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": name, "command": shown(cmd), "exit": rc, "wall_seconds": round(seconds, 1),
                                "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": describe()}, indent=2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join([*PRESETS, *SCRIPTS])}")
    ap.add_argument("--list", action="store_true", help="print every command (and whether make bench runs it) and exit")
    ap.add_argument("--postgres", default=POSTGRES, help="PostgreSQL server of the import presets")
    args = ap.parse_args()
    every = commands(DATA, args.postgres)
    if args.list:
        for name, cmd in every.items():
            print(f"{name}{' (on request)' if name in ON_REQUEST else ''}: {shown(cmd)}")
        return 0
    names = [n for n in args.only.split(",") if n] or [n for n in every if n not in ON_REQUEST]
    unknown = [n for n in names if n not in every]
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; choose from {list(every)}")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "SHOPSAGE_DATA_DIR": str(DATA)}
    failed = []
    for name in names:
        print(f"== {name}: {shown(every[name])}", flush=True)
        started = time.perf_counter()
        rc = subprocess.call(every[name], cwd=ROOT, env=env)
        seconds = time.perf_counter() - started
        _record(name, every[name], rc, seconds)
        print(f"== {name}: exit {rc} after {seconds:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

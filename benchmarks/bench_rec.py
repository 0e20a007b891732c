"""Recommender benchmark on the shared data (issue 3): the same run as `shopsage bench rec`, plus the
machine description and load average, written to benchmarks/results/rec-<preset>.{json,md,png}.

    .venv/bin/python benchmarks/bench_rec.py beauty [--models pop,itemknn,...] [--tune 10]
    .venv/bin/python benchmarks/bench_rec.py diginetica

Presets: beauty = amazon-seq, leave-one-out, full ranking, seen items filtered (HR@10 / NDCG@10 as
published); diginetica = sessions, the given test prefixes, no filtering (hr@20 / mrr@20, the
session papers' P@20 / MRR@20). Tuning (optuna, validation cases only) then a refit on train +
validation before the one test evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402
from shopsage.evaluate.bench_rec import RecBenchConfig, run_rec_bench  # noqa: E402
from shopsage.evaluate.report import write_report  # noqa: E402

DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))

PRESETS = {
    "beauty": {"data": "amazon-beauty", "format": "amazon-seq", "models": "pop,itemknn,ease,als,bpr,fbt,sknn",
               "max_valid": 5000},
    "diginetica": {"data": "diginetica", "format": "sessions", "models": "pop,itemknn,ease,als,bpr,fbt,sknn",
                   "max_valid": 5000},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("preset", choices=sorted(PRESETS))
    ap.add_argument("--models", help="comma-separated model names (default: every classic model)")
    ap.add_argument("--tune", type=int, default=10, help="optuna trials per model on validation (0: defaults)")
    ap.add_argument("--max-valid", type=int, help="validation cases used by tuning (seeded sample)")
    ap.add_argument("--params", help="JSON of fixed hyperparameters per model")
    ap.add_argument("--sampled", type=int, default=0, help="also report sampled-N ranking (labelled)")
    ap.add_argument("--timeout", type=float, help="seconds per model process")
    ap.add_argument("--tune-trials", help='JSON of trials per model overriding --tune, e.g. {"ease": 3}')
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads per model process (0: all)")
    ap.add_argument("--no-refit", action="store_true", help="test the model fitted on train only (no refit)")
    ap.add_argument("--suffix", default="", help="appended to the result file names")
    args = ap.parse_args()
    preset = PRESETS[args.preset]
    cfg = RecBenchConfig(data=str((DATA / str(preset["data"])).resolve()), format=str(preset["format"]),
                         models=(args.models or str(preset["models"])).split(","), tune_trials=args.tune,
                         max_valid_cases=args.max_valid or preset["max_valid"], sampled_negatives=args.sampled,
                         model_params=json.loads(args.params) if args.params else {}, timeout_s=args.timeout,
                         refit_with_valid=not args.no_refit, threads=args.threads or None,
                         model_tune_trials=json.loads(args.tune_trials) if args.tune_trials else {})

    phase = {"label": "", "done": 0}

    def log(event: tuple) -> None:
        if event[0] == "phase":
            phase.update(label=event[1], done=0)
            print(f"[{time.strftime('%H:%M:%S')}] {event[1]}", flush=True)
        elif event[0] == "advance" and "tuning" in phase["label"]:
            phase["done"] += event[1]
            print(f"[{time.strftime('%H:%M:%S')}]   trial {phase['done']} done", flush=True)
        elif event[0] == "model_done":
            res = event[2]
            keys = ("hr@10", "ndcg@10", "hr@20", "mrr@20", "train_seconds", "peak_rss_mb", "status", "message")
            print(f"[{time.strftime('%H:%M:%S')}] done {event[1]}: "
                  + json.dumps({k: res[k] for k in keys if k in res}), flush=True)

    started = time.perf_counter()
    report = run_rec_bench(cfg, log)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    report["machine"] = describe()
    report["command"] = "python benchmarks/bench_rec.py " + " ".join(sys.argv[1:])
    out = Path(__file__).resolve().parent / "results" / f"rec-{args.preset}{args.suffix}.json"
    paths = write_report(report, out, out.with_suffix(".md"), out.with_suffix(".png"))
    print(paths["md"].read_text())
    print(f"load average (1 min) at the end: {report['machine']['load_average_1m']}")


if __name__ == "__main__":
    main()

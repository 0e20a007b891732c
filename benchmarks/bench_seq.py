"""Train and test one sequential model on a real data set (issue 4).

    .venv/bin/python benchmarks/bench_seq.py --data beauty --model sasrec --set dropout=0.5

Protocols: see ``shopsage.evaluate.seq_data``. Writes ``benchmarks/results/seq-<data>-<model>[-<tag>].json``
with the test metrics, the training report (best epoch, seconds to best, examples/s), the
config and the machine (with its load average: the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from shopsage.evaluate.machine import describe  # noqa: E402
from shopsage.evaluate.seq_data import load  # noqa: E402
from shopsage.recommend.base import TrainData  # noqa: E402
from shopsage.recommend.sequential import GRU4Rec, SASRec  # noqa: E402
from shopsage.recommend.sequential.train import rank_metrics  # noqa: E402

MODELS = {"sasrec": SASRec, "gru4rec": GRU4Rec}
RESULTS = Path(__file__).resolve().parent / "results"


def parse_sets(pairs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="beauty", choices=["beauty", "scientific", "diginetica"])
    ap.add_argument("--model", default="sasrec", choices=sorted(MODELS))
    ap.add_argument("--set", nargs="*", default=[], help="config overrides key=value")
    ap.add_argument("--tag", default="")
    ap.add_argument("--no-refit", action="store_true",
                    help="train on train only, early-stop on the split's validation cases (default, as "
                         "`shopsage bench rec`: train + validation targets, early stopping on a held-out 10%%)")
    ap.add_argument("--save", default=None, help="save the trained model to this directory (model.save)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    bench = load(args.data)
    split = bench.split
    print(f"{args.data}: {split.n_items} items, {len(split.train)} train sequences, "
          f"{len(split.valid)} valid, {len(split.test)} test ({time.perf_counter() - t0:.1f} s)", flush=True)
    overrides = {"verbose": True, "filter_seen": bench.filter_seen, **parse_sets(args.set)}
    model = MODELS[args.model](**overrides)
    data = TrainData.from_split(split, with_valid_targets=not args.no_refit, item_text=bench.item_text)
    model.fit(data)
    if args.save:
        model.save(Path(args.save))
    t1 = time.perf_counter()
    test = rank_metrics(model, split.test, bench.ks, filter_seen=bench.filter_seen)
    print(f"test {test} ({time.perf_counter() - t1:.1f} s)", flush=True)
    out = {"data": args.data, "model": args.model, "protocol": split.protocol, "filter_seen": bench.filter_seen,
           "refit_with_valid": not args.no_refit, "test": test, "n_test": len(split.test), "train": model.report,
           "config": model.config.model_dump(mode="json"), "machine": describe()}
    name = f"seq-{args.data}-{args.model}" + (f"-{args.tag}" if args.tag else "")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(json.dumps({k: out[k] for k in ("test", "machine")}), flush=True)


if __name__ == "__main__":
    main()

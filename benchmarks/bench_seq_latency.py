"""Inference speed of the sequential models (issue 4): one request at a time and batched.

    .venv/bin/python benchmarks/bench_seq_latency.py --data beauty [--model-dir DIR]

Single request: ``next_items(history, 10)`` (filter seen items, top 10 of the whole catalogue) on
one thread for ``--requests`` test histories in turn; p50 / p99 / max in milliseconds. Batched:
``score`` over all test histories (rows per second). Latency does not depend on the weights'
quality, so without ``--model-dir`` the models are trained for one epoch on 2,000 of the training
sequences (same catalogue and shapes as the benchmarked ones). Writes ``benchmarks/results/seq-latency-<data>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from shopsage.data.splits import Sequences  # noqa: E402
from shopsage.evaluate.machine import describe  # noqa: E402
from shopsage.evaluate.seq_data import load  # noqa: E402
from shopsage.recommend.base import TrainData  # noqa: E402
from shopsage.recommend.sequential import GRU4Rec, SASRec  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def measure(model: SASRec | GRU4Rec, hists: list[np.ndarray], requests: int) -> dict[str, float]:
    torch.set_num_threads(1)
    for h in hists[:50]:  # warm-up
        model.next_items(h, 10)
    times = []
    for h in hists[:requests]:
        t = time.perf_counter()
        model.next_items(h, 10)
        times.append((time.perf_counter() - t) * 1000)
    ms = np.array(times)
    t = time.perf_counter()
    model.score_tensor(hists)
    batch_s = time.perf_counter() - t
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()),
            "requests": len(ms), "batched_rows_per_s": len(hists) / batch_s, "batched_rows": len(hists)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="beauty", choices=["beauty", "scientific", "diginetica"])
    ap.add_argument("--model-dir", default=None, help="a saved SASRec directory to time instead")
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    bench = load(args.data)
    split = bench.split
    hists = [split.test.history[c] for c in range(len(split.test))]
    # the weights' quality does not change the latency: a short fit on 2,000 sequences, same catalogue
    data = TrainData(split.n_items, Sequences.from_lists([split.train[s] for s in range(min(2000, len(split.train)))]))
    out: dict[str, object] = {"data": args.data, "n_items": split.n_items, "machine_before": describe()}
    models: dict[str, SASRec | GRU4Rec] = {}
    if args.model_dir:
        models["sasrec"] = SASRec.load(args.model_dir)
    else:
        for cls in (SASRec, GRU4Rec):
            models[cls.name] = cls(epochs=1, threads=1, loss="sampled-softmax", max_valid_cases=1000).fit(data)
    for name, model in models.items():
        out[name] = measure(model, hists, args.requests)
        print(name, out[name], flush=True)
    out["machine"] = describe()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"seq-latency-{args.data}.json").write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

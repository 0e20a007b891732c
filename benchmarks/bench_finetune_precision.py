"""Fine-tuning step time in float32 and under bfloat16 autocast, side by side in one run.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_finetune_precision.py [--batch-size 64] [--hard 1]
     [--max-length 32] [--threads 2] [--rounds 6]

The training step of ``fine_tune`` (tower both: the anchors, the batch's positives and each hard
negative column through MiniLM, the in-batch softmax, backward, AdamW) on Home Depot queries and
the titles judged for them, alternating the two arithmetics batch by batch so both see the same
machine load. The learning rate is 0, so the weights never change and the two losses of a batch
can be compared: the difference is what bfloat16 autocast costs in accuracy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_finetune import ROOT, load_protocol  # noqa: E402
from machine import describe  # noqa: E402
from shopsage.finetune import FineTuneConfig, Pair, PairSet  # noqa: E402
from shopsage.finetune.trainer import _batch_loss, _use_bf16  # noqa: E402
from shopsage.text import default_model_path  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--hard", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=6, help="batches timed in each arithmetic (after one warm-up)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "finetune-precision.json"))
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    proto = load_protocol()
    texts = proto.texts
    seen: set[str] = set()
    rows = []
    for q, item, gain in proto.judgments:
        if gain >= 1.0 and q not in seen and item not in seen and item in texts:
            seen.update((q, item))
            rows.append((q, item))
    ids = sorted(texts)
    need = (args.rounds + 1) * args.batch_size
    pairs = PairSet([Pair(q, item, tuple(ids[(7919 * (i * args.hard + k)) % len(ids)] for k in range(args.hard)))
                     for i, (q, item) in enumerate(rows[:need])], texts, "query-item")
    model = SentenceTransformer(str(default_model_path()), device="cpu")
    model.max_seq_length = args.max_length
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.0)
    known = pairs.positives_of()
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    losses: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for b in range(args.rounds + 1):
        batch = list(range(b * args.batch_size, (b + 1) * args.batch_size))
        for precision in ("fp32", "bf16") if b % 2 == 0 else ("bf16", "fp32"):
            cfg = FineTuneConfig(method="full", tower="both", precision=precision, symmetric=False)  # type: ignore[arg-type]
            t0 = time.perf_counter()
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = _batch_loss(model, pairs, batch, args.hard, known, cfg, "cpu", None)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if b > 0:  # the first batch warms both up
                times[precision].append(time.perf_counter() - t0)
                losses[precision].append(float(loss.item()))
    med = {p: statistics.median(t) for p, t in times.items()}
    result = {
        "machine": describe(), "argv": sys.argv[1:], "native_bf16": _use_bf16("auto", "cpu"),
        "texts_per_step": args.batch_size * (2 + args.hard),
        "step_seconds_median": {p: round(v, 3) for p, v in med.items()},
        "speedup_bf16": round(med["fp32"] / med["bf16"], 2),
        "loss_fp32": [round(x, 4) for x in losses["fp32"]], "loss_bf16": [round(x, 4) for x in losses["bf16"]],
        "max_abs_loss_difference": round(max(abs(a - b) for a, b in zip(losses["fp32"], losses["bf16"], strict=True)), 4),
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

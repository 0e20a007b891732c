"""Single-query encoding speed of the encoder backends, side by side in one loop.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_query_encoder.py [--rounds 40]
Writes benchmarks/results/query-encoder.json. Each round encodes the same six short queries with
every backend in turn (one thread each), so machine noise hits all of them alike. Also reported:
onnxruntime's own int8 quantization of the exported model, measured but not offered (it moves
vectors), and each backend's minimum cosine to the float32 torch vectors.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from shopsage.evaluate.machine import describe  # noqa: E402
from shopsage.text import EncoderConfig, TextEncoder  # noqa: E402
from shopsage.text._backbone import _OnnxBackbone, _plain_layout  # noqa: E402
from shopsage.text.encoder import default_model_path  # noqa: E402

QUERIES = ["cordless drill 18v", "white bathroom vanity with sink top", "pvc pipe",
           "outdoor led flood light motion sensor", "deck screws", "ceiling fan with light remote"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        encoders = {b: TextEncoder(EncoderConfig(backend=b, onnx_dir=tmp, threads=1, progress=False))
                    for b in ("torch", "torch-int8", "onnx")}
        for enc in encoders.values():
            enc.set_threads(1)
        fns = {name: enc.encode_query for name, enc in encoders.items()}
        exported = next(Path(tmp).rglob("model.onnx"))
        from onnxruntime.quantization import QuantType, quantize_dynamic

        q8 = Path(tmp) / "model-int8.onnx"
        quantize_dynamic(str(exported), str(q8), weight_type=QuantType.QInt8)
        root = Path(default_model_path())
        ort8 = _OnnxBackbone(root, _plain_layout(root), 128, q8, threads=1)  # type: ignore[arg-type]
        fns["onnx-int8 (not offered)"] = lambda q: ort8.encode([q])[0]
        times: dict[str, list[float]] = {k: [] for k in fns}
        for r in range(args.rounds + 2):
            for q in QUERIES:
                for name, fn in fns.items():
                    t = time.perf_counter()
                    fn(q)
                    if r >= 2:  # two warm-up rounds
                        times[name].append((time.perf_counter() - t) * 1e3)
        ref = np.stack([fns["torch"](q) for q in QUERIES])
        out = {}
        for name, fn in fns.items():
            cos = float((np.stack([fn(q) for q in QUERIES]) * ref).sum(1).min())
            p50, p99 = np.percentile(times[name], [50, 99])
            out[name] = {"p50_ms": round(float(p50), 2), "p99_ms": round(float(p99), 2), "min_cos_to_torch": round(cos, 5)}
    result = {"machine": describe(), "queries": len(QUERIES) * args.rounds, "backends": out}
    path = Path(__file__).resolve().parent / "results" / "query-encoder.json"
    path.write_text(json.dumps(result, indent=2))
    print("| backend | p50 ms | p99 ms | p50 / torch p50 | min cosine to torch |\n|---|---:|---:|---:|---:|")
    for name, r in out.items():
        print(f"| {name} | {r['p50_ms']} | {r['p99_ms']} | {r['p50_ms'] / out['torch']['p50_ms']:.2f} | {r['min_cos_to_torch']} |")
    print(f"\nmachine: {result['machine']}")


if __name__ == "__main__":
    main()

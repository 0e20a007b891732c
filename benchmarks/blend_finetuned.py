"""WiSE-FT after the fact: blend a trained Home Depot encoder with its base, choose the blend on the
early-stopping queries, score the chosen one on the dev queries, register it.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/blend_finetuned.py var/models/encoder-homedepot/v0003
     [--alphas 0.6,0.7,0.8,0.9,1.0] [--threads 2] [--out benchmarks/results/finetune-homedepot-blend.json]

The weights ``(1-a)*base + a*tuned`` (Wortsman et al., 2022; ``FineTuneConfig.wise_alphas`` does the
same at the end of a run) of a full two-sided model are scored by the protocol of
``bench_finetune.py``: nDCG@10 of the 670 early-stopping training queries (never trained on) over a
4,000-product sample plus their judged products. Only the blend chosen there is scored on the 1,653
dev queries over the whole catalogue, so the dev figure does not choose anything. When no blend
beats the tuned weights (alpha 1), nothing is registered and the tuned model's own dev figure stands.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_finetune import CACHE, ROOT, dense_quality, early_stop_ndcg, load_protocol  # noqa: E402
from machine import describe  # noqa: E402
from shopsage.finetune.trainer import _blend, _trainable_state  # noqa: E402
from shopsage.registry import ModelRegistry  # noqa: E402
from shopsage.text import EncoderConfig, TextEncoder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tuned", help="a full (not LoRA) fine-tuned version directory with its training.json")
    ap.add_argument("--alphas", default="0.6,0.7,0.8,0.9,1.0")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--name", default="encoder-homedepot")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "finetune-homedepot-blend.json"))
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    tuned_dir = Path(args.tuned)
    info = json.loads((tuned_dir / "training.json").read_text())
    if info["config"]["method"] != "full":
        sys.exit(f"{tuned_dir} is a {info['config']['method']} model: blend full models only (a LoRA blend is "
                 "FineTuneConfig.wise_alphas)")
    base_dir = info["base_model"]
    proto = load_protocol()
    model = SentenceTransformer(str(tuned_dir), device="cpu")
    tuned = _trainable_state(model)  # a full model: every weight
    base = _trainable_state(SentenceTransformer(str(base_dir), device="cpu"))
    model.eval()
    scores = []
    for a in sorted(float(x) for x in args.alphas.split(",")):
        t0 = time.perf_counter()
        model.load_state_dict(_blend(base, tuned, a), strict=False)
        scores.append({"alpha": a, "early_stop_ndcg": early_stop_ndcg(model, proto)})
        print(f"alpha {a:g}: early-stopping nDCG@10 {scores[-1]['early_stop_ndcg']:.4f} "
              f"({time.perf_counter() - t0:.0f}s)", flush=True)
    best = max(scores, key=lambda s: s["early_stop_ndcg"])
    result: dict[str, object] = {"machine": describe(), "argv": sys.argv[1:], "tuned": str(tuned_dir), "blends": scores,
                                 "chosen_alpha": best["alpha"]}
    if best["alpha"] == 1.0:  # the tuned weights as trained: nothing new to register or score
        result["outcome"] = "no blend beats the tuned model on the early-stopping queries: keep it as it is"
        Path(args.out).write_text(json.dumps(result, indent=2))
        print(json.dumps(result, indent=2))
        return
    model.load_state_dict(_blend(base, tuned, best["alpha"]), strict=False)
    registry = ModelRegistry(ROOT / "var" / "models")
    out = registry.new_version_dir(args.name)
    model.save(str(out))
    (out / "training.json").write_text(json.dumps({**info, "wise_from": str(tuned_dir), "alpha": best["alpha"]}, indent=2))
    registry.register(args.name, out, "text-encoder", info["config"], base_model=base_dir, method="full",
                      tower=info["config"]["tower"], wise_from=str(tuned_dir), alpha=best["alpha"],
                      metrics={"early_stop_ndcg@10": best["early_stop_ndcg"]})
    enc = TextEncoder(EncoderConfig(model=str(out), cache_dir=CACHE, progress=False, threads=args.threads))
    t0 = time.perf_counter()
    dv = enc.encode([proto.texts[i] for i in proto.ids])
    result["encode_catalogue_seconds"] = round(time.perf_counter() - t0, 1)
    result["dev"] = dense_quality(enc.encode(proto.dev_q, progress=False), dv, proto.dev_q, proto.ids, proto.gains)
    result["version"] = out.name
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

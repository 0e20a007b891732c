"""A uniform model soup: the mean of the weights of several full fine-tuned Home Depot encoders trained
from the same base (Wortsman et al., 2022, "Model soups"), say the same configuration with other seeds.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/soup_finetuned.py var/models/encoder-homedepot/v0001
     var/models/encoder-homedepot/v0002 [--correct-queries] [--threads 2]
     [--out benchmarks/results/finetune-homedepot-soup.json]

Every ingredient and the soup are scored on the early-stopping proxy of ``bench_finetune.py`` (the 670
held-out training queries over a 4,000-product sample plus their judged products; with
``--correct-queries`` those queries as the engine's corrector rewrites them, as the ingredients were
trained). The soup is kept (registered) only when its proxy beats every ingredient's; its dev figures
(1,653 dev queries, whole catalogue, typed and spelling-corrected) are reported either way, so the dev
set never chooses.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_finetune import (  # noqa: E402
    CACHE,
    ROOT,
    corrected_training_queries,
    dev_quality,
    early_stop_ndcg,
    load_protocol,
    spelling_engine,
)
from machine import describe  # noqa: E402
from shopsage.registry import ModelRegistry  # noqa: E402
from shopsage.text import EncoderConfig, TextEncoder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("versions", nargs="+", help="two or more full fine-tuned version directories of one base")
    ap.add_argument("--correct-queries", action="store_true",
                    help="score the proxy on the corrected early-stopping queries (as --correct-queries trained)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--name", default="encoder-homedepot")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "finetune-homedepot-soup.json"))
    args = ap.parse_args()
    if len(args.versions) < 2:
        sys.exit("a soup needs two or more versions")

    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    dirs = [Path(v) for v in args.versions]
    infos = [json.loads((d / "training.json").read_text()) for d in dirs]
    bases = {i["base_model"] for i in infos}
    methods = {i["config"]["method"] for i in infos}
    if len(bases) != 1 or methods != {"full"}:
        sys.exit(f"soup full models of one base only: bases {sorted(bases)}, methods {sorted(methods)}")
    proto = load_protocol()
    if args.correct_queries:
        fixed = corrected_training_queries(proto)
        proto.es_text = {q: fixed[q] for q in proto.es_q}

    models = [SentenceTransformer(str(d), device="cpu") for d in dirs]
    ingredients = []
    for d, m in zip(dirs, models, strict=True):
        m.eval()
        ingredients.append({"version": str(d), "early_stop_ndcg": early_stop_ndcg(m, proto)})
        print(ingredients[-1], flush=True)
    states = [m.state_dict() for m in models]
    soup = models[0]
    soup.load_state_dict({k: (sum(s[k].float() for s in states) / len(states)).to(v.dtype) if v.is_floating_point() else v
                          for k, v in states[0].items()})
    del models[1:], states
    soup_score = early_stop_ndcg(soup, proto)
    best = max(i["early_stop_ndcg"] for i in ingredients)
    kept = soup_score > best
    print(f"soup: early-stopping nDCG@10 {soup_score:.4f} (best ingredient {best:.4f})", flush=True)

    registry = ModelRegistry(ROOT / "var" / "models")
    with tempfile.TemporaryDirectory() as scratch:  # a soup the proxy does not keep takes no version number
        out = registry.new_version_dir(args.name) if kept else Path(scratch)
        soup.save(str(out))
        if kept:
            (out / "training.json").write_text(json.dumps({**infos[0], "soup_of": [str(d) for d in dirs]}, indent=2))
            registry.register(args.name, out, "text-encoder", infos[0]["config"], base_model=infos[0]["base_model"],
                              method="full", tower=infos[0]["config"]["tower"], soup_of=[str(d) for d in dirs],
                              metrics={"early_stop_ndcg@10": soup_score})
        enc = TextEncoder(EncoderConfig(model=str(out), cache_dir=CACHE, progress=False, threads=args.threads))
        t0 = time.perf_counter()
        dv = enc.encode([proto.texts[i] for i in proto.ids])
        encode_s = round(time.perf_counter() - t0, 1)
        speller = spelling_engine(proto)
        dev = dev_quality(enc, dv, proto, [speller.dense_text(q) for q in proto.dev_q])
    result = {"machine": describe(), "argv": sys.argv[1:], "ingredients": ingredients,
              "soup_early_stop_ndcg": soup_score, "kept": kept, "encode_catalogue_seconds": encode_s, "dev": dev,
              "version": str(out) if kept else None}
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

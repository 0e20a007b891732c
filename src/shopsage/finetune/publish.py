"""Publishing a fine-tuned encoder: register it with its manifest, promote it behind a live search index.

Promotion re-embeds the catalogue with the encoder that makes item vectors (the version itself,
or for a query-tower model the item encoder it was trained against) through the on-disk embedding
cache, keyed by encoder and text hash: texts that encoder already saw cost nothing, so a rollback,
a re-promotion or a catalogue with few changed items is cheap. The new vector index is written
beside the live engine directory and a pointer file is replaced atomically, so a reader sees
either the old engine or the new one, never a mix.

Layout of an engine root::

    <root>/CURRENT                   name of the live engine directory (replaced atomically)
    <root>/engine-<tag>/             a SearchEngine.save directory (catalog, lexical, vector, ...)
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopsage.artifacts import atomic_write_text, read_manifest, write_manifest
from shopsage.data.rows import ItemRow
from shopsage.errors import NotFoundError, ValidationError
from shopsage.finetune.pairs import PairSet
from shopsage.finetune.trainer import FineTuneResult
from shopsage.registry import ModelRegistry, ModelVersion
from shopsage.search.engine import SearchEngine, embedding_text
from shopsage.search.vector import VectorIndex
from shopsage.text.cache import text_keys
from shopsage.text.encoder import EncoderConfig, TextEncoder

__all__ = ["register_encoder", "promote_encoder", "rollback_encoder", "live_engine_dir", "load_live_engine",
           "publish_engine", "item_encoder_path", "PromotionReport"]

POINTER = "CURRENT"
KEEP = 3  # engine directories kept (the live one and the ones a rollback returns to)


def register_encoder(registry: ModelRegistry, name: str, out_dir: Path, base_model: str, pairs: PairSet,
                     result: FineTuneResult, metrics: dict[str, float] | None = None) -> ModelVersion:
    """Record a :func:`fine_tune` output directory (from ``registry.new_version_dir``) with its manifest:
    base model, method, tower, item encoder, data fingerprint, hyperparameters, training facts, metrics."""
    cfg = result.config
    return registry.register(
        name, out_dir, "text-encoder", cfg, base_model=base_model, method=cfg["method"], tower=cfg["tower"],
        item_encoder=base_model if cfg["tower"] == "query" else None, data_fingerprint=pairs.fingerprint(),
        data={"kind": pairs.kind, "pairs": len(pairs), "sources": pairs.sources},
        training={"steps": result.steps, "best_step": result.best_step, "train_seconds": result.train_seconds,
                  "seconds": result.seconds, "device": result.device, "precision": result.precision,
                  "trainable_params": result.trainable_params,
                  "total_params": result.total_params, "saved_bytes": result.saved_bytes,
                  "dev_metric": result.best_metric, "dev_baseline": result.baseline_metric},
        metrics=metrics or {})


def item_encoder_path(version: ModelVersion) -> str:
    """The model that embeds items for ``version``: itself, or the item encoder of a query-tower model."""
    return str(version.manifest.get("item_encoder") or version.path)


@dataclass
class PromotionReport:
    version: str
    engine_dir: Path
    items: int
    encoded: int  # texts the item encoder had not seen before (the rest came from the cache)
    seconds: float


def live_engine_dir(root: Path | str) -> Path:
    root = Path(root)
    pointer = root / POINTER
    if not pointer.is_file():
        raise NotFoundError(f"{root} has no live search engine ({POINTER} is missing): publish one with publish_engine()")
    return root / pointer.read_text(encoding="utf-8").strip()


def publish_engine(root: Path | str, engine: SearchEngine, tag: str, extra: dict[str, Any] | None = None) -> Path:
    """Save ``engine`` as ``<root>/engine-<tag>`` and make it live (atomic pointer swap)."""
    root = Path(root)
    final = root / f"engine-{tag}"
    tmp = root / f".engine-{tag}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    engine.save(tmp)
    _annotate(tmp, extra or {})
    return _swap(root, tmp, final)


def _annotate(directory: Path, extra: dict[str, Any]) -> None:
    manifest = read_manifest(directory, SearchEngine.KIND)
    kind, config = manifest.pop("kind"), manifest.pop("config")
    write_manifest(directory, kind, config, **{**{k: v for k, v in manifest.items() if k != "created_at"}, **extra})


def _swap(root: Path, tmp: Path, final: Path) -> Path:
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    atomic_write_text(root / POINTER, final.name)
    engines = sorted((p for p in root.glob("engine-*") if p.is_dir() and p != final), key=lambda p: p.stat().st_mtime)
    for old in engines[:max(0, len(engines) - (KEEP - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_live_engine(root: Path | str, cache_dir: str | None = None) -> SearchEngine:
    """The live engine with the encoders its manifest names (item encoder, and query encoder when different)."""
    directory = live_engine_dir(root)
    manifest = read_manifest(directory, SearchEngine.KIND)
    items, queries = manifest.get("item_encoder_path"), manifest.get("query_encoder_path")
    if not items:
        return SearchEngine.load(directory)
    enc = TextEncoder(EncoderConfig(model=items, cache_dir=cache_dir, progress=False))
    qenc = TextEncoder(EncoderConfig(model=queries, progress=False)) if queries and queries != items else None
    return SearchEngine.load(directory, enc, qenc)


def _link_tree(src: Path, dst: Path, skip: set[str]) -> None:
    """Hard-link (copy where links fail) every file of ``src`` into ``dst`` except the top-level names in ``skip``."""
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if rel.parts[0] in skip or not path.is_file():
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


def promote_encoder(registry: ModelRegistry, name: str, version: str, engine_root: Path | str,
                    rows: Sequence[ItemRow], cache_dir: str | None, log: Callable[[str], None] = print,
                    record: bool = True) -> PromotionReport:
    """Make ``version`` live: re-embed the catalogue ``rows`` (cached by text hash), write a new vector
    index beside the live engine, swap the engine pointer atomically, then (``record``) promote it in
    the registry. A failure before the swap leaves the live engine and the registry as they were."""
    started = time.perf_counter()
    target = registry.get(name, version)
    root = Path(engine_root)
    live = live_engine_dir(root)
    engine = SearchEngine.load(live)
    by_id = {r.ext_id: r for r in rows}
    slots = [s for s in range(engine.catalog.capacity) if engine.catalog.live[s]]
    ext = engine.catalog.external(slots)
    absent = [e for e in ext if e not in by_id]
    if absent:
        raise ValidationError(f"{len(absent)} live catalogue items (e.g. {absent[:3]}) are not among the rows given: "
                              "pass every item of the shop (store.items()) so each one can be re-embedded")
    texts = [embedding_text(by_id[e]) for e in ext]
    items_path = item_encoder_path(target)
    encoder = TextEncoder(EncoderConfig(model=items_path, cache_dir=cache_dir, progress=False))
    before = int(encoder.cache.get(text_keys(texts))[1].sum()) if encoder.cache is not None else 0
    vectors = encoder.encode(texts)
    index = VectorIndex(encoder.dim, engine.config.vector)
    index.add(slots, vectors)  # type: ignore[arg-type]
    tag = f"{name}-{version}-{int(time.time() * 1000)}"
    tmp = root / f".engine-{tag}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    _link_tree(live, tmp, {"vector", "manifest.json"})
    index.save(tmp / "vector")
    manifest = read_manifest(live, SearchEngine.KIND)
    manifest.update(encoder_id=encoder.id, item_encoder_path=items_path, query_encoder_path=str(target.path),
                    model=name, model_version=version)
    kind, config = manifest.pop("kind"), manifest.pop("config")
    manifest.pop("created_at", None)
    write_manifest(tmp, kind, config, **manifest)
    final = _swap(root, tmp, root / f"engine-{tag}")
    if record:
        registry.promote(name, version)
    report = PromotionReport(version, final, len(texts), len(texts) - before, round(time.perf_counter() - started, 2))
    log(f"{name} {version} is live: {report.items} items, {report.encoded} embedded anew, "
        f"{report.items - report.encoded} from the cache, in {report.seconds}s")
    return report


def rollback_encoder(registry: ModelRegistry, name: str, engine_root: Path | str, rows: Sequence[ItemRow],
                     cache_dir: str | None, log: Callable[[str], None] = print) -> PromotionReport:
    """Return to the version live before the current one, and its item vectors (from the cache)."""
    previous = registry.previous(name)
    if previous is None:
        raise NotFoundError(f"model {name!r} has no earlier promoted version to roll back to")
    report = promote_encoder(registry, name, previous, engine_root, rows, cache_dir, log, record=False)
    registry.rollback(name)
    return report

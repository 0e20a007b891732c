"""The recommender benchmark behind ``shopsage bench rec``: import on the fly, split once, train
and score every model in its own process, one report.

Steps: the data is imported into a temporary SQLite store; the protocol of the format (or the one
asked for) makes the split, which is saved once as ``.npy`` files; for each model a child process
optionally tunes it on the validation cases (``tune_trials`` optuna trials), then a fresh child
fits it with the chosen hyperparameters on train + validation targets and scores the test cases
once. A model that refuses the data (EASE above its catalogue limit) is reported as refused
with its message.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from shopsage.data.importers import get_importer, run_import
from shopsage.data.stores import open_store
from shopsage.errors import ConfigError
from shopsage.evaluate.protocols import (
    DEFAULT_PROTOCOL,
    PROTOCOLS,
    EvalOptions,
    default_filter_seen,
    make_split,
    save_split,
)
from shopsage.evaluate.runner import ModelJob, model_label, resolve_model, run_job

__all__ = ["RecBenchConfig", "run_rec_bench", "default_tune_metric"]

Event = tuple[Any, ...]


class RecBenchConfig(BaseModel):
    """Options of one benchmark run (the CLI's flags)."""

    model_config = ConfigDict(extra="forbid")

    data: str
    """File or folder to import."""
    format: str
    """Import format, as in ``shopsage import`` (amazon-seq, s3rec, recbole, sessions, yoochoose, table)."""
    models: list[str]
    """Registered model names (``pop``, ``ease``...), ``package.module:Class`` or ``label=package.module:Class``."""
    protocol: str | None = None
    """Evaluation protocol; default: the format's published one (see ``DEFAULT_PROTOCOL``)."""
    filter_seen: bool | None = None
    """Exclude each history's items from its ranking; default: on for users, off for sessions."""
    ks: tuple[int, ...] = (10, 20)
    """Metric cut-offs."""
    sampled_negatives: int = 0
    """Also rank each target against this many sampled negatives (old papers' protocol; labelled)."""
    tune_trials: int = 0
    """Optuna trials per model on the validation split (0: the models' defaults / ``model_params``)."""
    tune_metric: str | None = None
    """Validation metric maximised by tuning; default ``ndcg@10``, ``mrr@20`` for session protocols."""
    max_valid_cases: int | None = None
    """Tune on a seeded sample of at most this many validation cases (all when None)."""
    model_tune_trials: dict[str, int] = {}
    """Trials per model name overriding ``tune_trials`` (e.g. fewer for a slow model)."""
    threads: int | None = None
    """BLAS / OpenMP threads of each model process (None: the libraries' defaults)."""
    model_params: dict[str, dict[str, Any]] = {}
    """Fixed hyperparameters per model name (the starting point of tuning)."""
    refit_with_valid: bool = True
    """Refit on train + validation targets before the one test evaluation."""
    seed: int = 0
    """Seed of the split's validation sample, tuning and sampled negatives."""
    batch_size: int = 1024
    """Histories scored per batch."""
    timeout_s: float | None = None
    """Give up on a model after this many seconds per process."""


def default_tune_metric(protocol: str) -> str:
    return "mrr@20" if protocol.startswith("session-prefix") else "ndcg@10"


def _dataset_name(path: str) -> str:
    p = Path(path)
    return p.name if p.is_dir() else f"{p.parent.name}/{p.name}"


def _item_text(store: Any, split: Any) -> list[str] | None:
    titles = {row.ext_id: row.title or "" for _, row in store.items()}
    if not any(titles.values()):
        return None
    return [titles.get(ext, "") for ext in split.items.ids]


def run_rec_bench(cfg: RecBenchConfig, on_event: Callable[[Event], None] | None = None,
                  work_dir: str | Path | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the report ``{dataset, protocol, models: {name: {...}}, ...}``.

    ``on_event`` receives progress events: ``("phase", label, total)``, ``("advance", n)``,
    ``("model_done", name, result)``.
    """
    emit = on_event or (lambda event: None)
    for name in cfg.models:
        resolve_model(name)  # unknown names fail before the import, with the list of known ones
    protocol = cfg.protocol or DEFAULT_PROTOCOL.get(cfg.format)
    if protocol is None:
        raise ConfigError(f"format {cfg.format!r} has no default protocol: pass --protocol ({', '.join(PROTOCOLS)})")
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; use one of: {', '.join(PROTOCOLS)}")
    filter_seen = default_filter_seen(protocol) if cfg.filter_seen is None else cfg.filter_seen
    opts = EvalOptions(ks=tuple(sorted(set(cfg.ks))), filter_seen=filter_seen,
                       sampled_negatives=cfg.sampled_negatives, batch_size=cfg.batch_size, seed=cfg.seed)
    tune_metric = cfg.tune_metric or default_tune_metric(protocol)
    with tempfile.TemporaryDirectory(prefix="shopsage-bench-rec-", dir=work_dir) as tmp:
        emit(("phase", f"importing {cfg.data}", 0))
        started = time.perf_counter()
        store = open_store(f"sqlite:///{tmp}/bench.db")
        try:
            summary = run_import(store, get_importer(cfg.format, cfg.data))
            import_seconds = time.perf_counter() - started
            emit(("phase", f"{protocol} split", 0))
            split = make_split(store, protocol, seed=cfg.seed)
            item_text = _item_text(store, split)
        finally:
            store.close()
        split_dir = save_split(split, Path(tmp) / "split", item_text=item_text)
        report: dict[str, Any] = {
            "dataset": _dataset_name(cfg.data), "format": cfg.format, "protocol": protocol,
            "ranking": "full (all items)" + (f"; also sampled-{cfg.sampled_negatives}" if cfg.sampled_negatives else ""),
            "filter_seen": filter_seen, "n_items": split.n_items, "n_train_sequences": len(split.train),
            "n_train_interactions": int(len(split.train.items)), "n_valid_cases": len(split.valid),
            "n_test_cases": len(split.test), "events_imported": summary.by_kind.get("events", 0),
            "import_seconds": round(import_seconds, 2), "tune_trials": cfg.tune_trials,
            "tune_metric": f"valid/{tune_metric}" if cfg.tune_trials else None,
            "refit_with_valid": cfg.refit_with_valid, "models": {},
        }
        for name in cfg.models:
            result = _run_model(name, cfg, str(split_dir), opts, tune_metric, tmp, emit)
            report["models"][model_label(name)] = result
            emit(("model_done", model_label(name), result))
    return report


def _run_model(name: str, cfg: RecBenchConfig, split_dir: str, opts: EvalOptions, tune_metric: str,
               tmp: str, emit: Callable[[Event], None]) -> dict[str, Any]:
    params = dict(cfg.model_params.get(model_label(name), {}))
    tuning: dict[str, Any] | None = None
    trials = cfg.model_tune_trials.get(model_label(name), cfg.tune_trials)
    if trials > 0:
        tune_opts = EvalOptions(ks=opts.ks, filter_seen=opts.filter_seen, batch_size=opts.batch_size,
                                beyond=False, auc=False, seed=opts.seed)
        job = ModelJob(name, split_dir, mode="tune", config=params, opts=tune_opts, tune_trials=trials,
                       tune_metric=tune_metric, max_valid_cases=cfg.max_valid_cases, seed=cfg.seed,
                       threads=cfg.threads)
        started = time.perf_counter()
        tuning = run_job(job, tmp, emit, cfg.timeout_s)
        if tuning.get("status") != "ok":
            return {**tuning, "stage": "tuning"}
        tuning["seconds"] = round(time.perf_counter() - started, 1)
        params = tuning["params"]
    job = ModelJob(name, split_dir, mode="final", config=params, opts=opts, refit_with_valid=cfg.refit_with_valid,
                   seed=cfg.seed, threads=cfg.threads)
    result = run_job(job, tmp, emit, cfg.timeout_s)
    if tuning is not None:
        result["tuning"] = {k: tuning[k] for k in ("metric", "best_value", "n_valid_cases", "seconds", "trials")}
    return result

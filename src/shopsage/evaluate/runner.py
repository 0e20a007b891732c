"""Train and score one model in its own child process, so its peak memory is its own.

The parent computes the split once and saves it (:func:`~shopsage.evaluate.protocols.save_split`);
every child (``multiprocessing`` spawn: a fresh interpreter) loads the identical files, optionally
tunes on validation (in a separate child, so the search's memory is not charged to the model),
fits, and scores the test cases once. ``peak_rss_mb`` is the child's peak resident memory
(``getrusage``) at the end of training, including the interpreter, the libraries and the split
(``rss_before_fit_mb`` says how much of it was there before ``fit``); ``peak_rss_eval_mb`` the
peak after scoring. Progress goes back to the parent through a queue.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing as mp
import queue as queue_mod
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopsage.errors import CapacityError, ConfigError, ShopSageError
from shopsage.evaluate.protocols import EvalOptions
from shopsage.recommend import MODELS, Recommender, model_class

__all__ = ["ModelJob", "resolve_model", "run_job", "model_names", "model_label"]

Event = tuple[Any, ...]


@dataclass(frozen=True)
class ModelJob:
    """What one child process does: ``mode`` is ``"tune"`` (search on validation, return the best
    params) or ``"final"`` (fit with ``config``, score the test cases once). ``threads`` caps the
    child's BLAS and OpenMP thread pools (None: the libraries' defaults)."""

    name: str
    split_dir: str
    mode: str = "final"
    config: dict[str, Any] = field(default_factory=dict)
    opts: EvalOptions = field(default_factory=EvalOptions)
    refit_with_valid: bool = True
    tune_trials: int = 0
    tune_metric: str = "ndcg@10"
    max_valid_cases: int | None = None
    seed: int = 0
    threads: int | None = None


def model_names() -> list[str]:
    """Names registered in :data:`shopsage.recommend.MODELS`."""
    return sorted(MODELS)


def model_label(name: str) -> str:
    """The name a model is reported under: ``label`` of ``label=package.module:Class``, else the name."""
    return name.split("=", 1)[0] if "=" in name else name


def resolve_model(name: str) -> type[Recommender]:
    """The recommender class of a registered ``name`` (``ease``: :func:`shopsage.recommend.model_class`,
    the one name resolver), or, as an extension for benchmarks, of ``package.module:Class`` or
    ``label=package.module:Class`` (reported as ``label``)."""
    name = name.split("=", 1)[1] if "=" in name else name
    if ":" not in name:
        try:
            return model_class(name)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (or give module.path:ClassName)") from None
    module, _, attr = name.partition(":")
    try:
        found: type[Recommender] = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load model class {name!r}: {exc}. Give module.path:ClassName.") from None
    return found


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def _child(job: ModelJob, events: Any, result_path: str) -> None:
    def send(*event: Any) -> None:
        events.put(event)

    if job.threads:  # BLAS and OpenMP pools of this process (a loaded shared machine: 1 is fastest)
        from threadpoolctl import threadpool_limits

        threadpool_limits(job.threads)
    try:
        result = _run_in_child(job, send)
    except CapacityError as exc:
        result = {"status": "refused", "message": str(exc)}
    except ShopSageError as exc:
        result = {"status": "failed", "message": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # a model bug must not stop the other models' runs
        tail = "".join(traceback.format_exception(exc)[-3:]).strip()
        result = {"status": "failed", "message": f"{type(exc).__name__}: {exc}", "traceback": tail}
    Path(result_path).write_text(json.dumps(result, default=float), encoding="utf-8")


def _run_in_child(job: ModelJob, send: Callable[..., None]) -> dict[str, Any]:
    from shopsage.evaluate.protocols import evaluate, load_split
    from shopsage.recommend.base import TrainData

    model_cls = resolve_model(job.name)
    split, item_text = load_split(job.split_dir)
    if job.mode == "tune":
        from shopsage.evaluate.tuning import tune

        send("phase", f"{model_label(job.name)}: tuning on validation", job.tune_trials)
        return {"status": "ok", **tune(model_cls, split, n_trials=job.tune_trials, metric=job.tune_metric,
                                       opts=job.opts, base_config=job.config, item_text=item_text,
                                       max_valid_cases=job.max_valid_cases, seed=job.seed,
                                       on_trial=lambda i, v: send("advance", 1))}
    data = TrainData.from_split(split, with_valid_targets=job.refit_with_valid, item_text=item_text)
    rss_before = _peak_mb()
    send("phase", f"{model_label(job.name)}: fit", 1)
    model = model_cls(**job.config)
    started = time.perf_counter()
    model.fit(data)
    train_seconds = time.perf_counter() - started
    peak_fit = _peak_mb()
    send("advance", 1)
    send("phase", f"{model_label(job.name)}: scoring {len(split.test):,} test cases", len(split.test))
    started = time.perf_counter()
    metrics = evaluate(model, split.test, split.n_items, job.opts, train=data.sequences,
                       on_progress=lambda n: send("advance", n))
    return {"status": "ok", **metrics, "train_seconds": round(train_seconds, 2),
            "eval_seconds": round(time.perf_counter() - started, 2), "peak_rss_mb": peak_fit,
            "rss_before_fit_mb": rss_before, "peak_rss_eval_mb": _peak_mb(),
            "params": model.config.model_dump(mode="json")}


def run_job(job: ModelJob, work_dir: str | Path, on_event: Callable[[Event], None] | None = None,
            timeout_s: float | None = None) -> dict[str, Any]:
    """Run ``job`` in a fresh spawned process; its result dict (``status`` ok, refused or failed)."""
    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    result_path = Path(work_dir) / f"result-{model_label(job.name).replace(':', '_')}-{job.mode}-{time.time_ns()}.json"
    proc = ctx.Process(target=_child, args=(job, events, str(result_path)), daemon=True)
    started = time.perf_counter()
    proc.start()
    while True:
        try:
            event = events.get(timeout=0.2)
            if on_event is not None:
                on_event(event)
            continue
        except queue_mod.Empty:
            pass
        if not proc.is_alive():
            break
        if timeout_s is not None and time.perf_counter() - started > timeout_s:
            proc.kill()
            proc.join()
            return {"status": "failed", "message": f"ran past the time limit of {timeout_s:.0f} s"}
    proc.join()
    if not result_path.is_file():
        return {"status": "failed", "message": f"the model's process died (exit code {proc.exitcode}; "
                                               "-9 usually means it ran out of memory)"}
    result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    return result

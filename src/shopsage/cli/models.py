"""``shopsage models list|promote|rollback``: the model registry."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from shopsage.cli.console import console, run_or_fail
from shopsage.registry import ModelRegistry

__all__ = ["models_app"]

models_app = typer.Typer(help="Trained models: list versions, promote one, roll back.", no_args_is_help=True)


def _registry(ctx: typer.Context, root: Path | None) -> ModelRegistry:
    from shopsage.cli.data_commands import config_of

    return ModelRegistry(root if root is not None else config_of(ctx).paths.home / "models")


ROOT_HELP = "Registry folder (default: <home>/models, home from the config or $SHOPSAGE_HOME)."
ENGINE_HELP = ("Search engine root (a folder with CURRENT): re-embed the catalogue with the promoted encoder and "
               "swap the vector index atomically. Without it only the registry's live pointer moves.")
STORE_HELP = "Store URL whose items are re-embedded (default: the configured store)."


def _swap_engine(ctx: typer.Context, name: str, version: str | None, engine: Path, store_url: str | None,
                 cache: Path | None, root: Path | None) -> None:
    from shopsage.cli.data_commands import config_of, default_store
    from shopsage.data.stores import open_store
    from shopsage.finetune.publish import promote_encoder, rollback_encoder

    reg = _registry(ctx, root)
    store = run_or_fail(lambda: open_store(store_url or default_store(ctx)))
    rows = [row for _, row in store.items()]  # type: ignore[attr-defined]
    cache_dir = str(cache if cache is not None else config_of(ctx).paths.home / "cache" / "embeddings")
    log = console.print
    if version is None:
        run_or_fail(lambda: rollback_encoder(reg, name, engine, rows, cache_dir, log))
    else:
        run_or_fail(lambda: promote_encoder(reg, name, version, engine, rows, cache_dir, log))


@models_app.command("list")
def list_models(ctx: typer.Context, name: str = typer.Argument(None, help="Only this model."),
                root: Path = typer.Option(None, "--root", help=ROOT_HELP)) -> None:
    """Every version of every model, with its method, data fingerprint and metrics."""
    reg = _registry(ctx, root)
    table = Table("model", "version", "live", "kind", "method", "data", "metrics")
    for model in [name] if name else reg.names():
        for v in run_or_fail(lambda model=model: reg.versions(model)):  # type: ignore[union-attr]
            cfg = v.manifest.get("config", {})
            table.add_row(v.name, v.version, "*" if v.current else "", v.manifest.get("kind", ""),
                          str(cfg.get("method", "")), str(v.manifest.get("data_fingerprint", "")),
                          json.dumps(v.manifest.get("metrics", {}), sort_keys=True))
    console.print(table)


@models_app.command("promote")
def promote(ctx: typer.Context, name: str, version: str, root: Path = typer.Option(None, "--root", help=ROOT_HELP),
            engine: Path = typer.Option(None, "--engine", help=ENGINE_HELP),
            store: str = typer.Option(None, "--store", help=STORE_HELP),
            cache: Path = typer.Option(None, "--cache", help="Embedding cache folder (default: <home>/cache/embeddings).")) -> None:
    """Make VERSION of NAME the live model (with --engine: re-embed the catalogue and swap the index)."""
    if engine is not None:
        _swap_engine(ctx, name, version, engine, store, cache, root)
        return
    v = run_or_fail(lambda: _registry(ctx, root).promote(name, version))
    console.print(f"{name}: {v.version} is live")  # type: ignore[attr-defined]


@models_app.command("rollback")
def rollback(ctx: typer.Context, name: str, root: Path = typer.Option(None, "--root", help=ROOT_HELP),
             engine: Path = typer.Option(None, "--engine", help=ENGINE_HELP),
             store: str = typer.Option(None, "--store", help=STORE_HELP),
             cache: Path = typer.Option(None, "--cache", help="Embedding cache folder (default: <home>/cache/embeddings).")) -> None:
    """Return NAME to the version that was live before the current one (with --engine: its vectors too)."""
    if engine is not None:
        _swap_engine(ctx, name, None, engine, store, cache, root)
        return
    v = run_or_fail(lambda: _registry(ctx, root).rollback(name))
    console.print(f"{name}: back to {v.version}")  # type: ignore[attr-defined]


@models_app.command("finetune")
def finetune(
    ctx: typer.Context,
    name: str = typer.Argument("encoder", help="Registry name of the encoder (a new version is added)."),
    sources: str = typer.Option("search,judgments", "--sources",
                                help="Comma list of search (query -> clicked/carted/bought item events), judgments "
                                "(query -> item graded >= --min-grade), sequences (item -> next item)."),
    method: str = typer.Option("lora", "--method", help="lora (small adapter, the default) or full."),
    tower: str = typer.Option("query", "--tower", help="query: train the query side only, the catalogue keeps its "
                              "vectors (no re-embedding on promotion); both: one encoder for both sides."),
    epochs: int = typer.Option(1, "--epochs"),
    max_steps: int = typer.Option(None, "--max-steps", help="Stop after this many steps (default: the epochs)."),
    batch_size: int = typer.Option(64, "--batch-size"),
    learning_rate: float = typer.Option(None, "--lr", help="Default: 5e-4 for lora, 5e-5 for full."),
    hard: int = typer.Option(1, "--hard", help="Mined hard negatives per pair (BM25 and base-encoder results)."),
    near: int = typer.Option(None, "--near", help="sequences: keep pairs whose next item is among the anchor's "
                             "NEAR nearest items by text."),
    wise: str = typer.Option("", "--wise", help="WiSE-FT: comma list of blend weights in (0, 1] to try after "
                             "training (e.g. 0.3,0.5,0.7,1.0); empty: early stopping."),
    average_from: float = typer.Option(None, "--average-from", help="Weight averaging (SWA): from this share of the "
                                       "steps on, evaluations score the running mean of the weights, and early "
                                       "stopping may keep it (e.g. 0.25)."),
    min_grade: float = typer.Option(2.0, "--min-grade"),
    dev_fraction: float = typer.Option(0.1, "--dev-fraction", help="Share of anchors held out to judge the model."),
    eval_every: int = typer.Option(100, "--eval-every"),
    max_length: int = typer.Option(64, "--max-length", help="Word pieces per text in training."),
    threads: int = typer.Option(2, "--threads"),
    precision: str = typer.Option("auto", "--precision", help="auto (bf16 autocast where the processor computes "
                                  "bf16 natively: 1.5x faster steps on such CPUs), bf16 or fp32."),
    symmetric: bool = typer.Option(True, "--symmetric/--one-way", help="Symmetric loss: each product must also "
                                   "pick its query among the batch's queries (better on Home Depot), or one-way MNRL."),
    base_model: Path = typer.Option(None, "--base-model", help="A sentence-transformers directory "
                                    "(default: the packaged all-MiniLM-L6-v2)."),
    store: str = typer.Option(None, "--store", help=STORE_HELP.replace("re-embedded", "read")),
    root: Path = typer.Option(None, "--root", help=ROOT_HELP),
    cache: Path = typer.Option(None, "--cache", help="Embedding cache folder (default: <home>/cache/embeddings)."),
) -> None:
    """Fine-tune the text encoder on the store's own logs; register the version with its dev figures."""
    from pydantic import ValidationError as ConfigInvalid

    from shopsage.cli.console import fail
    from shopsage.cli.data_commands import config_of, default_store
    from shopsage.data.stores import open_store
    from shopsage.finetune.job import FineTuneJob, run_job
    from shopsage.finetune.trainer import FineTuneConfig
    from shopsage.text import default_model_path

    try:
        alphas = [float(a) for a in wise.split(",") if a.strip()]
        training = FineTuneConfig(method=method, tower=tower, epochs=epochs, max_steps=max_steps,  # type: ignore[arg-type]
                                  batch_size=batch_size, eval_every=eval_every, max_length=max_length, threads=threads,
                                  learning_rate=learning_rate or (5e-4 if method == "lora" else 5e-5),
                                  wise_alphas=alphas, precision=precision, symmetric=symmetric,
                                  average_from=average_from)
        job = FineTuneJob(sources=[s.strip() for s in sources.split(",") if s.strip()],  # type: ignore[misc]
                          near=near, hard_negatives=hard, min_grade=min_grade, dev_fraction=dev_fraction,
                          training=training)
    except ConfigInvalid as exc:
        fail("invalid fine-tuning settings: " + "; ".join(
            (f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']} (got {e.get('input')!r})" if e["loc"]
             else e["msg"]) for e in exc.errors()))
    except ValueError as exc:
        fail(f"--wise takes comma-separated numbers in (0, 1], e.g. 0.3,0.5,1.0: {exc}")
    reg = _registry(ctx, root)
    db = run_or_fail(lambda: open_store(store or default_store(ctx)))
    cache_dir = str(cache if cache is not None else config_of(ctx).paths.home / "cache" / "embeddings")
    base = str(base_model) if base_model is not None else default_model_path()
    report = run_or_fail(lambda: run_job(db, reg, name, job, base, cache_dir, log=console.print,  # type: ignore[arg-type]
                                         progress=True))
    r = report  # type: ignore[assignment]
    console.print(f"{name} {r.version.version}: {r.pairs} training pairs {r.sources}; dev nDCG@10 over "  # type: ignore[attr-defined]
                  f"{r.dev_anchors} held-out anchors: base {r.zero_shot:.4f}, tuned {r.tuned:.4f}")  # type: ignore[attr-defined]
    if r.improved:  # type: ignore[attr-defined]
        console.print(f"promote it with: shopsage models promote {name} {r.version.version} --engine <engine root>")  # type: ignore[attr-defined]
    else:
        console.print("the tuned model is not better than the base on dev: the saved version is the base "
                      "weights; keep serving the current model")

"""``shopsage models train|list|promote|rollback|finetune|retrain``: train for serving, and the model registry."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from shopsage.cli.console import console, json_object, run_or_fail
from shopsage.cli.data_commands import home_option
from shopsage.cli.retrain import retrain_command
from shopsage.registry import ModelRegistry

__all__ = ["models_app"]

models_app = typer.Typer(help="Trained models: list versions, promote one, roll back.", no_args_is_help=True)


def _registry(ctx: typer.Context, root: Path | None, home: Path | None = None) -> ModelRegistry:
    from shopsage.cli.data_commands import home_of

    return ModelRegistry(root if root is not None else home_of(ctx, home) / "models")


ROOT_HELP = "Registry folder (default: <home>/models)."
SHOWN_METRICS = ("ndcg@10", "hr@10", "hr@20", "mrr@20", "recall@100")
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


def _metrics_text(manifest: dict[str, object]) -> str:
    metrics = manifest.get("metrics") or {}
    assert isinstance(metrics, dict)
    if not metrics:
        return "-" if manifest.get("holdout") is False else ""
    shown = [k for k in SHOWN_METRICS if k in metrics] or sorted(metrics)[:4]
    return "\n".join(f"{k} {float(metrics[k]):.4f}" for k in shown)


def _when(ts: object) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(float(ts)).strftime("%m-%d %H:%M") if isinstance(ts, (int, float)) else ""


TRAIN_NAMES = ("pop, itemknn, ease, als, bpr, fbt, sknn, sasrec, gru4rec, ranker (the search ranker; with --scenario "
               "NAME a scenario's learned ranking stage, ranker-NAME), blend-session, blend-user")


@models_app.command("train")
def train(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=f"What to train: {TRAIN_NAMES}."),
    store: str = typer.Option(None, "--store", help="Store URL to learn from (default: the configured store)."),
    home: Path = home_option(),
    params: str = typer.Option(None, "--params", help="JSON of hyperparameters, e.g. '{\"reg\": 500}'; for a blend, "
                               "per part plus \"parts\": '{\"parts\": [\"sasrec\", \"sknn\"], \"sasrec\": {\"epochs\": 30}}'."),
    tune: int = typer.Option(0, "--tune", min=0, help="Optuna trials on the validation cases before the final fit."),
    holdout: bool = typer.Option(True, "--holdout/--no-holdout", help="Hold out the store's tail (leave-one-out, "
                                 "session prefixes or judged queries) and record the figures on it; --no-holdout "
                                 "trains on everything and records none."),
    protocol: str = typer.Option(None, "--protocol", help="leave-one-out, temporal, session-prefix (default: the one "
                                 "that fits the data)."),
    promote: bool = typer.Option(False, "--promote", help="Make the new version live at once."),
    if_better: str = typer.Option(None, "--if-better", metavar="METRIC", help="With --promote: only when it beats "
                                  "the live version on this held-out metric."),
    seed: int = typer.Option(0, "--seed"),
    max_test_cases: int = typer.Option(None, "--max-test-cases", help="Score a seeded sample of the tail (faster)."),
    scenario: str = typer.Option(None, "--scenario", help="With ranker: train that scenario's learned ranking stage "
                                 "(registered as ranker-SCENARIO; simulated clicks over its fused candidates) instead "
                                 "of the search ranker."),
    pipelines: Path = typer.Option(None, "--pipelines", help="With --scenario: the pipelines TOML the service serves "
                                   "(default: the built-in pipelines)."),
) -> None:
    """Train NAME on the store, score it on the store's held-out tail, register the version (manifest: figures)."""
    from shopsage.cli.data_commands import default_store, open_existing
    from shopsage.training import BLENDS, train_blend, train_recommender

    config: dict[str, object] = run_or_fail(lambda: json_object(params, "--params", '{"reg": 500}', what="hyperparameters"))
    if name in ("sasrec", "gru4rec"):
        config.setdefault("verbose", True)  # a line per epoch: training takes minutes
    reg = _registry(ctx, None, home)
    if scenario and scenario != "search":
        if name != "ranker":
            from shopsage.cli.console import fail

            fail(f"--scenario trains a scenario's ranker: use 'shopsage models train ranker --scenario {scenario}'.")
        name = f"ranker-{scenario}"
    db = open_existing(store or default_store(ctx, home))
    say = console.print

    def run() -> object:
        if name.startswith("ranker-"):
            from shopsage.serving.ranker_training import train_stage_ranker

            url = store or default_store(ctx, home)
            return train_stage_ranker(url, reg, name.removeprefix("ranker-"), config, pipelines, say)
        if name == "ranker":
            from shopsage.search.training import train_ranker_version

            return train_ranker_version(db, reg, config, say)
        if name in BLENDS or name.startswith("blend-"):
            parts = config.pop("parts", None)
            return train_blend(db, reg, name, parts=parts, params=config, holdout=holdout,  # type: ignore[arg-type]
                               protocol=protocol, seed=seed, max_test_cases=max_test_cases, say=say)
        return train_recommender(db, reg, name, params=config, tune=tune, holdout=holdout, protocol=protocol,
                                 seed=seed, max_test_cases=max_test_cases, say=say)

    try:
        version = run_or_fail(run)
    finally:
        db.close()  # type: ignore[attr-defined]
    v = version  # type: ignore[assignment]
    console.print(f"{name} {v.version} registered in {reg.root}: "
                  f"{_metrics_text(v.manifest).replace(chr(10), ', ') or 'no held-out figures'}")  # type: ignore[attr-defined]
    if promote:
        live = run_or_fail(lambda: reg.promote_if_better(name, v.version, if_better) if if_better  # type: ignore[attr-defined]
                           else reg.promote(name, v.version))  # type: ignore[attr-defined]
        console.print(f"{name}: {live.version} is live")  # type: ignore[attr-defined]
    else:
        console.print(f"make it live: shopsage models promote {name} {v.version} --if-better "  # type: ignore[attr-defined]
                      f"{'mrr@20' if str(v.manifest.get('protocol', '')).startswith('session') else 'ndcg@10'}")  # type: ignore[attr-defined]


@models_app.command("list")
def list_models(ctx: typer.Context, name: str = typer.Argument(None, help="Only this model."),
                root: Path = typer.Option(None, "--root", help=ROOT_HELP),
                home: Path = home_option(),
                as_json: bool = typer.Option(False, "--json", help="Print the manifests' figures as JSON.")) -> None:
    """Every version of every model: live or not, kind, held-out protocol and figures, data fingerprint."""
    reg = _registry(ctx, root, home)
    rows = []
    for model in [name] if name else reg.names():
        for v in run_or_fail(lambda model=model: reg.versions(model)):  # type: ignore[union-attr]
            rows.append(v)
    if as_json:
        console.print_json(json.dumps([{"name": v.name, "version": v.version, "live": v.current,
                                        "kind": v.manifest.get("kind"), "protocol": v.manifest.get("protocol"),
                                        "metrics": v.manifest.get("metrics", {}),
                                        "data_fingerprint": v.manifest.get("data_fingerprint")} for v in rows]))
        return
    table = Table("model", "version", "live", "kind", "held-out tail", "metrics", "data", "trained")
    for v in rows:
        m = v.manifest
        protocol = str(m.get("protocol") or ("none" if m.get("holdout") is False else ""))
        n_test = (m.get("data") or {}).get("n_test_cases") if isinstance(m.get("data"), dict) else None
        if n_test:
            protocol += f" ({n_test:,} cases)"
        table.add_row(v.name, v.version, "*" if v.current else "", str(m.get("kind", "")).split("/")[-1], protocol,
                      _metrics_text(m), str(m.get("data_fingerprint", ""))[:8], _when(m.get("created_at")))
    if not rows:
        console.print(f"no models in {reg.root} (train one: shopsage models train NAME --store URL)")
        return
    console.print(table)


@models_app.command("promote")
def promote(ctx: typer.Context, name: str, version: str, root: Path = typer.Option(None, "--root", help=ROOT_HELP),
            home: Path = home_option(),
            if_better: str = typer.Option(None, "--if-better", metavar="METRIC",
                                          help="Refuse unless VERSION beats the live version on this held-out metric "
                                          "(e.g. ndcg@10), both scored on the same held-out tail."),
            engine: Path = typer.Option(None, "--engine", help=ENGINE_HELP),
            store: str = typer.Option(None, "--store", help=STORE_HELP),
            cache: Path = typer.Option(None, "--cache", help="Embedding cache folder (default: <home>/cache/embeddings).")) -> None:
    """Make VERSION of NAME the live model (with --engine: re-embed the catalogue and swap the index)."""
    if engine is not None:
        _swap_engine(ctx, name, version, engine, store, cache, root)
        return
    reg = _registry(ctx, root, home)
    if if_better:
        v = run_or_fail(lambda: reg.promote_if_better(name, version, if_better))
    else:
        v = run_or_fail(lambda: reg.promote(name, version))
    console.print(f"{name}: {v.version} is live")  # type: ignore[attr-defined]


@models_app.command("rollback")
def rollback(ctx: typer.Context, name: str, root: Path = typer.Option(None, "--root", help=ROOT_HELP),
             home: Path = home_option(),
             engine: Path = typer.Option(None, "--engine", help=ENGINE_HELP),
             store: str = typer.Option(None, "--store", help=STORE_HELP),
             cache: Path = typer.Option(None, "--cache", help="Embedding cache folder (default: <home>/cache/embeddings).")) -> None:
    """Return NAME to the version that was live before the current one (with --engine: its vectors too)."""
    if engine is not None:
        _swap_engine(ctx, name, None, engine, store, cache, root)
        return
    v = run_or_fail(lambda: _registry(ctx, root, home).rollback(name))
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
    home: Path = home_option(),
    cache: Path = typer.Option(None, "--cache", help="Embedding cache folder (default: <home>/cache/embeddings)."),
) -> None:
    """Fine-tune the text encoder on the store's own logs; register the version with its dev figures."""
    from pydantic import ValidationError as ConfigInvalid

    from shopsage.cli.console import fail
    from shopsage.cli.data_commands import default_store, home_of, open_existing
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
    reg = _registry(ctx, root, home)
    db = open_existing(store or default_store(ctx, home))
    cache_dir = str(cache if cache is not None else home_of(ctx, home) / "cache" / "embeddings")
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


models_app.command("retrain")(retrain_command)  # shopsage models retrain (cli/retrain.py)

"""``shopsage bench serve``: the served pipelines scored through the service object (thin: parse, call, print)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from shopsage.cli.bench import bench_app
from shopsage.cli.console import console, err_console, json_object, run_or_fail


@bench_app.command("serve")
def bench_serve(
    ctx: typer.Context,
    scenario: str = typer.Option(..., "--scenario", help="for_you (leave-one-out), next_in_session (session prefixes) "
                                 "or search (a data set with judgments: held-out queries)."),
    data: Path = typer.Option(..., "--data", help="File or folder of the data set (read in place)."),
    fmt: str = typer.Option(..., "--format", help="Import format (amazon-seq, recbole, sessions, ...)."),
    json_out: Path = typer.Option(..., "--json", help="Write the JSON report here."),
    home: Path = typer.Option(None, "--home", help="Folder of the bench's stores and registry, reused across runs "
                              "(default: <config home>/bench/<scenario>-<data set>)."),
    pipelines: Path = typer.Option(None, "--pipelines", help="Pipelines TOML (default: the built-in ones)."),
    params: str = typer.Option(None, "--params", help="JSON of hyperparameters per model trained for the bench, "
                               "e.g. '{\"sasrec\": {\"epochs\": 30}}'."),
    max_cases: int = typer.Option(None, "--max-cases", help="Score a seeded sample of the test cases."),
    latency_requests: int = typer.Option(1000, "--latency-requests"),
    seed: int = typer.Option(0, "--seed"),
    semantic: bool = typer.Option(True, "--semantic/--no-semantic", help="search: serve with the text encoder."),
    encoder: str = typer.Option(None, "--encoder", help="search: the text encoder's model directory."),
) -> None:
    """Score a served scenario on its published protocol through the in-process service, beside each model alone."""
    from shopsage.cli.data_commands import config_of
    from shopsage.serving.bench import ServeBenchConfig, run_serve_bench

    def build() -> ServeBenchConfig:
        p = json_object(params, "--params", '{"sasrec": {"epochs": 30}}', dict, "model names to objects")
        where = home or config_of(ctx).paths.home / "bench" / f"{scenario}-{data.name}"
        return ServeBenchConfig(scenario=scenario, data=str(data), format=fmt, home=where,  # type: ignore[arg-type]
                                pipelines=pipelines, params=p, max_cases=max_cases,
                                latency_requests=latency_requests, seed=seed, semantic=semantic, encoder=encoder)

    cfg: ServeBenchConfig = run_or_fail(build)  # type: ignore[assignment]
    report = run_or_fail(lambda: run_serve_bench(cfg, say=err_console.print))
    report["command"] = "shopsage bench serve " + " ".join(sys.argv[3:])  # type: ignore[index]
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    r: dict = report  # type: ignore[assignment,type-arg]
    console.print(f"served {r['scenario']}: " + ", ".join(f"{k} {v:.4f}" for k, v in r["served"].items()))
    for name, m in r.get("models_alone", {}).items():
        console.print(f"  {name} alone: " + ", ".join(f"{k} {v:.4f}" for k, v in m.items()))
    console.print(f"latency p50 {r['latency_ms']['p50']} ms, p99 {r['latency_ms']['p99']} ms")

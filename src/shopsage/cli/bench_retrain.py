"""``shopsage bench retrain`` (prequential replay: retrained vs trained once) and ``shopsage bench
segments`` (segment throughput): thin, the work is in :mod:`shopsage.training.prequential` and
:mod:`shopsage.serving.segments_bench`."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import typer

from shopsage.cli.bench import bench_app
from shopsage.cli.console import err_console, run_or_fail
from shopsage.cli.data_commands import config_of


@bench_app.command("retrain")
def bench_retrain(
    ctx: typer.Context,
    data: Path = typer.Option(None, "--data", help="A yoochoose folder (timestamped clicks); default: <data dir>/yoochoose-100k."),
    model: str = typer.Option("itemknn", "--model", help="The recommender retrained (registry name = kind)."),
    warmup_hours: float = typer.Option(48.0, "--warmup-hours", help="Event time that trains the first version."),
    every_hours: float = typer.Option(12.0, "--every-hours", help="Window between retrains (and scoring)."),
    max_cases: int = typer.Option(5000, "--max-cases", help="Cases scored per window (seeded sample)."),
    json_out: Path = typer.Option(..., "--json", help="Write the JSON report here; Markdown (.md) and a plot (.png) beside it."),
) -> None:
    """Replay timestamped events in time order; score a once-trained model and one retrained as the service
    would (``shopsage models retrain``'s gate) on each window before it is stored."""
    from shopsage.data.importers import get_importer
    from shopsage.data.rows import EventRow
    from shopsage.data.stores import open_store
    from shopsage.registry import ModelRegistry
    from shopsage.training.prequential import plot_replay, prequential_replay

    folder = data or config_of(ctx).paths.data_dir / "yoochoose-100k"
    events = [r for r in get_importer("yoochoose", str(folder)).records() if isinstance(r, EventRow)]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/replay.db")
        try:
            report = run_or_fail(lambda: prequential_replay(  # type: ignore[arg-type]
                events, store, ModelRegistry(Path(tmp) / "models"), model, warmup_s=warmup_hours * 3600,
                every_s=every_hours * 3600, max_cases=max_cases, say=lambda m: err_console.print(m)))
        finally:
            store.close()
    out = report.as_dict()  # type: ignore[attr-defined]
    out["command"] = "shopsage bench retrain " + " ".join(sys.argv[3:])
    from shopsage.serving.drift import DriftConfig, replay_drift

    hourly = replay_drift([(r.type, r.item, float(r.ts)) for r in events if r.ts is not None],
                          DriftConfig.model_validate({"window_s": 3600.0}))
    out["drift_hourly"] = {"windows": len(hourly)}
    for key in ("popularity", "popularity_vs_usual", "event_mix"):
        vals = [w[key] for w in hourly if key in w]
        out["drift_hourly"][key] = {q: round(float(np.quantile(vals, p)), 4) for q, p in
                                    (("p10", 0.1), ("p50", 0.5), ("p90", 0.9), ("max", 1.0))} if vals else {}
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(out, indent=2), encoding="utf-8")
    plot_replay(report, json_out.with_suffix(".png"))  # type: ignore[arg-type]
    md = json_out.with_suffix(".md")
    m = out["metric"]
    lines = [f"# Prequential replay: {model} retrained vs trained once ({m})", "", f"`{out['command']}`", "",
             "| window | events | cases | once | retrained | live version | retrain decision | retrain s |",
             "|---:|---:|---:|---:|---:|---|---|---:|"]
    for i, c in enumerate(out["checkpoints"], 1):
        lines.append(f"| {i} | {c['events']:,} | {c['cases']:,} | {c['once'][m]:.4f} | {c['retrained'][m]:.4f} | "
                     f"{c['live_version']} | {c['decision']} | {c['retrain_seconds']:.1f} |")
    s = out["summary"]
    lines += ["", f"mean once {s['mean_once']:.4f}, mean retrained {s['mean_retrained']:.4f}; never worse: "
              f"{s['never_worse']}; promotions: {s['promotions']}; slowest retrain {s['max_retrain_seconds']:.1f} s"]
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    typer.echo(md.read_text(encoding="utf-8"))


@bench_app.command("retrain-time")
def bench_retrain_time(
    ctx: typer.Context,
    data: Path = typer.Option(None, "--data", help="The data set (default: <data dir>/amazon-scientific, the demo's)."),
    fmt: str = typer.Option("recbole", "--format", help="Its import format."),
    models: str = typer.Option("pop,itemknn,ease,fbt,sknn,als", "--models", help="The champions (the demo's models)."),
    new_fraction: float = typer.Option(0.1, "--new-fraction", help="Newest share of the events that arrives after "
                                       "the champions were trained."),
    latency_s: float = typer.Option(20.0, "--latency-s", help="Seconds of for_you requests for the baseline p99 "
                                    "(before and again after the retrain)."),
    threads: int = typer.Option(1, "--threads", min=1, help="Numeric threads of the retrain child."),
    home: Path = typer.Option(None, "--home", help="Work folder (default: a temporary one)."),
    json_out: Path = typer.Option(..., "--json", help="Write the JSON report here."),
) -> None:
    """Time ``shopsage models retrain`` (a nice'd child, as the service runs it) after new events, and the
    served for_you p99 during it against before."""
    from shopsage.serving.retrain_bench import retrain_timing

    folder = str(data or config_of(ctx).paths.data_dir / "amazon-scientific")
    with tempfile.TemporaryDirectory() as tmp:
        out: dict[str, object] = run_or_fail(lambda: retrain_timing(  # type: ignore[assignment]
            folder, fmt, home or Path(tmp), [m.strip() for m in models.split(",") if m.strip()],
            new_fraction=new_fraction, latency_s=latency_s, threads=threads, say=lambda m: err_console.print(m)))
    out["command"] = "shopsage bench retrain-time " + " ".join(sys.argv[3:])
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(out, indent=2), encoding="utf-8")
    typer.echo(json.dumps(out, indent=2))

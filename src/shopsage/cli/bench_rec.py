"""``shopsage bench rec``: recommenders on a published protocol (thin: parse, call the library, print)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from shopsage.cli.bench import bench_app
from shopsage.cli.console import console, err_console, json_object, run_or_fail
from shopsage.errors import ConfigError


def _parse_params(text: str | None) -> dict[str, dict[str, Any]]:
    return json_object(text, "--params", '{"ease": {"reg": 500}}', dict, "model names to objects")


def _parse_trials(text: str | None) -> dict[str, int]:
    return json_object(text, "--tune-trials", '{"ease": 3}', int, "model names to numbers of trials")


class _Bars:
    """One rich progress bar per phase, fed by the benchmark's events."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def __call__(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "phase":
            if self.task is not None:
                self.progress.update(self.task, completed=self.progress.tasks[-1].total or 0)
            total = event[2] or None
            self.task = self.progress.add_task(event[1], total=total)
        elif kind == "advance" and self.task is not None:
            self.progress.advance(self.task, event[1])
        elif kind == "model_done":
            res = event[2]
            if res.get("status") == "ok":
                shown = ", ".join(f"{k} {v:.4f}" for k, v in res.items() if k in ("hr@10", "ndcg@10", "hr@20", "mrr@20"))
                err_console.print(f"{event[1]}: {shown}; train {res['train_seconds']} s, peak {res['peak_rss_mb']} MB")
            else:
                err_console.print(f"{event[1]}: {res.get('status')}: {res.get('message')}")


@bench_app.command("rec")
def bench_rec(
    data: Path = typer.Option(..., "--data", help="File or folder to import (read in place)."),
    fmt: str = typer.Option(..., "--format", help="Import format, as in `shopsage import` (amazon-seq, s3rec, "
                                                  "recbole, sessions, yoochoose, table)."),
    models: str = typer.Option(..., "--models", help="Comma-separated model names: pop,itemknn,ease,als,bpr,fbt,sknn,..."),
    json_out: Path = typer.Option(..., "--json", help="Write the JSON report here."),
    md_out: Path = typer.Option(None, "--md", help="Markdown table (default: the JSON path with .md)."),
    plot_out: Path = typer.Option(None, "--plot", help="PNG plot (default: the JSON path with .png)."),
    protocol: str = typer.Option(None, "--protocol", help="leave-one-out, temporal, session-prefix or "
                                                          "session-prefix-expanded (default: the format's)."),
    filter_seen: bool = typer.Option(None, "--filter-seen/--no-filter-seen",
                                     help="Exclude history items from rankings (default: on for users, off for sessions)."),
    ks: str = typer.Option("10,20", "--ks", help="Metric cut-offs."),
    sampled: int = typer.Option(0, "--sampled", help="Also report sampled-N ranking (old papers' protocol, labelled)."),
    tune: int = typer.Option(0, "--tune", help="Optuna trials per model on the validation split (0: no tuning)."),
    tune_metric: str = typer.Option(None, "--tune-metric", help="Validation metric to maximise (default ndcg@10, "
                                                                "mrr@20 for sessions)."),
    max_valid: int = typer.Option(None, "--max-valid", help="Tune on a seeded sample of this many validation cases."),
    params: str = typer.Option(None, "--params", help="JSON of fixed hyperparameters per model, "
                                                      "e.g. '{\"ease\": {\"reg\": 500}}'."),
    refit: bool = typer.Option(True, "--refit/--no-refit", help="Refit on train + validation targets before the "
                               "test evaluation (--no-refit: train only, validation left for early stopping)."),
    tune_trials: str = typer.Option(None, "--tune-trials", help="JSON of trials per model overriding --tune, "
                                                                 "e.g. '{\"ease\": 3}'."),
    threads: int = typer.Option(None, "--threads", help="BLAS/OpenMP threads per model process (default: all)."),
    seed: int = typer.Option(0, "--seed"),
    timeout: float = typer.Option(None, "--timeout", help="Seconds allowed per model process."),
) -> None:
    """Train and score recommenders on one split (each model in its own process): JSON, Markdown, PNG."""
    from shopsage.evaluate.bench_rec import RecBenchConfig, run_rec_bench
    from shopsage.evaluate.report import markdown_table, write_report

    def build() -> RecBenchConfig:
        if not all(k.strip().isdigit() and int(k) > 0 for k in ks.split(",")):
            raise ConfigError(f"--ks {ks!r} must be positive whole numbers separated by commas, e.g. 10,20")
        return RecBenchConfig(data=str(data), format=fmt, models=[m.strip() for m in models.split(",") if m.strip()],
                              protocol=protocol, filter_seen=filter_seen, ks=tuple(int(k) for k in ks.split(",")),
                              sampled_negatives=sampled, tune_trials=tune, tune_metric=tune_metric,
                              max_valid_cases=max_valid, model_params=_parse_params(params), seed=seed,
                              refit_with_valid=refit, threads=threads,
                              model_tune_trials=_parse_trials(tune_trials),
                              timeout_s=timeout)

    cfg: RecBenchConfig = run_or_fail(build)  # type: ignore[assignment]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, disable=not sys.stderr.isatty()) as progress:
        report: dict[str, Any] = run_or_fail(lambda: run_rec_bench(cfg, _Bars(progress)))  # type: ignore[assignment]
    report["command"] = "shopsage bench rec " + " ".join(sys.argv[3:])
    md = md_out or json_out.with_suffix(".md")
    png = plot_out or json_out.with_suffix(".png")
    write_report(report, json_out, md, png)
    console.print(markdown_table(report))

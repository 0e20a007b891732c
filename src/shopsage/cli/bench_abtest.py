"""``shopsage bench abtest``: the experiment machinery on a simulated shop with a known lift (thin)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from shopsage.cli.bench import bench_app
from shopsage.cli.console import err_console, run_or_fail


@bench_app.command("abtest")
def bench_abtest(
    json_out: Path = typer.Option(Path("benchmarks/results/abtest-simulated.json"), "--json",
                                  help="Write the JSON report here, and a Markdown table beside it (.md)."),
    runs: int = typer.Option(1000, "--runs", min=1, help="Seeded A/B runs, and as many A/A runs."),
    seed: int = typer.Option(0, "--seed", help="First seed (run i uses seed + i; the pilot its own)."),
    true_lift: float = typer.Option(0.05, "--true-lift", min=0.0, help="The treatment's true relative lift."),
    min_lift: float = typer.Option(0.05, "--min-lift", min=0.001, help="The lift the experiment is planned for."),
    metric: str = typer.Option("ctr", "--metric", help="ctr, add_to_cart_rate, conversion_rate or revenue_per_session."),
    peek_every: int = typer.Option(1000, "--peek-every", min=1, help="Sessions between two looks."),
) -> None:
    """Seeded A/B runs (true lift) and A/A runs on a simulated shop, each to the planned sample size with a
    look every --peek-every sessions: how often the sequential test detects the lift, and how often it
    raises a false alarm (against a z-test read at every look)."""
    from shopsage.evaluate.abtest_bench import SimShopConfig, run_abtest_bench, write_abtest_report

    cfg = run_or_fail(lambda: SimShopConfig.model_validate({"true_lift": true_lift, "min_lift": min_lift,
                                                            "metric": metric, "peek_every": peek_every}))
    report = run_or_fail(lambda: run_abtest_bench(cfg, runs, seed, log=lambda m: err_console.print(m)))
    md = write_abtest_report(report, json_out, command="shopsage bench abtest " + " ".join(sys.argv[3:]))
    typer.echo(md.read_text(encoding="utf-8"))

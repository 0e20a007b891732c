"""``shopsage bench abtest``: the experiment machinery on a simulated shop with a known lift (thin)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from shopsage.cli.bench import bench_app
from shopsage.cli.console import err_console, run_or_fail
from shopsage.errors import ConfigError


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
    allocation: str = typer.Option("split", "--allocation", help="split: the A/B and A/A runs above; bandit: "
                                   "bandit allocation against a 50/50 split of the same traffic, through the "
                                   "experiment's serving path and store (--runs pairs; --true-lift, --requests)."),
    requests: int = typer.Option(20_000, "--requests", min=10, help="--allocation bandit: requests per run."),
    policy: str = typer.Option("linucb", "--policy", help="--allocation bandit: linucb or lints."),
) -> None:
    """Seeded A/B runs (true lift) and A/A runs on a simulated shop, each to the planned sample size with a
    look every --peek-every sessions: how often the sequential test detects the lift, and how often it
    raises a false alarm (against a z-test read at every look). With --allocation bandit: regret and clicks
    of a bandit-allocated experiment against a 50/50 split, and the coverage of its report's intervals."""
    from shopsage.evaluate.abtest_bench import SimShopConfig, run_abtest_bench, write_abtest_report

    if allocation not in ("split", "bandit"):
        raise ConfigError(f"unknown --allocation {allocation!r}: use split or bandit.")
    if allocation == "bandit":
        from shopsage.evaluate.abtest_bandit_bench import (
            BanditShopConfig,
            run_bandit_abtest_bench,
            write_bandit_abtest_report,
        )

        bcfg = run_or_fail(lambda: BanditShopConfig.model_validate({"requests": requests, "true_lift": true_lift,
                                                                    "policy": policy}))
        out = json_out if json_out != Path("benchmarks/results/abtest-simulated.json") else \
            Path("benchmarks/results/abtest-bandit-simulated.json")
        r = run_or_fail(lambda: run_bandit_abtest_bench(bcfg, runs, seed, log=lambda m: err_console.print(m)))
        md = write_bandit_abtest_report(r, out, command="shopsage bench abtest " + " ".join(sys.argv[3:]))
        typer.echo(md.read_text(encoding="utf-8"))
        return

    cfg = run_or_fail(lambda: SimShopConfig.model_validate({"true_lift": true_lift, "min_lift": min_lift,
                                                            "metric": metric, "peek_every": peek_every}))
    report = run_or_fail(lambda: run_abtest_bench(cfg, runs, seed, log=lambda m: err_console.print(m)))
    md = write_abtest_report(report, json_out, command="shopsage bench abtest " + " ".join(sys.argv[3:]))
    typer.echo(md.read_text(encoding="utf-8"))

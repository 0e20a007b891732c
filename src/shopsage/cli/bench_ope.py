"""``shopsage bench ope``: off-policy evaluation on the Open Bandit Dataset (thin: parse, call the library, print)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from shopsage.cli.bench import bench_app
from shopsage.cli.console import err_console, run_or_fail
from shopsage.cli.data_commands import config_of
from shopsage.errors import ConfigError


@bench_app.command("ope")
def bench_ope(
    ctx: typer.Context,
    data: Path = typer.Option(None, "--data", help="The open-bandit folder (random/, bts/, prior_bts.yaml); default: "
                              "<data dir>/open-bandit ($SHOPSAGE_DATA_DIR, the config's paths.data_dir, else ../shared/data)."),
    campaign: str = typer.Option(..., "--campaign", help="all or men."),
    json_out: Path = typer.Option(..., "--json", help="Write the JSON report here, and a Markdown table beside it (.md)."),
    bootstrap: int = typer.Option(2000, "--bootstrap", min=10, help="Bootstrap resamples per confidence interval."),
    seed: int = typer.Option(12345, "--seed", help="Seed of the bootstrap, the reward model's folds and BTS's Monte Carlo."),
    n_sim: int = typer.Option(100_000, "--n-sim", min=1, help="Simulated BTS lists for its action probabilities."),
) -> None:
    """Estimate Bernoulli TS's click rate from the random policy's logs and the reverse with ips, snips, dm,
    dr, switch-dr and dr-os; compare each with the target policy's on-policy click rate."""
    from shopsage.data.open_bandit import CAMPAIGNS
    from shopsage.evaluate.ope import OPEConfig
    from shopsage.evaluate.ope_bench import run_open_bandit, write_ope_report

    if campaign not in CAMPAIGNS:
        raise ConfigError(f"unknown --campaign {campaign!r}: use {' or '.join(CAMPAIGNS)}.")
    root = data or config_of(ctx).paths.data_dir / "open-bandit"
    cfg = OPEConfig(n_bootstrap=bootstrap, seed=seed)
    report = run_or_fail(lambda: run_open_bandit(root, campaign, cfg, n_sim=n_sim,  # type: ignore[arg-type]
                                                 log=lambda m: err_console.print(m)))
    md = write_ope_report(report, json_out, command="shopsage bench ope " + " ".join(sys.argv[3:]))
    typer.echo(md.read_text(encoding="utf-8"))

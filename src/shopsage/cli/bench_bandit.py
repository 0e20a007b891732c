"""``shopsage bench bandit``: the linear bandit on the Open Bandit Dataset (thin: parse, call the library, print)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from shopsage.cli.bench import bench_app
from shopsage.cli.console import err_console, run_or_fail
from shopsage.cli.data_commands import config_of
from shopsage.errors import ConfigError


@bench_app.command("bandit")
def bench_bandit(
    ctx: typer.Context,
    data: Path = typer.Option(None, "--data", help="The open-bandit folder (random/, bts/, prior_bts.yaml); default: "
                              "<data dir>/open-bandit."),
    campaign: str = typer.Option(..., "--campaign", help="all or men."),
    json_out: Path = typer.Option(..., "--json", help="Write the JSON report here, and a Markdown table beside it (.md)."),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0, help="Confidence width (linucb) / posterior scale (lints); "
                                "0.05 is about the standard deviation of a 0.5% click."),
    epsilon: float = typer.Option(0.05, "--epsilon", min=0.0, max=1.0, help="Share of uniformly random lists."),
    reg: float = typer.Option(1.0, "--reg", min=1e-9, help="L2 regularisation of the ridge regression."),
    train_share: float = typer.Option(0.5, "--train-share", min=0.05, max=0.95, help="Share of each log (by time) used to train."),
    sim_steps: int = typer.Option(50_000, "--sim-steps", min=1, help="Simulator steps per run."),
    sim_seeds: int = typer.Option(3, "--sim-seeds", min=1, help="Simulator runs per policy."),
    bootstrap: int = typer.Option(2000, "--bootstrap", min=10, help="Bootstrap resamples per confidence interval."),
    seed: int = typer.Option(12345, "--seed", help="Seed of the bootstrap, the reward model's folds and the bandit."),
) -> None:
    """Train the bandit on the random policy's early logs; estimate its click rate on the held-out rows with
    every OPE estimator (beside random's and BTS's on-policy rates), replay it, and simulate it against a
    fixed most-clicked policy and epsilon-greedy."""
    from shopsage.data.open_bandit import CAMPAIGNS
    from shopsage.evaluate.bandit_bench import run_bandit_bench, write_bandit_report
    from shopsage.evaluate.ope import OPEConfig
    from shopsage.policy.bandits import BanditConfig

    if campaign not in CAMPAIGNS:
        raise ConfigError(f"unknown --campaign {campaign!r}: use {' or '.join(CAMPAIGNS)}.")
    root = data or config_of(ctx).paths.data_dir / "open-bandit"
    cfg = BanditConfig(alpha=alpha, epsilon=epsilon, reg=reg, seed=seed)  # linucb and lints both run
    report = run_or_fail(lambda: run_bandit_bench(root, campaign, cfg, OPEConfig(n_bootstrap=bootstrap, seed=seed),  # type: ignore[arg-type]
                                                  train_share, sim_steps, sim_seeds, log=lambda m: err_console.print(m)))
    md = write_bandit_report(report, json_out, command="shopsage bench bandit " + " ".join(sys.argv[3:]))
    typer.echo(md.read_text(encoding="utf-8"))

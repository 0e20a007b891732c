"""``shopsage import``, ``stats`` and ``quarantine``, and the helpers every command resolves its home and
store with (``config_of``, ``home_option``, ``home_of``, ``default_store``, ``open_existing``)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from shopsage.cli.console import console, fail, progress_bar, run_or_fail
from shopsage.config import ShopSageConfig, load_config
from shopsage.data.cleaning import RobotFilter
from shopsage.data.importers import (
    DEFAULT_LIMITS,
    FORMATS,
    Importer,
    ImportLimits,
    ImportSummary,
    get_importer,
    run_import,
)
from shopsage.data.rows import RowKey
from shopsage.data.stores import Store, StoreStats, open_store
from shopsage.privacy.imports import private_importer

__all__ = ["register", "config_of", "home_option", "home_of", "default_store", "open_existing", "import_shown",
           "stats_table", "HOME_HELP", "STORE_HELP"]

STORE_HELP = ("Store URL: sqlite:///path.db or postgresql://... (default: the config's, $SHOPSAGE_STORE, "
              "else sqlite:///<home>/shop.db).")
HOME_HELP = ("The shop's home: default store shop.db, model registry models/, caches cache/ "
             "(default: $SHOPSAGE_HOME, the config's paths.home, else var).")


def config_of(ctx: typer.Context) -> ShopSageConfig:
    """The configuration loaded by the app's --config option (defaults + environment without one)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, ShopSageConfig) else load_config(None)


def home_option() -> Any:
    """The ``--home`` option every command that reads or writes a home declares the same way:
    ``home: Path = home_option()``, then ``home_of(ctx, home)``."""
    return typer.Option(None, "--home", help=HOME_HELP)


def home_of(ctx: typer.Context, home: Path | None = None) -> Path:
    """The home: ``--home`` when given, else $SHOPSAGE_HOME, the config's ``paths.home``, else ``var``."""
    return home if home is not None else config_of(ctx).paths.home


def default_store(ctx: typer.Context, home: Path | None = None) -> str:
    """The store URL when a command gets no ``--store``: the configured one, else ``sqlite:///<home>/shop.db``."""
    return config_of(ctx).store_url(home_of(ctx, home))


def open_existing(url: str) -> Store:
    """Open the store at ``url`` for a read-only command: a store that does not exist is refused with
    a message that says how to create it (an import), instead of creating an empty one."""
    return run_or_fail(lambda: open_store(url, create=False))  # type: ignore[return-value]


def import_shown(store: Store, importer: Importer, what: str,
                 on_batch: Callable[[int, RowKey | None, ImportSummary], None] | None = None,
                 **options: Any) -> ImportSummary:
    """``run_import`` with its progress on stderr (rows read so far); errors end the command."""
    with progress_bar() as progress:
        def batch_done(n: int, last: RowKey | None, summary: ImportSummary) -> None:
            progress(summary.read, None, what)
            if on_batch is not None:
                on_batch(n, last, summary)

        summary = run_or_fail(lambda: run_import(store, importer, on_batch=batch_done, **options))
    assert isinstance(summary, ImportSummary)
    return summary


def _limit(name: str, what: str, minimum: float | None = 1) -> Any:
    """The option of ``ImportLimits.<name>`` (``--max-line-bytes`` for ``max_line_bytes``), unset by default."""
    default = getattr(DEFAULT_LIMITS, name)
    return typer.Option(None, "--" + name.replace("_", "-"), min=minimum, rich_help_panel="Per-row limits",
                        help=f"{what} (default {default:,}; ImportLimits.{name}).")


def _limits(**given: float | None) -> ImportLimits:
    """The default limits with the options given on the command line; a bad combination ends the command."""
    changed = {k: v for k, v in given.items() if v is not None}
    return run_or_fail(lambda: dataclasses.replace(DEFAULT_LIMITS, **changed))  # type: ignore[arg-type]


def import_data(
    ctx: typer.Context,
    fmt: str = typer.Argument(..., metavar="FORMAT", help=f"One of: {', '.join(FORMATS)}."),
    path: Path = typer.Argument(..., help="File or folder to import (see the format's description)."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    mapping: Path = typer.Option(None, "--mapping", help="TOML column mapping (format 'table' only)."),
    strict: bool = typer.Option(None, "--strict/--no-strict", help="Stop at the first bad row instead of quarantining it."),
    batch_size: int = typer.Option(None, "--batch-size", min=1, help="Rows per transaction (default 20,000)."),
    robot_filter: int = typer.Option(None, "--robot-filter", min=0,
                                     help="Quarantine events beyond N a minute from one user (0 = off, the default)."),
    ack_log: Path = typer.Option(None, "--ack-log", help="Append one line per committed batch (for audits)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    home: Path = home_option(),
    max_line_bytes: int = _limit("max_line_bytes", "Bytes in one line; a longer line is quarantined unread"),
    max_field_chars: int = _limit("max_field_chars", "Characters in one field (CSV field, tab-separated value, JSON string)"),
    max_record_lines: int = _limit("max_record_lines", "Lines one CSV record may span through a quoted field"),
    max_depth: int = _limit("max_depth", "Nesting of arrays and objects in one JSON record"),
    max_number_chars: int = _limit("max_number_chars", "Characters in one number"),
    min_rating: float = _limit("min_rating", "Smallest rating accepted", None),
    max_rating: float = _limit("max_rating", "Largest rating accepted", None),
    give_up_after: int = _limit("give_up_after", "Stop with one error when this many first rows are all refused "
                                "(the file is not in this format)"),
) -> None:
    """Import a data set into the store; bad rows go to the quarantine, never lost. User and session ids
    are stored as pseudonyms keyed by the home's id key and queries are scrubbed, as the API does
    (privacy.raw_ids or SHOPSAGE_RAW_IDS=1 keeps ids as given).

    Every row is read within the per-row limits: a row beyond one is quarantined with a reason naming
    it (ImportLimits.max_line_bytes is --max-line-bytes, and so on); the rest of the file is imported.
    """
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    options: dict[str, Any] = {"mapping": mapping} if fmt == "table" else {}
    if mapping is not None and fmt != "table":
        fail("--mapping is only for the table format")
    options["limits"] = _limits(max_line_bytes=max_line_bytes, max_field_chars=max_field_chars,
                                max_record_lines=max_record_lines, max_depth=max_depth,
                                max_number_chars=max_number_chars, min_rating=min_rating, max_rating=max_rating,
                                give_up_after=give_up_after)
    cfg = config_of(ctx).import_
    strict = cfg.strict if strict is None else strict
    batch_size = cfg.batch_size if batch_size is None else batch_size
    robot_filter = cfg.robot_filter_per_minute if robot_filter is None else robot_filter
    home = home_of(ctx, home)
    url = store or default_store(ctx, home)
    importer: Importer = run_or_fail(lambda: private_importer(get_importer(fmt, str(path), **options), home,  # type: ignore[assignment]
                                                              config_of(ctx).privacy.raw_ids))
    st: Store = run_or_fail(lambda: open_store(url))  # type: ignore[assignment]
    ack = open(ack_log, "a", encoding="utf-8") if ack_log else None  # noqa: SIM115 - closed below

    def acknowledge(n: int, last: RowKey | None, summary: ImportSummary) -> None:
        if ack is not None:
            ack.write(json.dumps({"batch": n, "source": last.source if last else None,
                                  "line": last.line if last else None, "pos": last.pos if last else None,
                                  "read": summary.read}) + "\n")
            ack.flush()
            os.fsync(ack.fileno())

    try:
        summary = import_shown(st, importer, f"import {fmt} (rows read)", acknowledge, batch_size=batch_size,
                               strict=strict, robot_filter=RobotFilter(robot_filter) if robot_filter else None)
    finally:
        if ack is not None:
            ack.close()
        st.close()
    if as_json:
        console.print_json(json.dumps(summary.as_dict()))
        return
    console.print(f"[bold]{fmt}[/] {path} -> {url}")
    console.print(f"read {summary.read:,} = accepted {summary.accepted:,} (updated {summary.updated:,}) "
                  f"+ already present {summary.already_present:,} + quarantined {summary.quarantined:,}")
    console.print("accepted by kind: " + ", ".join(f"{k} {v:,}" for k, v in summary.by_kind.items()))
    rate = summary.read / summary.seconds if summary.seconds else 0.0
    console.print(f"{summary.seconds:.2f} s, {rate:,.0f} rows/s, {summary.batches} batches")


def stats_table(stats: StoreStats, url: str) -> Table:
    table = Table(title=f"ShopSage store {url}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows: list[tuple[str, object]] = [("users", stats.users), ("items", stats.items), ("events", stats.events)]
    rows += [(f"  {t}", n) for t, n in stats.events_by_type.items() if n]
    rows += [(f"  split {s}", n) for s, n in sorted(stats.events_by_split.items())]
    rows += [("sessions", stats.sessions)] + [(f"  {s} sessions", n) for s, n in sorted(stats.sessions_by_split.items())]
    rows += [("judgments", stats.judgments), ("  judged queries", stats.judged_queries), ("documents", stats.documents),
             ("quarantined", stats.quarantined)]
    for name, value in rows:
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    for name, dist in (("events per user", stats.events_per_user), ("events per session", stats.events_per_session),
                       ("events per item", stats.events_per_item)):
        if dist:
            table.add_row(name, " ".join(f"{k} {v:g}" for k, v in dist.items()))
    return table


def stats(
    ctx: typer.Context,
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Exact counts of what the store holds, and their distributions."""
    url = store or default_store(ctx)
    st = open_existing(url)
    result = st.stats()
    st.close()
    if as_json:
        console.print_json(json.dumps(result.as_dict()))
    else:
        console.print(stats_table(result, url))
        for reason, n in result.quarantined_by_reason.items():
            console.print(f"  quarantined {n:,}: {reason}")


def quarantine(
    ctx: typer.Context,
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    limit: int = typer.Option(20, "--limit", min=1),
    offset: int = typer.Option(0, "--offset", min=0),
) -> None:
    """List quarantined rows: source file, line, reason and the raw text."""
    url = store or default_store(ctx)
    st = open_existing(url)
    rows = st.quarantined(limit, offset)
    st.close()
    table = Table("source", "line", "reason", "raw")
    for r in rows:
        table.add_row(r.key.source, str(r.key.line), r.reason, r.raw[:80])
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("import")(import_data)
    app.command("stats")(stats)
    app.command("quarantine")(quarantine)

"""``shopsage segments report``: fit the segments on the store, write counts, the model and a plot."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from shopsage.cli.console import console, run_or_fail
from shopsage.cli.data_commands import home_option

__all__ = ["segments_app"]

segments_app = typer.Typer(help="Shopper segments: lifecycle, value, interest.", no_args_is_help=True)


@segments_app.command("report")
def report(
    ctx: typer.Context,
    store: str = typer.Option(None, "--store", help="Store URL (default: the configured store)."),
    home: Path = home_option(),
    out: Path = typer.Option(None, "--out", help="Folder of segments.json, model.json, segments.png "
                             "(default: <home>/segments)."),
) -> None:
    """Fit segments on every stored user interaction (as the service does on start) and report them."""
    from shopsage.cli.data_commands import default_store, home_of, open_existing
    from shopsage.profiles import ItemInfo
    from shopsage.profiles.segments_book import book_from_store
    from shopsage.profiles.segments_report import segment_report, write_report

    db = open_existing(store or default_store(ctx, home))
    try:
        info = {row.ext_id: ItemInfo(tuple(row.category_path), row.brand, row.price)
                for _, row in db.items()}  # type: ignore[attr-defined]
        book = run_or_fail(lambda: book_from_store(db, info.get))
    finally:
        db.close()  # type: ignore[attr-defined]
    folder = out if out is not None else home_of(ctx, home) / "segments"
    paths = write_report(book, folder)  # type: ignore[arg-type]
    rep = segment_report(book)  # type: ignore[arg-type]
    table = Table("kind", "segment", "shoppers")
    for kind, counts in rep["counts"].items():
        for name, n in counts.items():
            label = rep["interest_groups"].get(int(name.split("_")[1])) if kind == "interest" else None
            table.add_row(kind, f"{name} ({label})" if label else name, f"{n:,}")
    console.print(table)
    t = rep["thresholds_days"]
    m = rep["model"]
    if t["lapsed_after"] is not None:
        console.print(f"occasions: {m['activity']}s; active within {t['active_within']} days, lapsed after "
                      f"{t['lapsed_after']} days (quantiles {m['active_quantile']} and {m['lapsed_quantile']} of "
                      f"{m['n_gaps']:,} gaps)")
    else:
        console.print("no lifecycle: the events have no times (or too few gaps between occasions)")
    console.print(f"{len(m['centers'])} interest groups (silhouette {m['silhouette']}); written: "
                  + ", ".join(str(p) for p in paths.values()))

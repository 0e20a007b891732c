"""``shopsage bench segments``: segment throughput on one core (thin: :mod:`shopsage.serving.segments_bench`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from shopsage.cli.bench import bench_app
from shopsage.cli.console import run_or_fail
from shopsage.cli.data_commands import config_of


@bench_app.command("segments")
def bench_segments(
    ctx: typer.Context,
    data: Path = typer.Option(None, "--data", help="The data set; default: <data dir>/yoochoose-100k (timestamped clicks)."),
    fmt: str = typer.Option("yoochoose", "--format", help="Its import format (recbole: Amazon Scientific, with "
                            "categories but no times)."),
    batch: int = typer.Option(1, "--batch", min=1, help="Events per request on the live path."),
    restart: float = typer.Option(0.0, "--restart", min=0.0, max=1.0, help="Time a service start's fit instead: "
                                  "a full replay against the last start's snapshot plus this share of the events, "
                                  "stored since (0.01: the last 1%), in a scratch SQLite store."),
    json_out: Path = typer.Option(..., "--json", help="Write the JSON report here."),
) -> None:
    """Events per CPU-second of the segment batch fit and of the live path (observe + read per event)."""
    from shopsage.data.importers import get_importer
    from shopsage.data.rows import EventBlock, EventRow, ItemRow, RowKey
    from shopsage.profiles import ItemInfo
    from shopsage.serving.segments_bench import segment_throughput

    folder = data or config_of(ctx).paths.data_dir / "yoochoose-100k"
    records = list(get_importer(fmt, str(folder)).records())
    rows = [r for r in records if isinstance(r, EventRow)]
    for b in (r for r in records if isinstance(r, EventBlock)):  # bulk importers give columns
        rows += [EventRow(RowKey(src, line, pos), *rest) for src, line, pos, *rest in zip(*b.columns(), strict=True)]
    info = {r.ext_id: ItemInfo(tuple(r.category_path), r.brand, r.price) for r in records if isinstance(r, ItemRow)}
    if restart:
        out: dict[str, object] = _restart(rows, info, restart)
    else:
        out = run_or_fail(lambda: segment_throughput(rows, info, batch=batch))  # type: ignore[assignment]
    out["command"] = "shopsage bench segments " + " ".join(sys.argv[3:])
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(out, indent=2), encoding="utf-8")
    typer.echo(json.dumps(out, indent=2))


def _restart(rows: list, info: dict, share: float) -> dict[str, object]:  # type: ignore[type-arg]
    """``--restart``: :func:`shopsage.serving.segments_bench.segment_restart` in a scratch store."""
    import tempfile

    from shopsage.data.stores import open_store
    from shopsage.evaluate.machine import describe
    from shopsage.serving.segments_bench import segment_restart

    with tempfile.TemporaryDirectory() as tmp:
        store = run_or_fail(lambda: open_store(f"sqlite:///{Path(tmp) / 'segments.db'}"))
        try:
            out: dict[str, object] = run_or_fail(lambda: segment_restart(rows, store, Path(tmp) / "segments", info, share))
        finally:
            store.close()
    out["machine"] = describe()
    return out

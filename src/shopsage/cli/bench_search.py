"""``shopsage bench search``: the product-search benchmark (thin: parse, call the library, print)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from shopsage.cli.bench import bench_app
from shopsage.cli.data_commands import home_of, home_option
from shopsage.errors import ConfigError


@bench_app.command("search")
def bench_search(
    ctx: typer.Context,
    catalog: Path = typer.Option(..., help="Catalogue CSV (Home Depot product_titles.csv or a table CSV)."),
    judgments: Path = typer.Option(..., help="Judgments CSV (query, item, grade) to train on (and split, without --eval-judgments)."),
    eval_judgments: Path | None = typer.Option(None, help="Score only on these judgments' queries; train on all of --judgments."),
    json_out: Path = typer.Option(..., "--json", help="Write the results here as JSON, and a Markdown table beside it (.md)."),
    fmt: str = typer.Option("homedepot", "--format", help="homedepot, or table with --mapping."),
    mapping: str | None = typer.Option(None, help="table format: JSON object of TableMapping fields, e.g. "
                                                  "'{\"item_id\": \"sku\", \"title\": \"name\", \"query\": \"q\", \"judged_item\": \"sku\", \"grade\": \"label\"}'."),
    dev_fraction: float = typer.Option(0.2, help="Share of queries held out when splitting by query text."),
    seed: int = typer.Option(0, help="Seed of the query split and the ranker."),
    latency_queries: int = typer.Option(500, help="Evaluation queries timed one at a time per mode."),
    query_backend: str = typer.Option("torch", help="Query encoder backend: torch (float32), torch-int8 or onnx (float32 via onnxruntime)."),
    candidates: int = typer.Option(150, help="Items lexical and vector search each add to the pool hybrid and learned rank."),
    int8_check: bool = typer.Option(False, help="Also measure the int8 encoder's quality loss and speed."),
    cache_dir: Path | None = typer.Option(None, help="Embedding cache folder (default: <home>/cache/embeddings)."),
    home: Path | None = home_option(),
    encoder: Path | None = typer.Option(None, help="Encoder directory (e.g. a fine-tuned version from `shopsage models list`); "
                                                   "default: the packaged all-MiniLM-L6-v2."),
    query_encoder: Path | None = typer.Option(None, help="A different encoder for queries only (a query-tower fine-tuned "
                                                         "version); items keep --encoder's vectors."),
    compare_query_encoder: bool = typer.Option(False, help="With --query-encoder: also score vector, hybrid and learned "
                                                           "with --encoder embedding the queries, in the same run."),
    dense_spelling: bool = typer.Option(True, help="The query encoder reads the spelling-corrected query "
                                                   "(--no-dense-spelling: the query as typed)."),
) -> None:
    """Lexical, vector, hybrid and learned search over the whole catalogue, each through the search front
    door: nDCG@10, Recall@100, latency."""
    from shopsage.search import SearchConfig
    from shopsage.search.bench import BenchConfig, run_search_bench, write_report
    from shopsage.search.bench_data import HOMEDEPOT, TableMapping

    if fmt == "homedepot":
        table = HOMEDEPOT
    elif fmt == "table":
        if not mapping:
            raise ConfigError("--format table needs --mapping with the column names (see --help).")
        table = TableMapping.model_validate_json(mapping)
    else:
        raise ConfigError(f"unknown --format {fmt!r}: use homedepot or table.")
    cfg = BenchConfig(catalog=str(catalog), judgments=str(judgments),
                      eval_judgments=str(eval_judgments) if eval_judgments else None, mapping=table,
                      dev_fraction=dev_fraction, seed=seed,
                      cache_dir=str(cache_dir or home_of(ctx, home) / "cache" / "embeddings"),
                      latency_queries=latency_queries, int8_check=int8_check, query_backend=query_backend,  # type: ignore[arg-type]
                      encoder_model=str(encoder) if encoder else None,
                      query_encoder_model=str(query_encoder) if query_encoder else None,
                      compare_query_encoder=compare_query_encoder,
                      search=SearchConfig(candidates=candidates, dense_spelling=dense_spelling),
                      log=lambda m: typer.echo(m, err=True))
    results = run_search_bench(cfg)
    md = write_report(results, json_out, command="shopsage bench search " + " ".join(sys.argv[3:]))
    typer.echo(md.read_text(encoding="utf-8"))

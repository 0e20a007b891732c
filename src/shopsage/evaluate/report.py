"""Write a recommender benchmark report: JSON, a Markdown table and a matplotlib plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shopsage.artifacts import atomic_write_text

__all__ = ["headline_metrics", "markdown_table", "write_report", "plot_report"]


def headline_metrics(report: dict[str, Any]) -> list[str]:
    """The metric columns of the table: the protocol's published ones first."""
    if str(report.get("protocol", "")).startswith("session-prefix"):
        first = ["hr@20", "mrr@20", "hr@10", "ndcg@10"]
    else:
        first = ["hr@10", "ndcg@10", "hr@20", "ndcg@20", "mrr@10"]
    present: set[str] = set()
    for res in report["models"].values():
        present.update(k for k, v in res.items() if isinstance(v, float) and ("@" in k or k == "auc"))
    extra = sorted(k for k in present if k.startswith("sampled-"))
    extra += [k for k in ("auc", "coverage@10", "novelty@10", "ild@10", "popularity_bias@10") if k in present]
    return [k for k in first if k in present] + extra


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return "" if value is None else str(value)


def markdown_table(report: dict[str, Any]) -> str:
    cols = headline_metrics(report)
    head = ["model", *cols, "train s", "peak MB", "status"]
    lines = [
        f"Data: {report['dataset']} ({report['format']}), protocol {report['protocol']}, ranking "
        f"{report['ranking']}, seen items {'filtered' if report['filter_seen'] else 'kept'}; "
        f"{report['n_items']:,} items, {report['n_train_sequences']:,} training sequences, "
        f"{report['n_test_cases']:,} test cases.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 2) + ["---"]) + "|",
    ]
    for name, res in report["models"].items():
        status = res.get("status", "ok")
        note = status if status == "ok" else f"{status}: {res.get('message', '')}".replace("|", "/")
        lines.append("| " + " | ".join([name, *(_fmt(res.get(c)) for c in cols), _fmt(res.get("train_seconds"), 1),
                                          _fmt(res.get("peak_rss_mb"), 0), note]) + " |")
    tuned = {n: r["params"] for n, r in report["models"].items() if r.get("status") == "ok" and "tuning" in r}
    if tuned:
        lines += ["", f"Hyperparameters chosen on {report.get('tune_metric')} ({report.get('tune_trials')} trials):"]
        lines += [f"- {n}: `{json.dumps(p, sort_keys=True)}`" for n, p in tuned.items()]
    return "\n".join(lines) + "\n"


def plot_report(report: dict[str, Any], path: str | Path) -> Path:
    """Bars of the two headline metrics and of training time per model (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = headline_metrics(report)[:2]
    ok = {n: r for n, r in report["models"].items() if r.get("status") == "ok"}
    names = list(ok)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / max(len(cols), 1)
    for j, col in enumerate(cols):
        axes[0].bar([i + j * width for i in range(len(names))], [ok[n].get(col, 0.0) for n in names], width, label=col)
    axes[0].set_xticks([i + width * (len(cols) - 1) / 2 for i in range(len(names))], names)
    axes[0].set_title(f"{report['dataset']}: {report['protocol']}")
    if names:
        axes[0].legend()
    axes[1].bar(names, [ok[n].get("train_seconds", 0.0) for n in names], color="grey")
    axes[1].set_title("train seconds")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(report: dict[str, Any], json_path: str | Path, md_path: str | Path | None = None,
                 plot_path: str | Path | None = None) -> dict[str, Path]:
    """Write the JSON report, and the Markdown table and plot when asked; returns the paths."""
    out: dict[str, Path] = {"json": Path(json_path)}
    atomic_write_text(Path(json_path), json.dumps(report, indent=2, default=float))
    if md_path is not None:
        atomic_write_text(Path(md_path), markdown_table(report))
        out["md"] = Path(md_path)
    if plot_path is not None:
        out["plot"] = plot_report(report, plot_path)
    return out

"""``shopsage segments report``'s library side: the fitted model, counts per segment, and a plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shopsage.profiles.segments import DAY_S
from shopsage.profiles.segments_book import SegmentBook

__all__ = ["segment_report", "write_report"]


def segment_report(book: SegmentBook) -> dict[str, Any]:
    """Counts per segment (by kind) and the thresholds and centres that define them."""
    m = book.model
    counts = {kind: dict(sorted(c.items())) for kind, c in book.counts().items()}
    return {"shoppers": len(book.stats), "counts": counts, "model": m.as_dict(),
            "thresholds_days": {"active_within": None if m.active_within_s is None else round(m.active_within_s / DAY_S, 3),
                                "lapsed_after": None if m.lapsed_after_s is None else round(m.lapsed_after_s / DAY_S, 3)},
            "interest_groups": dict(enumerate(m.cluster_labels))}


def write_report(book: SegmentBook, folder: Path) -> dict[str, Path]:
    """``segments.json`` (the report), ``model.json`` (the model alone) and ``segments.png`` (counts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    rep = segment_report(book)
    paths = {"report": folder / "segments.json", "model": folder / "model.json", "plot": folder / "segments.png"}
    paths["report"].write_text(json.dumps(rep, indent=2), encoding="utf-8")
    paths["model"].write_text(json.dumps(book.model.as_dict(), indent=2), encoding="utf-8")
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    labels = rep["interest_groups"]
    for ax, kind in zip(axes, ("lifecycle", "value", "interest"), strict=True):
        c = rep["counts"][kind]
        if not c:
            ax.axis("off")
            ax.text(0.5, 0.5, f"no {kind} segments\n(see segments.json)", ha="center", va="center")
            continue
        names = [f"{k}\n{labels[int(k.split('_')[1])]}" if kind == "interest" else k for k in c]
        ax.bar(range(len(c)), list(c.values()), color="#4c72b0")
        ax.set_xticks(range(len(c)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(kind)
        ax.set_ylabel("shoppers")
    fig.tight_layout()
    fig.savefig(paths["plot"], dpi=110)
    plt.close(fig)
    return paths

"""Server-rendered SVG line charts (no plotting library in the page, no script): coordinates only.

The template draws the lines; this module turns ``(bucket start, type, count)`` rows into a
polyline per event type on a fixed grid, with the axis labels and a table of the same numbers for
readers who cannot see the chart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["LineChart", "line_chart", "WINDOWS"]

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 240, 48, 28, 12
COLORS = ("#0b5394", "#c0392b", "#1e8449", "#7d3c98", "#b9770e", "#117a65", "#566573")
WINDOWS = {"6h": (6 * 3600, 300), "48h": (48 * 3600, 3600), "30d": (30 * 86400, 86400)}
"""Window name: (seconds shown, bucket seconds)."""


@dataclass
class LineChart:
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[dict[str, object]] = field(default_factory=list)  # {"type", "color", "points", "total"}
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    table: list[tuple[str, dict[str, int]]] = field(default_factory=list)  # (bucket label, counts by type)
    types: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.lines


def line_chart(rows: Sequence[tuple[float, str, int]], start: float, end: float, bucket_s: float) -> LineChart:
    """A chart of ``rows`` over ``[start, end)`` in buckets of ``bucket_s`` (missing buckets count 0)."""
    n = max(1, int((end - start) // bucket_s) + 1)
    first = (start // bucket_s) * bucket_s
    types = sorted({t for _, t, _ in rows})
    counts = {t: [0] * n for t in types}
    for at, t, c in rows:
        i = int((at - first) // bucket_s)
        if 0 <= i < n:
            counts[t][i] += c
    chart = LineChart(types=types)
    top = max((max(v) for v in counts.values()), default=0)
    if top == 0:
        return chart
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP

    def x(i: int) -> float:
        return LEFT + plot_w * (i / max(1, n - 1))

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    for k, t in enumerate(types):
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(counts[t]))
        chart.lines.append({"type": t, "color": COLORS[k % len(COLORS)], "points": pts, "total": sum(counts[t])})
    chart.y_ticks = [(y(v), f"{v:g}") for v in (0, top / 2, top)]
    fmt = "%H:%M" if bucket_s < 86400 else "%m-%d"
    label = [dt.datetime.fromtimestamp(first + i * bucket_s, dt.UTC).strftime(fmt) for i in range(n)]
    chart.x_ticks = [(x(i), label[i]) for i in sorted({0, n // 4, n // 2, 3 * n // 4, n - 1})]
    chart.table = [(label[i], {t: counts[t][i] for t in types}) for i in range(n) if any(counts[t][i] for t in types)]
    return chart

"""``shopsage experiments report`` / ``GET /v1/experiments/{name}/report``: one experiment, read from the store.

The exposures the service recorded for the experiment and the events attributed to them
(:meth:`read_exposures` / :meth:`read_attributed`) become time-ordered per-unit rows
(:func:`~shopsage.evaluate.abtest_data.contributions_from_rows`), analysed by
:func:`~shopsage.evaluate.abtest.analyse`: the same code the simulated-shop benchmark measures.
Written as JSON, Markdown and a plot (the primary metric's difference with its interval, and the
always-valid p-value, after every look). An experiment allocated by a bandit is reported by
:func:`~shopsage.evaluate.abtest_bandit.bandit_report` instead (off-policy values per variant, the
current allocation; no plot).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from shopsage.evaluate.abtest import analyse
from shopsage.evaluate.abtest_data import Contributions, contributions_from_rows
from shopsage.experiments.book import get_experiment
from shopsage.experiments.definition import slug

__all__ = ["experiment_report", "markdown_report", "write_experiment_report"]


class _Source(Protocol):
    def experiments(self, name: str | None = None) -> list[dict[str, Any]]: ...

    def read_exposures(self, experiment: str | None = None, since: float | None = None) -> Any: ...

    def read_attributed(self, experiment: str | None = None, since: float | None = None) -> Any: ...


SegmentsOf = Callable[[str], frozenset[str]]
"""A user id (as the service sees it) -> the names of the shopper's segments (the service's ``segment_of``)."""


def experiment_report(store: _Source, name: str, peek_every: int = 1000,
                      segments_of: SegmentsOf | None = None) -> dict[str, Any]:
    """The analysis of experiment ``name`` over everything recorded for it so far; with ``segments_of``,
    also per shopper segment (``by_segment``: the same analysis over the users in each segment)."""
    exp = get_experiment(store, name)
    if exp.allocation == "bandit":
        from shopsage.evaluate.abtest_bandit import bandit_report

        return _finite({"experiment": exp.name, "scope": exp.scope, "status": exp.status, "created_at": exp.created_at,
                        "stopped_at": exp.stopped_at, **bandit_report(store, exp)})
    variants = [v.name for v in exp.variants]
    contrib, skipped = contributions_from_rows(store.read_exposures(name), store.read_attributed(name), variants)
    head = {"experiment": exp.name, "scope": exp.scope, "status": exp.status, "created_at": exp.created_at,
            "stopped_at": exp.stopped_at, "planned_units_per_variant": exp.planned_units, "metric": exp.metric,
            "min_lift": exp.min_lift, "exposures_left_out": skipped}
    if len(contrib) == 0:
        return {**head, "sessions": 0, "variants": {}, "comparisons": {},
                "note": "no exposures recorded for this experiment yet: serve traffic in its scope first"}
    body = analyse(contrib, exp.weights, exp.metric, exp.baseline, exp.min_lift, exp.alpha, peek_every)
    units = body["srm"]["units"]
    body["progress"] = (min(units.values()) / exp.planned_units) if exp.planned_units else None
    if segments_of is not None:
        body["by_segment"] = _by_segment(contrib, segments_of, exp.weights, exp.metric, exp.baseline, exp.min_lift,
                                         exp.alpha, peek_every)
    return _finite({**head, **body})


def _by_segment(c: Contributions, segments_of: SegmentsOf, weights: list[float], metric: str, baseline: float,
                min_lift: float, alpha: float, peek_every: int) -> dict[str, Any]:
    """The analysis restricted to each segment's users (anonymous sessions belong to none); without the
    per-look path. A segment's fixed-horizon p-values are exploratory: many segments, many tests."""
    names = c.unit_names or []
    member: dict[str, list[int]] = {}
    for i, unit in enumerate(names):
        if unit.startswith("u:"):
            for seg in segments_of(unit[2:]):
                member.setdefault(seg, []).append(i)
    out: dict[str, Any] = {}
    for seg, idx in sorted(member.items()):
        keep = np.zeros(c.n_units, bool)
        keep[idx] = True
        part = analyse(c.select_units(keep), weights, metric, baseline, min_lift, alpha, peek_every)
        for cmp in part["comparisons"].values():
            cmp["sequential"].pop("path", None)
        out[seg] = part
    return out


def _finite(x: Any) -> Any:
    """``x`` with every NaN or infinity as None (strict JSON: a variant without data has no rate)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100 * x:+.2f}%" if pct else f"{x:.4g}"


def markdown_report(r: dict[str, Any]) -> str:
    if r.get("allocation") == "bandit":
        from shopsage.evaluate.abtest_bandit import markdown_bandit_report

        return markdown_bandit_report(r)
    lines = [f"# Experiment {r['experiment']}", "",
             f"Scope `{r['scope']}`, {r['status']}; primary metric `{r['metric']}`; planned "
             f"{r['planned_units_per_variant'] or '-'} units per variant; {r.get('sessions', 0):,} sessions so far.", ""]
    if not r.get("variants"):
        return "\n".join([*lines, r.get("note", ""), ""])
    srm = r["srm"]
    lines += [f"Sample ratio: units {srm['units']} for weights {[round(w, 3) for w in srm['weights']]}: chi-square "
              f"p = {srm['p_value']:.3g}" + (" **MISMATCH: the split is broken, do not trust the figures below**"
                                             if srm["mismatch"] else " (no mismatch)"), ""]
    metrics = list(next(iter(r["variants"].values())).keys())
    metrics = [m for m in metrics if isinstance(next(iter(r["variants"].values()))[m], dict)]
    lines += ["| variant | units | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for name, v in r["variants"].items():
        cells = [f"{v[m]['value']:.4g} [{v[m]['ci_low']:.4g}, {v[m]['ci_high']:.4g}]" for m in metrics]
        lines.append(f"| {name} | {v['units']:,} | " + " | ".join(cells) + " |")
    lines.append("")
    for name, c in r["comparisons"].items():
        s = c["sequential"]
        lines += [f"## {name} against {r['baseline_variant']}", "",
                  f"Sequential test (mSPRT) on `{s['metric']}`: always-valid p = {s['p_always_valid']:.3g} after "
                  f"{s['looks']} looks: **{s['decision']}**"
                  + (f" (at {s['decided_at_sessions']:,} sessions)" if s["decided_at_sessions"] else "") + ".", "",
                  "| metric | difference [95% CI] | relative lift [95% CI] | fixed-horizon p |", "|---|---|---|---|"]
        for m, d in c["metrics"].items():
            lines.append(f"| {m} | {_fmt(d['diff'])} [{_fmt(d['diff_ci_low'])}, {_fmt(d['diff_ci_high'])}] | "
                         f"{_fmt(d['lift'], True)} [{_fmt(d['lift_ci_low'], True)}, {_fmt(d['lift_ci_high'], True)}] | "
                         f"{_fmt(d['p_value'])} |")
        lines.append("")
    lines += ["Fixed-horizon p-values are valid for one look at the planned size only; decide on the sequential "
              "test, which stays valid however often this report is read.", ""]
    return "\n".join(lines)


def _plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for name, c in r["comparisons"].items():
        p = c["sequential"]["path"]
        x = np.asarray(p["sessions"], dtype=float)
        d = np.asarray([np.nan if a is None else a for a in p["diff"]], dtype=float)
        v = np.asarray([np.nan if a is None else a for a in p["variance"]], dtype=float)
        half = 1.96 * np.sqrt(np.where(np.nan_to_num(v) > 0, v, np.nan))
        top.plot(x, d, label=name)
        top.fill_between(x, d - half, d + half, alpha=0.2)
        bottom.plot(x, p["p_always_valid"], label=name)
    top.axhline(0, color="grey", lw=0.8)
    top.set_ylabel(f"{r['metric']} difference")
    top.legend(loc="best")
    bottom.axhline(r["alpha"], color="red", lw=0.8, ls="--", label="alpha")
    bottom.set_yscale("log")
    bottom.set_ylabel("always-valid p")
    bottom.set_xlabel("sessions")
    fig.suptitle(f"Experiment {r['experiment']} against {r['baseline_variant']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_experiment_report(r: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """``<name>.json``, ``<name>.md`` and, once there is data, ``<name>.png`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / slug(r["experiment"])
    paths = {"json": base.with_suffix(".json"), "markdown": base.with_suffix(".md")}
    paths["json"].write_text(json.dumps(r, indent=2), encoding="utf-8")
    paths["markdown"].write_text(markdown_report(r), encoding="utf-8")
    if r.get("comparisons"):
        paths["plot"] = base.with_suffix(".png")
        _plot(r, paths["plot"])
    return paths

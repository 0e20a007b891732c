"""The explore stage: a contextual bandit fills chosen positions of a scenario's list, and learns from
the clicks, carts and purchases that name them.

After rules, diversity and pins have made the deterministic list, the positions of
``explore.slots`` (1-based; a pinned position is left to its pin) are given to items the bandit
(:class:`~shopsage.policy.bandits.LinearBandit`) picks from its source: ``new_items`` (items
the shopper may be shown that have no interaction yet, newest first) or any candidate generator
(a second source). Candidates already in the deterministic list are left out, so every other
position holds what it would hold without exploration (its item is certain: propensity 1.0) and
the list holds no item twice; the deterministic items after an explored position move down one.

Features of a candidate for this shopper (:data:`FEATURES`): a bias, whether the item has no
interaction yet, its popularity (``log(1 + count) / log(1 + max count)``), the share of the
shopper's latest interactions in its leaf category and with its brand, and ``1 / (1 + rank)`` of
its place in the source. The shared weights let what is learned about one new item carry to the next.

Learning: when an answer is recorded (its ``recomm_id``), each explored item's features enter the
bandit as shown (``A += x x^T``); an event whose context names the answer and position (a click, a
cart, a purchase) adds its reward once (``b += x``: reward 1 per exposure however many events
follow). An explored item nobody acts on keeps reward 0. The bandit of each scenario is saved under
``<home>/bandits/<scenario>/`` (``manifest.json``, ``A.npy``, ``b.npy``) when the service closes and
read back when it starts; each worker process learns from the events it receives.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shopsage.data.schema import Event
from shopsage.errors import ArtifactError
from shopsage.policy.bandits import BanditConfig, LinearBandit
from shopsage.serving.config import ExploreConfig
from shopsage.serving.generators import Generators, Popularity, Shopper
from shopsage.serving.reasons import Reason

__all__ = ["FEATURES", "REWARD_EVENTS", "Explorer", "ExploreOutcome", "candidate_features"]

FEATURES = ("bias", "new_item", "popularity", "category_match", "brand_match", "source_rank")
REWARD_EVENTS = ("click", "add_to_cart", "purchase")
"""Event types that reward an explored exposure they name (reward 1, once per exposure)."""
_HISTORY = 50  # latest interactions read for the category and brand shares


@dataclass
class ExploreOutcome:
    """What the stage did: the final list with its propensities and the explored positions' features."""

    slots: list[int]
    scores: list[float]
    reasons: list[list[Reason]]
    propensities: list[float]
    explored: dict[int, np.ndarray]  # 0-based position -> the features the bandit chose it with
    stage: dict[str, Any]


def candidate_features(gens: Generators, shopper: Shopper, slots: np.ndarray, pop: Popularity) -> np.ndarray:
    """(K, len(FEATURES)) features of the candidate ``slots`` (in source order) for ``shopper``."""
    hist = [s for s, _ in shopper.history("user+session")[-_HISTORY:]]
    cats = Counter(c for c in (gens.catalog.category(s) for s in hist) if c is not None)
    brands = Counter(b for b in (gens.catalog.brand(s) for s in hist) if b is not None)
    counts = np.asarray(pop.scores, dtype=np.float64)
    top = np.log1p(max(float(counts.max(initial=0.0)), 1.0))
    X = np.zeros((len(slots), len(FEATURES)))
    X[:, 0] = 1.0
    for i, s in enumerate(slots.tolist()):
        c = float(counts[s]) if s < len(counts) else 0.0
        X[i, 1] = float(c <= 0)
        X[i, 2] = np.log1p(max(c, 0.0)) / top
        cat, brand = gens.catalog.category(s), gens.catalog.brand(s)
        X[i, 3] = cats[cat] / len(hist) if hist and cat is not None else 0.0
        X[i, 4] = brands[brand] / len(hist) if hist and brand is not None else 0.0
        X[i, 5] = 1.0 / (1.0 + i)
    return X


def _bandit_config(cfg: ExploreConfig) -> BanditConfig:
    return BanditConfig(policy=cfg.policy, alpha=cfg.alpha, epsilon=cfg.epsilon, reg=cfg.reg, n_samples=cfg.n_samples,
                        seed=cfg.seed if cfg.seed is not None else 0)


class Explorer:
    """The explore stages of one service process: a bandit per scenario, and the explored exposures
    waiting for their rewards (at most ``max_pending``, oldest forgotten first: they keep reward 0)."""

    def __init__(self, popularity: Callable[[], Popularity], home: Path | None = None, max_pending: int = 100_000) -> None:
        self.popularity = popularity
        self.home = home
        self._rngs: dict[str, np.random.Generator] = {}  # per scenario, from its ``explore.seed``
        self._bandits: dict[str, LinearBandit] = {}
        self._pending: OrderedDict[tuple[str, int], tuple[str, np.ndarray, float]] = OrderedDict()
        self._max_pending = max_pending
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the bandits
    def bandit(self, scenario: str, cfg: ExploreConfig) -> LinearBandit:
        """The scenario's bandit: the saved one (its statistics, the current settings) or a new one."""
        with self._lock:
            have = self._bandits.get(scenario)
            want = _bandit_config(cfg)
            if have is None:
                have = self._load(scenario, want) or LinearBandit(len(FEATURES), want, FEATURES)
                self._bandits[scenario] = have
            elif have.config != want:  # settings changed in the config: keep what was learned
                have.reconfigure(want)
            return have

    def _load(self, scenario: str, want: BanditConfig) -> LinearBandit | None:
        path = self._path(scenario)
        if path is None or not (path / "manifest.json").is_file():
            return None
        try:
            saved = LinearBandit.load(path)
        except (ArtifactError, ValueError, KeyError):
            return None
        if saved.feature_names != list(FEATURES):
            return None  # another feature set: start again
        saved.reconfigure(want)
        return saved

    def _path(self, scenario: str) -> Path | None:
        return None if self.home is None else Path(self.home) / "bandits" / scenario

    def save(self) -> None:
        """Write every scenario's bandit under ``<home>/bandits/``."""
        with self._lock:
            bandits = dict(self._bandits)
        for scenario, b in bandits.items():
            path = self._path(scenario)
            if path is not None:
                b.save(path, scenario=scenario)

    # ------------------------------------------------------------------ the stage
    def fill(self, scenario: str, cfg: ExploreConfig, gens: Generators, shopper: Shopper, allowed: np.ndarray,
             slots: list[int], scores: list[float], reasons: list[list[Reason]], pinned: set[int], n: int) -> ExploreOutcome:
        """The list ``slots`` (deterministic, ``pinned`` positions 0-based) with the explore positions filled."""
        targets = self._targets(cfg, len(slots), pinned, n)
        stage: dict[str, Any] = {"policy": cfg.policy, "source": cfg.source if isinstance(cfg.source, str) else
                                 (cfg.source.model or cfg.source.kind), "positions": [t + 1 for t in targets]}
        cand, explain = self._candidates(scenario, cfg, gens, shopper, allowed, set(slots))
        stage["candidates"] = len(cand)
        keep = [1.0] * len(slots)
        if not targets or not len(cand):
            return ExploreOutcome(slots, scores, reasons, keep, {}, stage)
        bandit = self.bandit(scenario, cfg)
        X = candidate_features(gens, shopper, cand, self.popularity())
        with self._lock:
            rng = self._rngs.setdefault(scenario, np.random.default_rng(cfg.seed))
        choice = bandit.choose(X, len(targets), rng)
        targets = targets[: len(choice.shown)]
        mean = X @ bandit.theta
        total = min(n, len(slots) + len(targets))
        at = dict(zip(targets, choice.shown.tolist(), strict=True))
        probs = dict(zip(targets, choice.probabilities.tolist(), strict=True))
        why = dict(zip(choice.shown.tolist(), explain(choice.shown.tolist()), strict=True))  # the source's reasons
        rest = iter(i for i in range(len(slots)) if i not in pinned)
        out = ExploreOutcome([], [], [], [], {}, stage)
        for pos in range(total):
            if pos in at:
                j = at[pos]
                out.slots.append(int(cand[j]))
                out.scores.append(float(mean[j]))
                out.reasons.append(why[j] + [self._reason(cfg, probs[pos], pos, len(cand), X[j])])
                out.propensities.append(probs[pos])
                out.explored[pos] = X[j]
                continue
            i = pos if pos in pinned else next(rest)
            out.slots.append(slots[i])
            out.scores.append(scores[i])
            out.reasons.append(reasons[i])
            out.propensities.append(1.0)
        return out

    @staticmethod
    def _targets(cfg: ExploreConfig, length: int, pinned: set[int], n: int) -> list[int]:
        """0-based explore positions that the list can hold (not pinned, no gap before them)."""
        targets = sorted({p - 1 for p in cfg.slots if p - 1 < n and p - 1 not in pinned})
        while targets and targets[-1] >= min(n, length + len(targets)):
            targets.pop()
        return targets

    def _candidates(self, scenario: str, cfg: ExploreConfig, gens: Generators, shopper: Shopper, allowed: np.ndarray,
                    shown: set[int]) -> tuple[np.ndarray, Callable[[list[int]], list[list[Reason]]]]:
        """The source's candidates not already shown, in its order, and how to get the source's reasons for
        the chosen ones (indexes into the candidates; the source explains only those)."""
        if cfg.source == "new_items":
            counts = np.asarray(self.popularity().scores)
            ok = allowed.copy()
            ok[: len(counts)] &= counts[: len(ok)] <= 0
            found = np.flatnonzero(ok)[::-1]  # the latest indexed first
            found = np.asarray([s for s in found[: cfg.n + len(shown)].tolist() if s not in shown][: cfg.n], dtype=np.int64)
            return found, lambda chosen: [[] for _ in chosen]
        assert not isinstance(cfg.source, str)
        cl = gens.run(cfg.source, shopper, allowed, scenario)
        if cl is None or not len(cl):
            return np.zeros(0, np.int64), lambda chosen: [[] for _ in chosen]
        idx = [i for i, s in enumerate(cl.slots.tolist()) if s not in shown][: cfg.n]

        def reasons(chosen: list[int]) -> list[list[Reason]]:
            cl.prepare([idx[j] for j in chosen])  # a model explains only the items it is told are shown
            return [[cl.reason(idx[j])] for j in chosen]

        return cl.slots[idx].astype(np.int64), reasons

    @staticmethod
    def _reason(cfg: ExploreConfig, p: float, pos: int, k: int, x: np.ndarray) -> Reason:
        new = bool(x[1] > 0)
        what = "a new item" if new else "an item we are learning about"
        evidence = {"policy": cfg.policy, "probability": p, "position": pos + 1, "candidates": k,
                    "epsilon": cfg.epsilon, "new_item": new}
        return Reason("explore", f"bandit:{cfg.policy}", f"Exploring: {what}, shown with probability {p:.2g}", evidence)

    # ------------------------------------------------------------------ learning
    def shown(self, answer_id: str, scenario: str, explored: dict[int, np.ndarray]) -> None:
        """An answer with explored positions was recorded as ``answer_id``: each explored item counts as shown."""
        if not explored:
            return
        with self._lock:
            bandit = self._bandits.get(scenario)
        if bandit is None:
            return
        for pos, x in explored.items():
            bandit.observe(x)
            with self._lock:
                self._pending[(answer_id, pos + 1)] = (scenario, x, 0.0)
                while len(self._pending) > self._max_pending:
                    self._pending.popitem(last=False)

    def reward(self, answer_id: str, position: int, reward: float = 1.0) -> bool:
        """A reward for the item shown at ``position`` (1-based) of answer ``answer_id``; counted once per
        exposure (the largest reward so far). False when that position was not explored (or is forgotten)."""
        with self._lock:
            found = self._pending.get((answer_id, position))
            if found is None:
                return False
            scenario, x, had = found
            if reward <= had:
                return True
            self._pending[(answer_id, position)] = (scenario, x, reward)
            bandit = self._bandits.get(scenario)
        if bandit is not None:
            bandit.reward(x, reward - had)
        return True

    def observe_events(self, events: Sequence[Event]) -> None:
        """The ingest listener: rewards the explored exposures that clicks, carts and purchases name."""
        for e in events:
            ctx = e.context
            if e.type in REWARD_EVENTS and ctx is not None and ctx.recomm_id and ctx.position:
                self.reward(ctx.recomm_id, ctx.position, 1.0)

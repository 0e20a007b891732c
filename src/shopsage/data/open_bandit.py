"""The Open Bandit Dataset (ZOZOTOWN, Saito et al. 2021) as :class:`LoggedFeedback`, and the two
policies that logged it.

Layout (``../shared/data/open-bandit``)::

    random/{all,men}/{all,men}.csv   bts/{all,men}/{all,men}.csv   */*/item_context.csv
    prior_bts.yaml                   # {campaign: {alpha: [...], beta: [...]}}

Features follow the Open Bandit Pipeline's ``OpenBanditDataset.pre_process`` so that a reward model
on them matches obp's side by side: context = one-hot of ``user_feature_0..3`` (first category of
each dropped, categories in sorted order); item features = ``item_feature_1..3`` label-encoded
(sorted categories) then ``item_feature_0``. Rows are sorted by timestamp (stable); positions
1..3 become 0..2.

The Bernoulli Thompson Sampling policy is context-free: each impression draws
``theta_a ~ Beta(alpha_a, beta_a)`` for every item and shows the three highest in order. Its
probability of item ``a`` at position ``k`` has no closed form, so it is estimated by Monte Carlo
as obp's ``BernoulliTS.compute_batch_action_dist`` does (``n_sim`` draws, numpy's ``RandomState``
stream: one seed gives obp's exact distribution).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import numpy as np

from shopsage.data.logged_feedback import LoggedFeedback
from shopsage.errors import ImportFormatError, ValidationError

__all__ = ["CAMPAIGNS", "POLICIES", "Campaign", "Policy", "load_open_bandit", "load_bts_prior",
           "bts_action_distribution", "uniform_action_distribution"]

Campaign = Literal["all", "men"]
Policy = Literal["random", "bts"]
CAMPAIGNS: tuple[Campaign, ...] = ("all", "men")
POLICIES: tuple[Policy, ...] = ("random", "bts")
N_POSITIONS = 3
USER_FEATURES = tuple(f"user_feature_{i}" for i in range(4))
ITEM_CATEGORIES = tuple(f"item_feature_{i}" for i in range(1, 4))


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ImportFormatError(f"{path} does not exist: point --data at the open-bandit folder "
                                "(random/, bts/, prior_bts.yaml; see ../shared/data/README.md).")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    if not rows:
        raise ImportFormatError(f"{path} has a header but no rows.")
    columns = np.array(rows, dtype=object).T
    return {name: columns[i] for i, name in enumerate(header)}


def _one_hot_drop_first(values: np.ndarray) -> np.ndarray:
    """pandas.get_dummies(drop_first=True) of one column: (n, n_categories - 1)."""
    categories, codes = np.unique(values.astype(str), return_inverse=True)
    return (codes[:, None] == np.arange(1, len(categories))[None, :]).astype(np.float64)


def _item_context(path: Path) -> np.ndarray:
    """(n_actions, 4): label-encoded item_feature_1..3, then item_feature_0."""
    cols = _read_csv(path)
    order = np.argsort(cols["item_id"].astype(np.int64), kind="stable")
    encoded = [np.unique(cols[name][order].astype(str), return_inverse=True)[1].astype(np.float64)
               for name in ITEM_CATEGORIES]
    return np.column_stack([*encoded, cols["item_feature_0"][order].astype(np.float64)])


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValidationError(f"unknown Open Bandit {what} {value!r}; use one of {', '.join(allowed)}.")


def load_open_bandit(root: str | Path, policy: Policy, campaign: Campaign) -> LoggedFeedback:
    """One logging policy's file of one campaign (e.g. ``random``/``men``) as logged feedback."""
    _check_choice(policy, POLICIES, "policy")
    _check_choice(campaign, CAMPAIGNS, "campaign")
    folder = Path(root) / policy / campaign
    cols = _read_csv(folder / f"{campaign}.csv")
    missing = [c for c in ("timestamp", "item_id", "position", "click", "propensity_score", *USER_FEATURES)
               if c not in cols]
    if missing:
        raise ImportFormatError(f"{folder / f'{campaign}.csv'} lacks the columns {', '.join(missing)}; "
                                "is it an Open Bandit Dataset file?")
    order = np.argsort(cols["timestamp"].astype(str), kind="stable")  # ISO-8601, one zone: text order is time order
    action_context = _item_context(folder / "item_context.csv")
    position = cols["position"][order].astype(np.int64)
    _, position = np.unique(position, return_inverse=True)  # dense rank: 1, 2, 3 -> 0, 1, 2
    context = np.column_stack([_one_hot_drop_first(cols[name][order]) for name in USER_FEATURES])
    return LoggedFeedback(action=cols["item_id"][order].astype(np.int64), position=position,
                          reward=cols["click"][order].astype(np.float64),
                          pscore=cols["propensity_score"][order].astype(np.float64),
                          n_actions=len(action_context), n_positions=N_POSITIONS,
                          context=context, action_context=action_context)


def load_bts_prior(root: str | Path, campaign: Campaign) -> tuple[np.ndarray, np.ndarray]:
    """The Beta prior ``(alpha, beta)``, one value per item, of ZOZOTOWN's Bernoulli TS for a campaign."""
    import yaml

    _check_choice(campaign, CAMPAIGNS, "campaign")
    path = Path(root) / "prior_bts.yaml"
    if not path.is_file():
        raise ImportFormatError(f"{path} does not exist: the BTS prior ships beside random/ and bts/ in the "
                                "open-bandit folder.")
    prior = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        alpha = np.asarray(prior[campaign]["alpha"], dtype=np.float64)
        beta = np.asarray(prior[campaign]["beta"], dtype=np.float64)
    except (KeyError, TypeError) as exc:
        raise ImportFormatError(f"{path} has no {campaign}.alpha / {campaign}.beta lists.") from exc
    if alpha.shape != beta.shape or np.any(alpha <= 0) or np.any(beta <= 0):
        raise ImportFormatError(f"{path}: {campaign}.alpha and .beta must be equally long lists of positive numbers.")
    return alpha, beta


def bts_action_distribution(alpha: np.ndarray, beta: np.ndarray, n_positions: int = N_POSITIONS,
                            n_sim: int = 100_000, seed: int = 12345, chunk: int = 10_000) -> np.ndarray:
    """(n_actions, n_positions): the probability that Bernoulli TS with prior ``Beta(alpha, beta)`` shows
    each item at each position, from ``n_sim`` simulated lists.

    Each simulated list draws one theta per item and ranks the items by it (highest first), so an
    item appears at most once per list and every column sums to 1. Draws come from
    ``np.random.RandomState(seed)`` in obp's order (one row of ``n_actions`` per list).
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    n_actions = len(alpha)
    if not 1 <= n_positions <= n_actions:
        raise ValidationError(f"n_positions of {n_positions} must be between 1 and the number of items, {n_actions}.")
    if n_sim < 1:
        raise ValidationError(f"n_sim of {n_sim} must be at least 1 (obp uses 100000).")
    rng = np.random.RandomState(seed)
    counts = np.zeros((n_actions, n_positions))
    for start in range(0, n_sim, chunk):
        theta = rng.beta(alpha, beta, size=(min(chunk, n_sim - start), n_actions))  # (S, A)
        top = np.argsort(theta, axis=1)[:, ::-1][:, :n_positions]                   # (S, P), best first
        for k in range(n_positions):
            counts[:, k] += np.bincount(top[:, k], minlength=n_actions)
    return counts / n_sim


def uniform_action_distribution(n_actions: int, n_positions: int = N_POSITIONS) -> np.ndarray:
    """(n_actions, n_positions): the uniform random policy, each item equally likely at each position."""
    return np.full((n_actions, n_positions), 1.0 / n_actions)

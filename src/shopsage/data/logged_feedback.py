"""Logged bandit feedback: what a policy showed, where, with what probability, and what happened.

One row per shown item (a "round" in the Open Bandit Pipeline's vocabulary, which counts each
(impression, position) pair as its own row):

===========  ======================  ===========================================================
field        shape / dtype           meaning
===========  ======================  ===========================================================
action       (n,) int64              the item shown, as a contiguous int id ``0 .. n_actions-1``
position     (n,) int64              its slot in the list, 0-based (0 = top)
reward       (n,) float64            what followed: 1.0 click, 0.0 none (or any bounded reward)
pscore       (n,) float64            the logging policy's probability of showing ``action`` at
                                     ``position`` in this context (its marginal, not the list's)
context      (n, d) float64 or None  features of the shopper/request, if any
action_context (n_actions, d_a)      features of each item, if any
===========  ======================  ===========================================================

How the service's exposure log maps onto it (issue 24, deliverable 1): each exposure row
``(response id, scenario, variant, item, position, probability, time)`` plus the click later
attributed to it becomes one row here: ``action`` = the item's int id from the catalogue
``Vocabulary``, ``position`` = the exposure's position, ``pscore`` = the recorded probability,
``reward`` = 1.0 when a click (or cart, purchase: choose the reward) is attributed to that
``(response id, position)``, else 0.0. Select the rows of one ``scenario`` and of the ``variant``
whose policy logged them (its probabilities are the ``pscore``); ``time`` orders the rows (and
splits them for a time-based evaluation); the response id groups the rows of one list.
Context features are whatever the evaluated policy and the reward model condition on (profile
segments, device, ...), one row per exposure. Rows whose policy recorded no probability cannot
be used: the importance weights need it.

The policy being evaluated is given separately (``shopsage.evaluate.ope.EvaluationPolicy``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopsage.errors import ValidationError

__all__ = ["LoggedFeedback"]


@dataclass(frozen=True)
class LoggedFeedback:
    """Logged bandit feedback (see the module docstring); validated on construction."""

    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    n_actions: int
    n_positions: int
    context: np.ndarray | None = None
    action_context: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.action)
        if n == 0:
            raise ValidationError("logged feedback has no rows: log some exposures (with their clicks) first.")
        for name in ("position", "reward", "pscore"):
            if len(getattr(self, name)) != n:
                raise ValidationError(f"logged feedback: {name} has {len(getattr(self, name))} rows but action has "
                                      f"{n}; give one value per logged row.")
        action = np.asarray(self.action)
        position = np.asarray(self.position)
        if action.min() < 0 or action.max() >= self.n_actions:
            raise ValidationError(f"logged feedback: actions must lie in 0..{self.n_actions - 1} (n_actions); "
                                  f"found {action.min()}..{action.max()}. Map item ids through the vocabulary.")
        if position.min() < 0 or position.max() >= self.n_positions:
            raise ValidationError(f"logged feedback: positions must lie in 0..{self.n_positions - 1} (0-based); "
                                  f"found {position.min()}..{position.max()}.")
        pscore = np.asarray(self.pscore, dtype=np.float64)
        if not (np.all(pscore > 0) and np.all(pscore <= 1)):
            raise ValidationError("logged feedback: every pscore (logging propensity) must be in (0, 1]; rows "
                                  "without a recorded probability cannot be used for off-policy evaluation.")
        if not np.all(np.isfinite(np.asarray(self.reward, dtype=np.float64))):
            raise ValidationError("logged feedback: rewards must be finite numbers (1.0 click, 0.0 none).")
        if self.context is not None and len(self.context) != n:
            raise ValidationError(f"logged feedback: context has {len(self.context)} rows, expected {n}.")
        if self.action_context is not None and len(self.action_context) != self.n_actions:
            raise ValidationError(f"logged feedback: action_context has {len(self.action_context)} rows, "
                                  f"expected one per action ({self.n_actions}).")
        object.__setattr__(self, "action", action.astype(np.int64, copy=False))
        object.__setattr__(self, "position", position.astype(np.int64, copy=False))
        object.__setattr__(self, "reward", np.asarray(self.reward, dtype=np.float64))
        object.__setattr__(self, "pscore", pscore)

    @property
    def n_rounds(self) -> int:
        """Number of logged rows (one per shown item)."""
        return len(self.action)

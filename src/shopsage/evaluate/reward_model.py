"""The reward model of the direct method and the doubly robust estimators, cross-fitted.

``q(x, a, k)``: a logistic regression per position ``k`` (position interacts with every feature)
on ``[context x, item features of a]`` (item features default to a one-hot of the item id). The
rows are split into ``n_folds`` folds (scikit-learn ``KFold``, shuffled, seeded); each fold's rows
are predicted, for every item and position, by models trained on the other folds only, so dm and
dr never score a row with a model that saw its reward. This is obp's ``RegressionModel``
(``fitting_method="normal"``) with the same folds: the same seed gives the same predictions.
"""

from __future__ import annotations

import numpy as np

from shopsage.data.logged_feedback import LoggedFeedback
from shopsage.evaluate.ope import OPEConfig

__all__ = ["fit_reward_model", "reward_features"]


def reward_features(fb: LoggedFeedback, rows: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """(len(rows), d + d_a): the context of ``rows`` beside the features of ``actions``."""
    action_context = fb.action_context if fb.action_context is not None else np.eye(fb.n_actions)
    item = action_context[actions]
    return item if fb.context is None else np.column_stack([fb.context[rows], item])


def _fit_predict(fb: LoggedFeedback, train: np.ndarray, test: np.ndarray, cfg: OPEConfig) -> np.ndarray:
    """(len(test), n_actions, n_positions) predictions of per-position models fitted on ``train`` rows."""
    from sklearn.linear_model import LogisticRegression

    n_actions, n_positions = fb.n_actions, fb.n_positions
    out = np.empty((len(test), n_actions, n_positions))
    every_action = np.repeat(np.arange(n_actions)[None, :], len(test), axis=0).ravel()  # (T*A,)
    test_rows = np.repeat(test, n_actions)
    for k in range(n_positions):
        rows = train[fb.position[train] == k]
        y = fb.reward[rows]
        if len(np.unique(y)) < 2:  # one class only (e.g. no click at this position): its rate is the model
            out[:, :, k] = y.mean() if len(y) else fb.reward[train].mean()
            continue
        model = LogisticRegression(C=1.0 / cfg.reg, max_iter=10_000)
        model.fit(reward_features(fb, rows, fb.action[rows]), y)
        proba = model.predict_proba(reward_features(fb, test_rows, every_action))[:, 1]
        out[:, :, k] = proba.reshape(len(test), n_actions)
    return out


def fit_reward_model(fb: LoggedFeedback, config: OPEConfig | None = None) -> np.ndarray:
    """Cross-fitted predictions ``q_hat`` (n_rounds, n_actions, n_positions) of the reward of every item
    at every position for every logged row's context."""
    from sklearn.model_selection import KFold

    cfg = config or OPEConfig()
    q_hat = np.empty((fb.n_rounds, fb.n_actions, fb.n_positions))
    folds = KFold(n_splits=cfg.n_folds, shuffle=True, random_state=cfg.seed)
    for train, test in folds.split(np.arange(fb.n_rounds)):
        q_hat[test] = _fit_predict(fb, train, test, cfg)
    return q_hat

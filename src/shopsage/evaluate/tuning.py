"""Hyperparameter search on the validation split only (never on test), with optuna.

Each model class offers ``search_space(trial) -> dict`` (optuna suggestions in the hyperparameter
vocabulary of ``docs/conventions.md``). A trial fits on the training sequences (validation cases
handed over for early stopping) and is scored on the validation cases; the best configuration is
then refit on train + validation targets by the caller before the one test evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shopsage.data.splits import SplitData
from shopsage.errors import CapacityError, ConfigError
from shopsage.evaluate.protocols import EvalOptions, evaluate, subsample_cases
from shopsage.recommend.base import Recommender, TrainData

__all__ = ["tune"]


def tune(model_cls: type[Recommender], split: SplitData, *, n_trials: int, metric: str, opts: EvalOptions,
         base_config: dict[str, Any] | None = None, item_text: list[str] | None = None,
         max_valid_cases: int | None = None, seed: int = 0,
         on_trial: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """Search ``model_cls.search_space`` for ``n_trials`` trials maximising ``metric`` on validation.

    Returns ``{"params", "best_value", "metric", "trials": [{"params", "value", "seconds"}...]}``;
    ``params`` merge ``base_config`` with the best trial's suggestions.
    """
    import optuna

    space = getattr(model_cls, "search_space", None)
    if space is None:
        raise ConfigError(f"{model_cls.__name__} has no search_space(trial): run it without --tune "
                          "or give it a search space")
    base_config = dict(base_config or {})
    data = TrainData.from_split(split, item_text=item_text)
    valid = subsample_cases(split.valid, max_valid_cases, seed)
    history: list[dict[str, Any]] = []
    refusals: list[str] = []

    def objective(trial: optuna.Trial) -> float:
        params = {**base_config, **space(trial)}
        started = time.perf_counter()
        try:
            model = model_cls(**params).fit(data)
        except CapacityError as exc:
            refusals.append(str(exc))
            raise optuna.TrialPruned(str(exc)) from exc
        value = evaluate(model, valid, split.n_items, opts)[metric]
        history.append({"params": params, "value": value, "seconds": round(time.perf_counter() - started, 2)})
        if on_trial is not None:
            on_trial(trial.number, value)
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        reason = f": {refusals[-1]}" if refusals else ""
        raise CapacityError(f"no trial of {model_cls.__name__} completed, every configuration was refused{reason}")
    best = max(history, key=lambda h: h["value"])
    return {"params": best["params"], "best_value": best["value"], "metric": f"valid/{metric}",
            "n_valid_cases": len(valid), "trials": history}

"""Learned ranker: LightGBM LambdaMART over :mod:`shopsage.search.features`.

Labels are graded relevance mapped to integer levels ``round(grade * levels_per_unit)``; the
LambdaMART gain of each level is linear (``level / levels_per_unit``), so the objective optimizes
exactly the nDCG the benchmark reports (gain = relevance - 1), not ``2^rel - 1``.

Saved as ``manifest.json`` + LightGBM's own text model ``model.txt`` (no pickles). The manifest
records the feature names and whether the features held the vector side (``dense``, with the item
encoder's id): a ranker scores only candidates computed the way it was trained.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.artifacts import read_manifest, write_manifest
from shopsage.errors import ModelError, NotFittedError, ValidationError

__all__ = ["RankerConfig", "LearnedRanker"]


def _lgb():  # type: ignore[no-untyped-def]
    try:
        import lightgbm
    except ImportError as exc:  # pragma: no cover - a runtime dependency
        raise ModelError("the learned ranker needs lightgbm: pip install lightgbm.") from exc
    return lightgbm


class RankerConfig(BaseModel):
    """LambdaMART settings (shared hyperparameter names: ``epochs``, ``learning_rate``, ``seed``)."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(300, ge=1)
    """Boosting rounds (upper bound: early stopping on a held-out share of training queries)."""
    learning_rate: float = Field(0.1, gt=0)
    num_leaves: int = Field(31, ge=2)
    min_data_in_leaf: int = Field(50, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    reg: float = Field(1.0, ge=0)
    """L2 regularization of leaf values."""
    max_grade: float = Field(2.0, gt=0)
    """Largest relevance gain in the labels."""
    levels_per_unit: int = Field(3, ge=1)
    """Integer label levels per unit of gain (3 keeps Home Depot's thirds exact)."""
    early_stopping: int = Field(40, ge=0)
    """Stop after this many rounds without gain on the validation queries (0: never)."""
    valid_fraction: float = Field(0.1, ge=0, lt=1)
    """Share of training queries held out for early stopping."""
    threads: int = Field(2, ge=1)
    seed: int = 0


class LearnedRanker:
    """Scores candidate feature rows; higher is better."""

    KIND = "learned-ranker"

    def __init__(self, config: RankerConfig | None = None) -> None:
        self.config = config or RankerConfig()
        self._booster = None
        self.feature_names: list[str] = []
        self.metrics: dict[str, float] = {}
        self.dense = True
        """Trained on features with the vector side (cosine, vector rank); False: lexical features only."""
        self.encoder_id: str | None = None
        """The item encoder of the vector features it was trained with."""
        self.version: str | None = None
        """The registry version it was loaded from (shown in search reasons)."""

    def _labels(self, grades: np.ndarray) -> np.ndarray:
        g = np.clip(np.asarray(grades, dtype=np.float64), 0, self.config.max_grade)
        return np.rint(g * self.config.levels_per_unit).astype(np.int32)

    def fit(self, features: np.ndarray, grades: np.ndarray, groups: np.ndarray, feature_names: list[str],
            weights: np.ndarray | None = None) -> LearnedRanker:
        """Train on rows grouped by query: ``groups[i]`` rows of query ``i`` follow each other. ``weights``
        (one per row; LightGBM scales each row's lambda gradients by it): inverse-propensity weights of
        click-trained rankers (:mod:`shopsage.rank`); None weighs every row 1."""
        lgb = _lgb()
        cfg = self.config
        groups = np.asarray(groups, dtype=np.int64)
        if groups.sum() != len(features) or len(grades) != len(features):
            raise ValidationError(f"{len(features)} feature rows, {len(grades)} grades and groups summing to "
                                  f"{groups.sum()}: they must agree.")
        if len(groups) < 2:
            raise ValidationError("the ranker needs judgments of at least 2 queries.")
        labels = self._labels(grades)
        n_levels = int(round(cfg.max_grade * cfg.levels_per_unit)) + 1
        params = {
            "objective": "lambdarank", "metric": "ndcg", "eval_at": [10],
            "label_gain": [i / cfg.levels_per_unit for i in range(n_levels)],
            "learning_rate": cfg.learning_rate, "num_leaves": cfg.num_leaves,
            "min_data_in_leaf": cfg.min_data_in_leaf, "feature_fraction": cfg.feature_fraction,
            "lambda_l2": cfg.reg, "num_threads": min(cfg.threads, 2), "seed": cfg.seed,
            "deterministic": True, "force_row_wise": True, "verbosity": -1,
        }
        rng = np.random.default_rng(cfg.seed)
        n_valid = int(len(groups) * cfg.valid_fraction) if cfg.early_stopping else 0
        is_valid = np.zeros(len(groups), dtype=bool)
        if n_valid:
            is_valid[rng.choice(len(groups), n_valid, replace=False)] = True
        row_valid = np.repeat(is_valid, groups)
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        train = lgb.Dataset(features[~row_valid], labels[~row_valid], group=groups[~is_valid],
                            weight=None if w is None else w[~row_valid], feature_name=feature_names, free_raw_data=True)
        sets, callbacks = [], []
        if n_valid:
            sets = [lgb.Dataset(features[row_valid], labels[row_valid], group=groups[is_valid], reference=train,
                                weight=None if w is None else w[row_valid])]
            callbacks = [lgb.early_stopping(cfg.early_stopping, verbose=False)]
        self._booster = lgb.train(params, train, num_boost_round=cfg.epochs, valid_sets=sets, callbacks=callbacks)
        self.feature_names = list(feature_names)
        best = self._booster.best_score.get("valid_0", {}) if n_valid else {}
        self.metrics = {"best_iteration": float(self._booster.best_iteration or cfg.epochs),
                        **{f"valid_{k}": float(v) for k, v in best.items()}}
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        if self._booster is None:
            raise NotFittedError("the learned ranker is not trained: call fit(...) or LearnedRanker.load(dir).")
        return np.asarray(self._booster.predict(features, num_threads=1), dtype=np.float32)

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """``(m, n_features + 1)`` each feature's additive share of each row's score (LightGBM's
        ``pred_contrib``, SHAP values of the trees); the last column is the bias. Rows sum to :meth:`predict`."""
        if self._booster is None:
            raise NotFittedError("the learned ranker is not trained: call fit(...) or LearnedRanker.load(dir).")
        return np.asarray(self._booster.predict(features, pred_contrib=True, num_threads=1), dtype=np.float64)

    def importance(self) -> dict[str, float]:
        if self._booster is None:
            return {}
        gain = self._booster.feature_importance("gain")
        return {n: float(g) for n, g in sorted(zip(self.feature_names, gain, strict=True), key=lambda x: -x[1])}

    def save(self, directory: str | Path) -> None:
        if self._booster is None:
            raise NotFittedError("nothing to save: train the ranker first.")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._booster.save_model(str(directory / "model.txt"))
        write_manifest(directory, self.KIND, json.loads(self.config.model_dump_json()),
                       feature_names=self.feature_names, metrics=self.metrics, dense=self.dense,
                       encoder_id=self.encoder_id)

    @classmethod
    def load(cls, directory: str | Path) -> LearnedRanker:
        directory = Path(directory)
        manifest = read_manifest(directory, cls.KIND)
        ranker = cls(RankerConfig(**manifest["config"]))
        ranker._booster = _lgb().Booster(model_file=str(directory / "model.txt"))
        ranker.feature_names = list(manifest["feature_names"])
        ranker.metrics = dict(manifest.get("metrics", {}))
        ranker.dense = bool(manifest.get("dense", True))
        ranker.encoder_id = manifest.get("encoder_id")
        ranker.version = manifest.get("version")
        return ranker

"""The learned ranking stage's model: the search ranker's LambdaMART, over a scenario's features.

:class:`StageRanker` is :class:`shopsage.search.ranker.LearnedRanker` (LightGBM lambdarank, plain
files: ``manifest.json`` + LightGBM's text ``model.txt``, no pickle) with its own artifact kind, so a
scenario never loads a search ranker by mistake, and the generator keys its features were built
from. Labels are clicks (0/1: ``max_grade=1``, one level per unit) and each row carries its
inverse-propensity weight (:mod:`shopsage.rank.clicks`).

:meth:`StageRanker.explain` gives each scored item's top feature contributions (path contributions,
:meth:`StageRanker.contributions`, which add up to the score), the reason the stage shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shopsage.artifacts import read_manifest
from shopsage.errors import NotFittedError
from shopsage.search.ranker import LearnedRanker, RankerConfig

__all__ = ["StageRanker", "stage_ranker_config", "ranker_name"]


def ranker_name(scenario: str) -> str:
    """The registry name of a scenario's learned ranker (``ranker-for_you``: '_' is allowed in names)."""
    return f"ranker-{scenario}"


def stage_ranker_config(**overrides: object) -> RankerConfig:
    """LambdaMART settings for click labels: binary gains, smaller leaves than the search ranker's."""
    base: dict[str, object] = {"max_grade": 1.0, "levels_per_unit": 1, "min_data_in_leaf": 100, "num_leaves": 31,
                               "learning_rate": 0.05, "epochs": 400, "early_stopping": 40}
    return RankerConfig.model_validate({**base, **overrides})


def _value(node: dict[str, Any]) -> float:
    """A dumped tree node's output: a split node's ``internal_value``, a leaf's ``leaf_value``."""
    return float(node["internal_value"] if "split_feature" in node else node["leaf_value"])


class StageRanker(LearnedRanker):
    """A scenario's ranker: scores its fused candidates' feature rows (higher first)."""

    KIND = "stage-ranker"

    def __init__(self, config: RankerConfig | None = None) -> None:
        super().__init__(config or stage_ranker_config())
        self.generators: list[str] = []
        """The generator keys (config order) the feature columns were built for."""
        self.scenario: str | None = None
        self.features_version = 0
        """:data:`shopsage.rank.features.FEATURES_VERSION` of its training features (0: unknown)."""
        self._paths: np.ndarray | None = None
        self.served_models: list[str] | None = None
        """The scenario's candidate models that were live when its training rows were built (None: unknown,
        versions before this was recorded); the stage serves it only while the same ones are live."""

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """``(m, n_features + 1)`` each feature's additive share of each row's score; the last column is
        the bias (the trees' root values). Rows sum to :meth:`predict`.

        Path contributions (Saabas's decomposition, as ``treeinterpreter`` computes it): every split on
        the row's path through a tree credits its feature with the change of the node value from the
        split node to the child the row took. The path a row takes is fixed by the leaf it reaches, so
        each tree's contributions are a table per leaf, built once from the model dump; a call is one
        ``pred_leaf`` prediction and a gather. Tree SHAP (LightGBM's ``pred_contrib``) gave 0.94 ms for
        the 10 shown rows of a Beauty answer, this 0.05 ms (docs/benchmarks.md)."""
        table = self._path_table()
        if not len(features):
            return np.zeros((0, table.shape[2]))
        assert self._booster is not None
        leaves = np.asarray(self._booster.predict(features, pred_leaf=True, num_threads=1), dtype=np.int64)
        leaves = leaves.reshape(len(features), -1)
        if leaves.shape[1] != table.shape[0]:
            raise ValueError(f"the model predicts with {leaves.shape[1]} trees, its dump holds {table.shape[0]}")
        return table[np.arange(table.shape[0])[None, :], leaves].sum(axis=1)

    def _path_table(self) -> np.ndarray:
        """``(trees, max leaves, n_features + 1)``: per tree and leaf, the path contributions and the root value."""
        if self._paths is None:
            if self._booster is None:
                raise NotFittedError("the stage ranker is not trained: call fit(...) or StageRanker.load(dir).")
            trees = self._booster.dump_model()["tree_info"]
            nf = len(self.feature_names)
            table = np.zeros((len(trees), max((t["num_leaves"] for t in trees), default=1), nf + 1))
            for t, tree in enumerate(trees):
                root = tree["tree_structure"]
                stack = [(root, np.zeros(nf))]
                while stack:
                    node, path = stack.pop()
                    if "split_feature" not in node:  # a leaf (a one-leaf tree is its own root)
                        table[t, node.get("leaf_index", 0), :nf] = path
                        table[t, node.get("leaf_index", 0), nf] = _value(root)
                        continue
                    for child in (node["left_child"], node["right_child"]):
                        step = path.copy()
                        step[node["split_feature"]] += _value(child) - _value(node)
                        stack.append((child, step))
            self._paths = table
        return self._paths

    def fit(self, *args: Any, **kwargs: Any) -> StageRanker:
        self._paths = None
        super().fit(*args, **kwargs)
        return self

    def explain(self, features: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
        """Per row, the ``top`` features that raised its score most, ``(name, contribution)``, positive
        contributions only, largest first (an empty list when none raised it)."""
        contrib = self.contributions(features)[:, :-1]
        out = []
        for row in contrib:
            order = np.argsort(-row, kind="stable")[:top]
            out.append([(self.feature_names[j], float(row[j])) for j in order if row[j] > 0])
        return out

    @classmethod
    def load(cls, directory: str | Path) -> StageRanker:
        ranker = super().load(directory)
        assert isinstance(ranker, StageRanker)
        manifest = read_manifest(Path(directory), cls.KIND)
        ranker.generators = list(manifest.get("generators", []))
        ranker.scenario = manifest.get("scenario")
        ranker.features_version = int(manifest.get("features_version", 1))
        served = manifest.get("served_models")
        ranker.served_models = None if served is None else [str(n) for n in served]
        return ranker

"""The learned ranking stage's model: the search ranker's LambdaMART, over a scenario's features.

:class:`StageRanker` is :class:`shopsage.search.ranker.LearnedRanker` (LightGBM lambdarank, plain
files: ``manifest.json`` + LightGBM's text ``model.txt``, no pickle) with its own artifact kind, so a
scenario never loads a search ranker by mistake, and the generator keys its features were built
from. Labels are clicks (0/1: ``max_grade=1``, one level per unit) and each row carries its
inverse-propensity weight (:mod:`shopsage.rank.clicks`).

:meth:`StageRanker.explain` gives each scored item's top feature contributions (LightGBM's
``pred_contrib``: the tree SHAP values, which add up to the score), the reason the stage shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shopsage.artifacts import read_manifest
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
        return ranker

"""What an experiment's variant serves: the scenario pipelines with its overrides applied.

A variant (:class:`~shopsage.experiments.VariantConfig`) overrides keys of the scenario's pipeline
config and/or serves pinned registry versions of models instead of the live ones. Both become one
:class:`~shopsage.serving.config.PipelinesConfig` per (experiment, variant, base pipelines), built
once and cached: the request path then runs the ordinary :func:`~shopsage.serving.scenario.run_scenario`
on it, so a variant is served exactly as it would be if it were promoted. A pinned version is
loaded into the service's :class:`~shopsage.serving.models.ModelSet` under ``name@version`` the first
time a variant needs it; the live version of the same model keeps serving everyone else.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from shopsage.errors import ValidationError, describe_problems
from shopsage.experiments.book import Assigned
from shopsage.experiments.definition import ExperimentConfig, VariantConfig
from shopsage.serving.config import PipelinesConfig, ScenarioConfig
from shopsage.serving.models import ModelSet

__all__ = ["VariantPipelines", "pinned_name"]

_MAX_CACHED = 256


def pinned_name(model: str, version: str) -> str:
    """The key a pinned registry version is served under (``ease@v3``)."""
    return f"{model}@{version}"


class VariantPipelines:
    """Pipelines per variant, cached; pinned model versions loaded on first use."""

    def __init__(self, models: ModelSet) -> None:
        self.models = models
        self._cache: dict[tuple[Any, ...], PipelinesConfig] = {}
        self._lock = threading.Lock()

    def scenario(self, base: PipelinesConfig, scenario: str, chosen: Assigned | None) -> ScenarioConfig:
        """The scenario's config as the variant serves it."""
        return self.apply(base, scenario, chosen).scenario(scenario)

    def apply(self, base: PipelinesConfig, scenario: str, chosen: Assigned | None) -> PipelinesConfig:
        """``base`` with the variant's overrides of ``scenario`` (``base`` itself for a control or no variant)."""
        if chosen is None or chosen.overrides.is_control or scenario == "search":
            return base
        key = (chosen.experiment.name, chosen.experiment.created_at, chosen.variant, id(base), scenario)
        got = self._cache.get(key)
        if got is None:
            with self._lock:
                got = self._cache.get(key) or self._build(base, scenario, chosen.overrides, chosen.experiment)
                if len(self._cache) >= _MAX_CACHED:
                    self._cache.clear()
                self._cache[key] = got
        return got

    def _build(self, base: PipelinesConfig, scenario: str, v: VariantConfig, exp: ExperimentConfig) -> PipelinesConfig:
        sc = override_scenario(base.scenario(scenario), v, exp.name)
        if v.models:
            for model, version in v.models.items():
                self.models.pin(model, version)
        return base.model_copy(update={"scenarios": {**base.scenarios, scenario: sc}})

    def check(self, pipelines: PipelinesConfig, exp: ExperimentConfig) -> None:
        """Refuse an experiment whose variants cannot be served: invalid pipeline keys for the scenarios in
        scope, registry versions that do not exist."""
        names = [s for s in pipelines.scenarios if s != "search" and exp.covers(s)]
        for v in exp.variants:
            for s in names:
                override_scenario(pipelines.scenario(s), v, exp.name)
            for model, version in (v.models or {}).items():
                self.models.registry.get(model, version)  # NotFoundError names what exists


def override_scenario(sc: ScenarioConfig, v: VariantConfig, experiment: str) -> ScenarioConfig:
    """``sc`` with the variant's pipeline keys, and its generators pointed at pinned model versions."""
    data = sc.model_dump()
    data.update(v.pipeline or {})
    for group in ("candidates", "fallbacks"):
        for g in data.get(group) or []:
            model = g.get("model") if isinstance(g, dict) else None
            if model and v.models and model in v.models:
                g["model"] = pinned_name(model, v.models[model])
    try:
        return ScenarioConfig.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(f"experiment {experiment!r}, variant {v.name!r}: its pipeline override is not a valid "
                              f"scenario: {describe_problems(exc)}. See config/pipelines.toml for every key.") from exc

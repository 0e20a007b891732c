"""An experiment, typed: where it runs, its variants and what each changes, and how large it must grow.

An experiment splits the traffic of one *scope* (``search``, every recommendation scenario
(``recommendations``), or one scenario by name, e.g. ``for_you``) between variants by a salted hash
of the shopper (:mod:`shopsage.experiments.assignment`). A variant changes one thing the service
already serves, so what is measured is what would be served:

- ``pipeline``: keys of the scenario's pipeline config (``config/pipelines.toml``), e.g. other
  candidate generators or weights, validated against :class:`~shopsage.serving.config.ScenarioConfig`
  when the service applies them;
- ``models``: registry versions to serve instead of the live ones (``{"ease": "v3"}``);
- ``search_mode``: a search mode (``lexical``, ``vector``, ``hybrid``, ``learned``).

A variant with none of them is the control (what is live). The planned sample size comes from a
power calculation for the test the analysis runs (:func:`shopsage.experiments.plan.plan_sample_size`).

With ``allocation = "bandit"`` a contextual bandit chooses the variant of each request instead
(:class:`BanditAllocation`, :mod:`shopsage.experiments.allocation`): no weights, no planned size,
and the report estimates each variant's value off-policy from the recorded probabilities.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

__all__ = ["VariantConfig", "ExperimentConfig", "BanditAllocation", "Allocation", "BanditReward", "Metric", "slug",
           "METRICS", "Status", "NAME_PATTERN"]

Metric = Literal["ctr", "add_to_cart_rate", "conversion_rate", "revenue_per_session"]
METRICS: tuple[str, ...] = ("ctr", "add_to_cart_rate", "conversion_rate", "revenue_per_session")
Status = Literal["running", "stopped"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


_Id = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A registry model name or version: no path separators (it becomes a folder name)."""


Allocation = Literal["split", "bandit"]
BanditReward = Literal["click", "add_to_cart", "purchase", "revenue"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BanditAllocation(_Strict):
    """How a contextual bandit allocates an experiment's requests (``allocation = "bandit"``;
    :mod:`shopsage.experiments.allocation`). Each request is one decision between the variants; the
    answer's exposures record the variant and the probability it had (``variant_propensity``), and every
    worker refits the bandit from the store's exposures and attributed events of the experiment."""

    policy: Literal["linucb", "lints"] = Field("linucb", description="linucb: upper confidence bound; lints: "
                                               "linear Thompson sampling (the names of shopsage.policy.bandits).")
    alpha: float = Field(1.0, ge=0, le=100, description="linucb: width of the confidence bonus; lints: scale of "
                         "the posterior covariance (in reward units per answer).")
    epsilon: float = Field(0.1, gt=0, le=1, description="Share of requests given a uniformly random variant: every "
                           "variant keeps at least epsilon / K probability, so the report's off-policy estimates of "
                           "every variant stay possible (0 is refused).")
    reg: float = Field(1.0, gt=0, le=1e6, description="L2 regularisation of the ridge regression (the prior precision).")
    reward: BanditReward = Field("click", description="What one answer earns: its number of attributed clicks, "
                                 "add-to-carts or purchases, or its purchases' summed value (revenue).")
    context: Literal["none", "scenario"] = Field("none", description="none: one reward per variant; scenario "
                                                 "(scope recommendations only): one per variant and scenario, the "
                                                 "scenario that answered being recorded with every exposure.")
    refit_s: float = Field(60.0, ge=1, le=86_400, description="Seconds between two refits from the store's logs. "
                           "Refits happen at multiples of refit_s (epoch time), so every worker fits the same logs.")
    settle_s: float = Field(30.0, ge=0, le=3_600, description="A refit counts exposures and events older than "
                            "settle_s only (those younger may still be in a worker's write queue).")
    rebuild_every: int = Field(60, ge=1, le=1_000_000, description="Every rebuild_every-th refit point re-reads every "
                               "log from the start (late writes and late attributions are counted then); the others "
                               "add only what the last refit_s seconds logged.")


class VariantConfig(_Strict):
    """One arm of an experiment: its share of the traffic and what it changes (nothing: the control)."""

    name: str = Field(pattern=NAME_PATTERN, description="Variant name, e.g. control, treatment.")
    weight: float = Field(1.0, gt=0, le=1e6, description="Relative share of the traffic (normalised over the variants).")
    pipeline: dict[str, Any] | None = Field(None, description="Scenario pipeline keys to override (as in "
                                            "config/pipelines.toml's [scenarios.NAME]); recommendation scopes only.")
    models: dict[_Id, _Id] | None = Field(None, description="Registry model name -> version to serve instead of "
                                          "the live version, e.g. {ease = \"v3\"}.")
    search_mode: Literal["lexical", "vector", "hybrid", "learned", "auto"] | None = Field(
        None, description="Search scope only: the search mode this variant serves (a request's own mode wins).")

    @property
    def is_control(self) -> bool:
        return self.pipeline is None and not self.models and self.search_mode is None


class ExperimentConfig(_Strict):
    """An A/B (or A/B/n) test. Declared under ``[[experiments]]`` in the shop's TOML (created in the store
    when the service starts unless the store holds one of that name: the store wins, so an experiment
    stopped through the API stays stopped), or created with ``shopsage experiments create`` /
    ``POST /v1/experiments``."""

    name: str = Field(pattern=NAME_PATTERN, description="Unique name; exposures carry it.")
    scope: str = Field(pattern=r"^[a-z_]{1,64}$", description="search, recommendations (every scenario) or one "
                       "scenario name (for_you, similar_items...). One running experiment per scope.")
    variants: list[VariantConfig] = Field(min_length=2, description="At least two; the first is the baseline "
                                          "every other variant is compared with.")
    salt: str | None = Field(None, max_length=64, description="Hash salt of the assignment (default: the name): a "
                             "new salt reshuffles who sees what, independently of earlier experiments.")
    status: Status = Field("running", description="running: assigning traffic; stopped: serving the live config.")
    metric: Metric = Field("ctr", description="The primary metric the sample size is planned for and the "
                           "sequential test decides on.")
    baseline: float = Field(0.05, gt=0, le=1e9, description="The primary metric's current value (e.g. a click-through of 0.05).")
    unit_sd: float | None = Field(None, gt=0, le=1e9, description="Standard deviation of the primary metric per unit "
                                  "(linearised, from history or an A/A pilot); None: a rate's binomial sd, "
                                  "sqrt(baseline * (1 - baseline)).")
    min_lift: float = Field(0.05, gt=0, le=10, description="Smallest relative lift worth detecting (0.05 = 5%).")
    alpha: float = Field(0.05, gt=0, lt=0.5, description="False-positive rate the sequential test guarantees, "
                         "however often the report is read.")
    power: float = Field(0.8, gt=0.5, lt=1, description="Chance of detecting a true lift of min_lift by the planned size.")
    planned_units: int | None = Field(None, ge=2, description="Units (users, else sessions) per variant; None: "
                                      "computed from the fields above when the experiment is created.")
    allocation: Allocation = Field("split", description="split: a salted hash of the shopper chooses the variant, "
                                   "in proportion to the weights (A/B test); bandit: a contextual bandit chooses it "
                                   "per request (see [bandit]), moving traffic to the better variant.")
    bandit: BanditAllocation | None = Field(None, description="The bandit's settings (allocation = \"bandit\" only; "
                                            "defaults when omitted).")
    created_at: float | None = Field(None, description="Epoch seconds; set when created.")
    stopped_at: float | None = Field(None, description="Epoch seconds; set when stopped.")

    @field_validator("variants")
    @classmethod
    def _unique(cls, v: list[VariantConfig]) -> list[VariantConfig]:
        names = [x.name for x in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"variant names {dup} appear more than once: give each variant its own name")
        return v

    @model_validator(mode="after")
    def _fits_scope(self) -> ExperimentConfig:
        for v in self.variants:
            if v.search_mode is not None and self.scope != "search":
                raise ValueError(f"variant {v.name!r} sets search_mode but the scope is {self.scope!r}: use scope "
                                 "= \"search\" or a pipeline override")
            if self.scope == "search" and (v.pipeline is not None or v.models):
                raise ValueError(f"variant {v.name!r}: a search experiment's variants differ by search_mode only "
                                 "(pipelines and model versions are for recommendation scopes)")
        return self._fits_allocation()

    def _fits_allocation(self) -> ExperimentConfig:
        if self.allocation == "split":
            if self.bandit is not None:
                raise ValueError("bandit settings are given but allocation is \"split\": set allocation = \"bandit\" "
                                 "or remove the bandit settings")
            return self
        if self.bandit is None:
            self.bandit = BanditAllocation()
        weighted = [v.name for v in self.variants if v.weight != 1.0]
        if weighted:
            raise ValueError(f"variants {weighted} set a weight but allocation is \"bandit\": the bandit sets the "
                             "shares; remove the weights or use allocation = \"split\"")
        if self.bandit.context == "scenario" and self.scope != "recommendations":
            raise ValueError(f"bandit context \"scenario\" needs scope \"recommendations\" (scope {self.scope!r} "
                             "has one scenario): use context = \"none\"")
        return self

    @property
    def hash_salt(self) -> str:
        return self.salt if self.salt is not None else self.name

    @property
    def weights(self) -> list[float]:
        total = sum(v.weight for v in self.variants)
        return [v.weight / total for v in self.variants]

    def variant(self, name: str) -> VariantConfig:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def covers(self, scenario: str) -> bool:
        """Whether a request of ``scenario`` (``search`` or a recommendation scenario) is in scope."""
        if self.scope == "recommendations":
            return scenario != "search"
        return self.scope == scenario


def slug(text: str) -> str:
    """``text`` as a file-name-safe fragment."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "experiment"

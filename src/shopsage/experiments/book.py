"""The experiments of a shop: created, listed and stopped in the store; the running ones, for a service.

The store is the truth (every worker and the CLI see the same experiments). A service holds an
:class:`ExperimentBook` that re-reads the store's small ``experiments`` table at most every
``refresh_s`` seconds, so an experiment created or stopped through any worker or the CLI takes
effect everywhere within that time, without a restart. An experiment allocated by a bandit gets a
:class:`~shopsage.experiments.allocation.BanditAllocator`, fitted from the store's logs on its first
request and refit in the background at its cutoffs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np
from pydantic import ValidationError as PydanticValidationError

from shopsage.errors import NotFoundError, ValidationError, describe_problems
from shopsage.experiments.allocation import BanditAllocator
from shopsage.experiments.assignment import assign, unit_of
from shopsage.experiments.definition import ExperimentConfig, VariantConfig
from shopsage.experiments.plan import plan_sample_size

__all__ = ["ExperimentBook", "Assigned", "create_experiment", "stop_experiment", "list_experiments",
           "get_experiment", "seed_experiments", "parse_experiment"]

log = logging.getLogger("shopsage.experiments")


class _Reader(Protocol):
    def experiments(self, name: str | None = None) -> list[dict[str, Any]]: ...

    def read_exposures(self, experiment: str | None = None, since: float | None = None) -> Any: ...

    def read_attributed(self, experiment: str | None = None, since: float | None = None) -> Any: ...


class _Experiments(_Reader, Protocol):

    def write_experiment(self, definition: dict[str, Any], replace: bool = False) -> None: ...

    def stop_experiment(self, name: str) -> float: ...


class Assigned(NamedTuple):
    """What :meth:`ExperimentBook.assign` answers: the experiment, the variant's name and its overrides."""

    experiment: ExperimentConfig
    variant: str
    overrides: VariantConfig
    probability: float | None = None
    """The probability the bandit had of choosing this variant for this request (``allocation = "bandit"``;
    recorded as the exposures' ``variant_propensity``); None under a hash split or a forced variant."""


def parse_experiment(data: dict[str, Any]) -> ExperimentConfig:
    """An :class:`ExperimentConfig` from JSON/TOML data; a :class:`ValidationError` naming each problem."""
    try:
        return ExperimentConfig.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid experiment: {describe_problems(exc)}. See docs/architecture.md "
                              "(Experiments) or config/shopsage.example.toml for every key.") from exc


def list_experiments(store: _Reader) -> list[ExperimentConfig]:
    """The stored experiments, oldest first; a row that is not a valid definition is logged and skipped
    (one unreadable row must not stop serving or creating the others)."""
    found = []
    for d in store.experiments():
        try:
            found.append(ExperimentConfig.model_validate(d))
        except PydanticValidationError as exc:
            log.warning("experiment %r in the store is not valid and is skipped: %s", d.get("name"),
                        describe_problems(exc))
    return found


def get_experiment(store: _Reader, name: str) -> ExperimentConfig:
    found = store.experiments(name)
    if not found:
        raise NotFoundError(f"no experiment named {name!r}: `shopsage experiments list` (GET /v1/experiments) "
                            "shows them")
    return ExperimentConfig.model_validate(found[0])


def create_experiment(store: _Experiments, exp: ExperimentConfig,
                      check: Callable[[ExperimentConfig], None] | None = None) -> ExperimentConfig:
    """Plan (when ``planned_units`` is unset), check and store a new running experiment. Refused when its name
    exists or another running experiment has the same scope (its traffic is taken). ``check``: the caller's
    extra validation (a service checks that pipelines, models and modes can be served)."""
    clash = [e.name for e in list_experiments(store) if e.status == "running" and e.scope == exp.scope]
    if clash:
        raise ValidationError(f"experiment {clash[0]!r} is already running on scope {exp.scope!r}: stop it first "
                              f"(`shopsage experiments stop {clash[0]}`) or choose another scope")
    if check is not None:
        check(exp)
    if exp.planned_units is None and exp.allocation == "split":  # adaptive allocation has no fixed size
        w = exp.weights
        plan = plan_sample_size(exp.baseline, exp.min_lift, exp.unit_sd, exp.alpha, exp.power, ratio=w[1] / w[0])
        exp = exp.model_copy(update={"planned_units": plan.sequential_units})
    exp = exp.model_copy(update={"status": "running", "created_at": time.time(), "stopped_at": None})
    store.write_experiment(exp.model_dump(mode="json"))
    return exp


def stop_experiment(store: _Experiments, name: str) -> ExperimentConfig:
    """Stop ``name`` (its traffic goes back to the live configuration); idempotent."""
    get_experiment(store, name)
    store.stop_experiment(name)
    return get_experiment(store, name)


def seed_experiments(store: _Experiments, declared: Sequence[ExperimentConfig]) -> list[str]:
    """Create the experiments the shop's config declares that the store does not hold yet (the store wins:
    one stopped through the API stays stopped); returns the names created."""
    have = {d["name"] for d in store.experiments()}
    created = []
    for exp in declared:
        if exp.name not in have:
            create_experiment(store, exp)
            created.append(exp.name)
    return created


class ExperimentBook:
    """The running experiments of a store, re-read at most every ``refresh_s`` seconds."""

    def __init__(self, store: Callable[[], _Reader], refresh_s: float = 2.0, clock: Callable[[], float] = time.time,
                 background: bool = True, rng: np.random.Generator | None = None) -> None:
        """``clock``: epoch seconds (the bandit's refit cutoffs); ``background``: refit a bandit in a thread of
        its own (False: on the request that finds it due, as tests and benchmarks want); ``rng``: the bandits'
        random numbers (default: fresh entropy)."""
        self._store = store
        self.refresh_s = refresh_s
        self._at = float("-inf")
        self._running: list[ExperimentConfig] = []
        self._lock = threading.Lock()
        self._clock = clock
        self._background = background
        self._rng = rng
        self._allocators: dict[tuple[str, float | None], BanditAllocator] = {}
        self._refitting: set[tuple[str, float | None]] = set()

    def running(self) -> list[ExperimentConfig]:
        now = time.monotonic()
        if now - self._at > self.refresh_s:
            with self._lock:
                if now - self._at > self.refresh_s:
                    self._running = [e for e in list_experiments(self._store()) if e.status == "running"]
                    live = {(e.name, e.created_at) for e in self._running}
                    self._allocators = {k: a for k, a in self._allocators.items() if k in live}
                    self._at = now
        return self._running

    def invalidate(self) -> None:
        """Re-read the store at the next request (after a create or stop through this process)."""
        self._at = float("-inf")

    def experiment_for(self, scenario: str) -> ExperimentConfig | None:
        """The running experiment covering ``scenario``: one on that scenario by name, else one on every
        recommendation scenario (``recommendations``)."""
        running = self.running()
        exact = [e for e in running if e.scope == scenario]
        if exact:
            return exact[0]
        return next((e for e in running if e.covers(scenario)), None)

    def assign(self, scenario: str, user: str | None, session: str | None, variant: str | None = None) -> Assigned | None:
        """The experiment and variant of a request (None: no running experiment covers ``scenario``, or the
        request names neither user nor session). ``variant`` forces a variant (previews, QA): it must be
        one of the experiment's, which must cover ``scenario`` (else a :class:`NotFoundError`: nothing to preview)."""
        exp = self.experiment_for(scenario)
        if exp is None:
            if variant is not None:
                running = ", ".join(f"{e.name} (scope {e.scope})" for e in self.running()) or "none"
                raise NotFoundError(f"no running experiment covers {scenario!r}, so it has no variant "
                                    f"{variant!r} to preview; running experiments: {running}. Leave out ?variant= "
                                    "to get the live answer.")
            return None
        if variant is not None:
            try:
                return Assigned(exp, variant, exp.variant(variant))
            except KeyError:
                raise ValidationError(f"variant {variant!r} is not one of experiment {exp.name!r}'s: "
                                      f"{', '.join(v.name for v in exp.variants)}. Preview one of those.") from None
        if exp.allocation == "bandit":
            if unit_of(user, session) is None:
                return None  # as under a split: a request naming no shopper is no part of the experiment
            choice = self.allocator(exp).choose(scenario)
            return Assigned(exp, choice.variant, exp.variant(choice.variant), choice.probability)
        name = assign(exp, user, session)
        return None if name is None else Assigned(exp, name, exp.variant(name))

    def allocator(self, exp: ExperimentConfig) -> BanditAllocator:
        """The bandit of ``exp``: fitted from the store on first use (the request waits), refit when its next
        cutoff is due (in the background unless ``background`` is off; requests meanwhile use the last state)."""
        key = (exp.name, exp.created_at)
        found = self._allocators.get(key)
        if found is None:
            with self._lock:
                found = self._allocators.get(key)
                if found is None:
                    found = BanditAllocator(exp, self._rng)
                    found.refit(self._store(), self._clock())
                    self._allocators[key] = found
            return found
        now = self._clock()
        if found.due(now):  # not while a failed refit backs off (BanditAllocator.failed)
            if not self._background:
                with self._lock:
                    self._refit_or_back_off(exp.name, found, now)
            elif key not in self._refitting:
                with self._lock:
                    if key in self._refitting:
                        return found
                    self._refitting.add(key)
                threading.Thread(target=self._refit, args=(key, found, now), daemon=True,
                                 name=f"bandit-refit-{exp.name}").start()
        return found

    def _refit(self, key: tuple[str, float | None], allocator: BanditAllocator, now: float) -> None:
        try:
            self._refit_or_back_off(key[0], allocator, now)
        finally:
            with self._lock:
                self._refitting.discard(key)

    def _refit_or_back_off(self, name: str, allocator: BanditAllocator, now: float) -> None:
        """Refit; when that fails (the store may be down) keep the last state and back off, logging once per
        failed try (the tries are 1 s, 2 s, 4 s ... apart, at most ``refit_s``)."""
        try:
            allocator.refit(self._store(), now)
        except Exception as exc:
            delay = allocator.failed(now)
            log.warning("refitting the bandit of experiment %r failed (%d in a row: %s: %s); it keeps serving its "
                        "state of cutoff %s and tries again in %g s. Check that the store is reachable.", name,
                        allocator.failures, type(exc).__name__, exc, allocator.cutoff, delay,
                        exc_info=allocator.failures == 1)  # the traceback once, not at every step

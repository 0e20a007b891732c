"""``/v1/experiments``: create, list, stop and read A/B tests (thin: the library's experiments and analysis).

Reading the list and the reports needs a write key (they name the shop's pipelines and its results);
creating and stopping one changes what shoppers see, so it needs an admin key (a write key while no
admin keys are configured). A created or stopped experiment takes effect on every worker within
the book's refresh (2 s), on this worker at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from shopsage.api.deps import current
from shopsage.api.schemas import ErrorOut
from shopsage.api.security import require_admin, require_write
from shopsage.experiments import ExperimentConfig
from shopsage.experiments.definition import NAME_PATTERN

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])

_ERR: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut},
                                         422: {"model": ErrorOut}, 429: {"model": ErrorOut}}
Name = Annotated[str, Path(pattern=NAME_PATTERN, description="The experiment's name.")]


@router.get("", response_model=list[ExperimentConfig], responses=_ERR, dependencies=[Depends(require_write)])
def list_experiments(request: Request) -> list[ExperimentConfig]:
    """Every experiment, oldest first, with its status and planned size."""
    from shopsage.experiments.book import list_experiments as listed

    return listed(current(request).store)


@router.post("", response_model=ExperimentConfig, status_code=201, responses={**_ERR, 409: {"model": ErrorOut}},
             dependencies=[Depends(require_admin)])
def create_experiment(exp: ExperimentConfig, request: Request) -> ExperimentConfig:
    """Create a running experiment: variants are checked against the service's pipelines and registry, the
    sample size is planned unless ``planned_units`` is given (or ``allocation`` is ``bandit``: a contextual
    bandit then chooses each request's variant, with the settings of ``bandit``)."""
    from shopsage.experiments.book import create_experiment as create

    svc = current(request)
    made = create(svc.store, exp, check=lambda e: svc.variants.check(svc.pipelines, e))
    svc.experiments.invalidate()
    return made


@router.post("/{name}/stop", response_model=ExperimentConfig, responses=_ERR, dependencies=[Depends(require_admin)])
def stop_experiment(name: Name, request: Request) -> ExperimentConfig:
    """Stop the experiment: its traffic is served the live configuration again. Idempotent."""
    from shopsage.experiments.book import stop_experiment as stop

    svc = current(request)
    svc.exposure_log.flush()
    done = stop(svc.store, name)
    svc.experiments.invalidate()
    return done


@router.get("/{name}/report", responses=_ERR, dependencies=[Depends(require_write)])
def report(name: Name, request: Request,
           peek_every: Annotated[int, Query(ge=1, le=1_000_000, description="Sessions between two looks of the "
                                            "sequential test.")] = 1000,
           by_segment: Annotated[bool, Query(description="Also analyse each shopper segment's users "
                                             "(lifecycle, value, interest; exploratory).")] = False) -> dict[str, Any]:
    """Per variant: click-through, add-to-cart and conversion rates and revenue per session with 95%
    intervals; per variant against the first: differences, lifts, p-values; the sample-ratio check; the
    sequential test's always-valid p-value and decision. An experiment allocated by a bandit
    (``allocation = "bandit"``) answers instead each variant's off-policy value (ips, snips; dm and dr for
    0/1 rewards) with bootstrap intervals, the logged and current traffic shares and the favoured variant."""
    from shopsage.evaluate.abtest_report import experiment_report

    svc = current(request)
    svc.exposure_log.flush()  # what was answered so far is in the report
    segments_of = None
    if by_segment:
        def segments_of(user: str) -> frozenset[str]:
            found = svc.segment_of(user)
            return found.names if found is not None else frozenset()
    return experiment_report(svc.store, name, peek_every, segments_of)

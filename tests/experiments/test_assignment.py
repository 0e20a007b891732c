"""Salted-hash assignment: deterministic, balanced to the weights, independent across salts."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from shopsage.evaluate.abtest import SRM_THRESHOLD, srm_check
from shopsage.experiments import ExperimentConfig, assign, assign_units, unit_of

ids = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=40)


def _exp(weights: list[float], salt: str = "s") -> ExperimentConfig:
    return ExperimentConfig.model_validate({"name": "t", "scope": "for_you", "salt": salt,
                                            "variants": [{"name": f"v{i}", "weight": w} for i, w in enumerate(weights)]})


@given(user=st.one_of(st.none(), ids), session=st.one_of(st.none(), ids), salt=ids)
def test_assignment_is_deterministic_and_by_user_before_session(user: str | None, session: str | None, salt: str) -> None:
    exp = _exp([1, 1, 2], salt)
    got = assign(exp, user, session)
    assert got == assign(exp, user, session) == assign(_exp([1, 1, 2], salt), user, session)
    if user:
        assert got == assign(exp, user, "another-session")
    elif session:
        assert got == assign(exp, None, session)
    else:
        assert got is None
    if got is not None:
        unit = unit_of(user, session)
        assert unit is not None and exp.variants[int(assign_units(exp, [unit])[0])].name == got


@given(weights=st.lists(st.floats(0.05, 5.0), min_size=2, max_size=4), salt=ids)
def test_assignment_splits_units_in_proportion_to_the_weights(weights: list[float], salt: str) -> None:
    exp = _exp(weights, salt)
    n = 4000
    counts = np.bincount(assign_units(exp, [f"u:user-{i}" for i in range(n)]), minlength=len(weights))
    for share, count in zip(exp.weights, counts, strict=True):
        sd = math.sqrt(n * share * (1 - share))
        assert abs(count - n * share) <= 5 * sd + 1
    assert srm_check(counts.tolist(), exp.weights)[1] > 1e-6


def test_salts_reshuffle_independently() -> None:
    units = [f"u:user-{i}" for i in range(8000)]
    a = assign_units(_exp([1, 1], "first"), units)
    b = assign_units(_exp([1, 1], "second"), units)
    both = np.bincount(a * 2 + b, minlength=4) / len(units)
    assert np.all(np.abs(both - 0.25) < 0.02)  # treatment in one says nothing about the other


def test_sample_ratio_check_catches_a_split_that_loses_part_of_one_variant() -> None:
    exp = _exp([1, 1], "srm")
    v = assign_units(exp, [f"u:user-{i}" for i in range(20_000)])
    fair = np.bincount(v, minlength=2)
    assert srm_check(fair.tolist(), exp.weights)[1] > SRM_THRESHOLD
    # a bug drops every 20th treatment unit (e.g. exposures of one variant not logged): 5% lost
    lost = v.copy()[~((v == 1) & (np.arange(len(v)) % 20 == 0))]
    assert srm_check(np.bincount(lost, minlength=2).tolist(), exp.weights)[1] < SRM_THRESHOLD

"""The domain models never take a JSON boolean for a number (pydantic's lax mode stores ``true`` as 1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shopsage.data.schema import Event, EventContext, Item, Judgment

VALID = {
    Item: {"id": "sku-1", "title": "kettle", "price": 12.5, "stock": 3, "created_at": 1.7e9, "updated_at": 1.7e9},
    Event: {"type": "rating", "user": "u1", "item": "sku-1", "value": 4.0, "timestamp": 1.7e9},
    EventContext: {"position": 2, "propensity": 0.5},
    Judgment: {"query": "kettle", "item": "sku-1", "grade": 2.0},
}
NUMERIC = {
    Item: ["price", "stock", "created_at", "updated_at"],
    Event: ["value", "timestamp", "ordinal"],
    EventContext: ["position", "propensity"],
    Judgment: ["grade"],
}
CASES = [(model, name) for model, names in NUMERIC.items() for name in names]


@pytest.mark.parametrize(("model", "name"), CASES, ids=[f"{m.__name__}.{n}" for m, n in CASES])
@given(flag=st.booleans())
@settings(max_examples=4, deadline=None)
def test_a_boolean_is_refused_with_the_field_named(model, name, flag) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match=f"{name} is a boolean"):
        model.model_validate({**VALID[model], name: flag})


@pytest.mark.parametrize("model", list(VALID), ids=lambda m: m.__name__)
def test_numbers_and_booleans_where_booleans_belong_still_validate(model) -> None:  # type: ignore[no-untyped-def]
    model.model_validate(VALID[model])
    if model is Item:
        assert Item.model_validate({**VALID[Item], "available": False}).available is False

"""One model-name resolver (shopsage.recommend.model_class): the benchmark runner and the serving
model loader resolve through it; the runner adds ``package.module:Class`` for benchmarks."""

from __future__ import annotations

import pytest

from shopsage.errors import ConfigError
from shopsage.evaluate.runner import model_label, model_names, resolve_model
from shopsage.recommend import MODELS, model_class
from shopsage.recommend.ease import EASE
from shopsage.serving.models import recommender_class


def test_registered_names_resolve_through_model_class() -> None:
    for name in ("ease", "itemknn", "sknn", "hybrid"):
        assert resolve_model(name) is model_class(name) is recommender_class(name)
    assert model_names() == sorted(MODELS)


def test_module_paths_are_the_runners_extension() -> None:
    assert resolve_model("shopsage.recommend.ease:EASE") is EASE
    assert resolve_model("mine=shopsage.recommend.ease:EASE") is EASE
    assert model_label("mine=shopsage.recommend.ease:EASE") == "mine" and model_label("ease") == "ease"
    with pytest.raises(ConfigError, match="cannot load model class 'shopsage.recommend.ease:Nope'"):
        resolve_model("shopsage.recommend.ease:Nope")


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown model 'nope'; known models: .*ease.*module.path:ClassName"):
        resolve_model("nope")
    assert recommender_class("nope") is None

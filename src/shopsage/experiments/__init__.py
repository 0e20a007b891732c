"""Experiments: typed definitions, deterministic assignment, and the running set a service applies.

Definitions and assignment import nothing above the core (the shop's config embeds the definition);
:class:`~shopsage.experiments.book.ExperimentBook` (the store-backed set of experiments a service
serves) is imported from its module.
"""

from __future__ import annotations

from shopsage.experiments.assignment import assign, assign_units, bucket, unit_of
from shopsage.experiments.definition import METRICS, ExperimentConfig, Metric, VariantConfig

__all__ = ["ExperimentConfig", "VariantConfig", "Metric", "METRICS", "assign", "assign_units", "bucket", "unit_of"]

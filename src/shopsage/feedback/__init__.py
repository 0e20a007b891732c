"""Feedback: what the service showed (exposures), and what shoppers did with it (attribution)."""

from __future__ import annotations

from shopsage.feedback.records import (
    ATTRIBUTED_TYPES,
    EXPOSURE_KINDS,
    AttributedEvent,
    ExposureKind,
    ExposureRow,
)

__all__ = ["ExposureRow", "AttributedEvent", "ExposureKind", "EXPOSURE_KINDS", "ATTRIBUTED_TYPES"]

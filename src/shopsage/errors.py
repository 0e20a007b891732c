"""Every ShopSage error class, in one place.

Each message says what went wrong *and what to do next*. Domain errors are mapped to HTTP
status codes by the API's single exception handler (see ``HTTP_STATUS``).
"""

from __future__ import annotations

__all__ = [
    "ShopSageError",
    "ConfigError",
    "StoreError",
    "StoreURLError",
    "SchemaVersionError",
    "ImportFormatError",
    "StrictImportError",
    "ValidationError",
    "NotFoundError",
    "ModelError",
    "NotFittedError",
    "ArtifactError",
    "CapacityError",
    "NotBetterError",
    "HTTP_STATUS",
    "describe_problems",
]


class ShopSageError(Exception):
    """Base class of every error ShopSage raises on purpose."""


class ConfigError(ShopSageError):
    """A configuration value or environment variable is invalid."""


class StoreError(ShopSageError):
    """The store cannot be opened, read or written."""


class StoreURLError(StoreError):
    """A store URL has an unknown scheme or a malformed path."""


class SchemaVersionError(StoreError):
    """The database schema is newer than this version of ShopSage understands."""


class ImportFormatError(ShopSageError):
    """An import source is missing, unreadable or not in the announced format."""


class StrictImportError(ImportFormatError):
    """``--strict`` import stopped at the first bad row."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(
            f"{source}, line {line}: {reason}. Fix that row, or import without --strict to send "
            "bad rows to the quarantine and keep going."
        )
        self.source = source
        self.line = line
        self.reason = reason


class ValidationError(ShopSageError):
    """User input (an API payload, a CLI argument) is invalid."""


class NotFoundError(ShopSageError):
    """An item, user, model or other named object does not exist."""


class ModelError(ShopSageError):
    """A model cannot be trained or used with the given data or configuration."""


class NotFittedError(ModelError):
    """A model was used before ``fit`` or ``load``."""


class ArtifactError(ShopSageError):
    """A saved model or index directory is missing, incomplete or of another version."""


class CapacityError(ModelError):
    """The requested computation exceeds a configured size limit."""


class NotBetterError(ShopSageError):
    """A model version was not promoted: it does not beat the live one on the asked metric."""


HTTP_STATUS: dict[type[ShopSageError], int] = {
    ValidationError: 422,
    ConfigError: 400,
    NotFoundError: 404,
    CapacityError: 413,
    NotBetterError: 409,
    NotFittedError: 503,
    StoreError: 503,
}


def describe_problems(exc: Exception, whole: str = "") -> str:
    """``field.path: message; ...`` of a pydantic ValidationError; ``whole`` names a problem of the
    object itself (empty location)."""
    errors = exc.errors()  # type: ignore[attr-defined]
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or whole}: {e['msg']}" for e in errors)

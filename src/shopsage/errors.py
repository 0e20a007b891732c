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
    "SearchParameterError",
    "NotFoundError",
    "ModelError",
    "NotFittedError",
    "ArtifactError",
    "CapacityError",
    "NotBetterError",
    "IdempotencyKeyReusedError",
    "EventConflictError",
    "UnknownItemsError",
    "PrivacyBudgetError",
    "FieldKeyError",
    "RequestTimeoutError",
    "RateLimitError",
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


class SearchParameterError(ValidationError):
    """A search parameter (``filter``, ``facets``, ``sort``, ``highlight``) is malformed or names an
    attribute the catalogue does not have; ``detail`` says which parameter, where (1-based column) and what."""

    def __init__(self, message: str, parameter: str, column: int | None = None) -> None:
        where = f" (column {column})" if column is not None else ""
        super().__init__(f"{parameter}{where}: {message}")
        self.parameter, self.column, self.problem = parameter, column, message
        self.detail = [{"parameter": parameter, "column": column, "problem": message}]


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


class IdempotencyKeyReusedError(ShopSageError):
    """An ``Idempotency-Key`` came back with a different body than the request first recorded under it."""


class EventConflictError(ShopSageError):
    """An event id is already stored with other content; ``detail`` holds both versions."""

    def __init__(self, message: str, detail: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.detail = detail


class UnknownItemsError(ValidationError):
    """Events name items that are not in the catalogue (``unknown_items = "reject"``); ``detail`` lists them."""

    def __init__(self, message: str, items: list[str]) -> None:
        super().__init__(message)
        self.items = items
        self.detail = [{"item": i} for i in items]


class PrivacyBudgetError(ShopSageError):
    """A differentially private release would spend more privacy budget than the period has left."""


class FieldKeyError(ShopSageError):
    """Encrypted personal fields cannot be read: the field key is missing or not the one they were written with."""


class RequestTimeoutError(ShopSageError):
    """A request's body did not arrive within the read timeout (``SHOPSAGE_READ_TIMEOUT``)."""


class RateLimitError(ShopSageError):
    """A client (API key or address) sent more requests than its rate limit allows; ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


HTTP_STATUS: dict[type[ShopSageError], int] = {
    ValidationError: 422,
    SearchParameterError: 400,
    ConfigError: 400,
    NotFoundError: 404,
    CapacityError: 413,
    NotBetterError: 409,
    NotFittedError: 503,
    StoreError: 503,
    PrivacyBudgetError: 429,
    FieldKeyError: 503,
    IdempotencyKeyReusedError: 409,
    EventConflictError: 409,
    UnknownItemsError: 422,
    RequestTimeoutError: 408,
    RateLimitError: 429,
}


def describe_problems(exc: Exception, whole: str = "") -> str:
    """``field.path: message; ...`` of a pydantic ValidationError; ``whole`` names a problem of the
    object itself (empty location)."""
    errors = exc.errors()  # type: ignore[attr-defined]
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or whole}: {e['msg']}" for e in errors)

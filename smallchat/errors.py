"""User-facing errors: each carries a message a person can act on.

The core raises these; the chat page shows ``str(error)`` and the REST API maps the
type to a status code. Nothing here may ever contain an API key.
"""

from __future__ import annotations


class SmallChatError(Exception):
    """Base class: ``str(error)`` is safe and meant for the user."""

    http_status = 500


class ConfigError(SmallChatError):
    """A setting has a value SmallChat cannot use."""


class InvalidInput(SmallChatError):
    """The user's input was refused (empty, too long, malformed id)."""

    http_status = 422


class SessionNotFound(SmallChatError):
    """The chat session does not exist (never did, or was deleted)."""

    http_status = 404


class StorageError(SmallChatError):
    """The database could not be opened or written."""

    http_status = 503


class ProviderError(SmallChatError):
    """The AI provider failed; ``retryable`` says whether sending again may help.

    ``partial_reply`` is the reply saved from what arrived before the failure (flagged
    incomplete, with its cost), when anything did.
    """

    http_status = 502
    retryable = True
    partial_reply: object | None = None


class InvalidApiKey(ProviderError):
    http_status = 401
    retryable = False


class PermissionDenied(ProviderError):
    http_status = 403
    retryable = False


class ModelNotFound(ProviderError):
    http_status = 404
    retryable = False


class RequestTooLarge(ProviderError):
    http_status = 413
    retryable = False


class ContextTooLong(ProviderError):
    """The conversation no longer fits the model's context window."""

    http_status = 413
    retryable = False


class RateLimited(ProviderError):
    http_status = 429

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds  # the wait the provider asked for, if it said


class ProviderUnavailable(ProviderError):
    http_status = 503


class ProviderTimeout(ProviderError):
    http_status = 504


class ProviderUnreachable(ProviderError):
    http_status = 503


class BudgetExceeded(SmallChatError):
    """Sending would take a budget over its limit; the person may raise it or confirm once."""

    http_status = 402

    def __init__(self, message: str, *, scope: str, spent: object, limit: object, forecast: object) -> None:
        super().__init__(message)
        self.scope = scope
        self.spent = spent
        self.limit = limit
        self.forecast = forecast

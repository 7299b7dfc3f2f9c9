"""Every error the connector raises, each carrying its HTTP status and stable code.

The tree::

    ConnectorError                      500 internal_error
    ├── InvalidInput                    400 invalid_input
    ├── MissingCredentials              401 missing_api_key
    ├── UnusableKey                     401 invalid_api_key
    ├── NotFound                        404 not_found
    ├── SubscriptionLimitReached        409 subscription_limit_reached
    ├── UnsupportedByProvider           400 unsupported_by_provider
    │   └── TargetRefused               400 target_refused
    │       └── TargetUnresolved        400 target_refused (hooks/targets.py)
    ├── RequestTooLarge                 413 request_too_large
    ├── NotConfigured                   503 not_configured
    ├── StoreUnavailable                503 store_unavailable
    │   ├── StoreReadOnly               503 store_read_only
    │   └── StoreFull                   503 store_full
    ├── SealError (crypto.py)           500 sealed_value_unreadable
    └── ProviderError                   502 upstream_error
        ├── ProviderRejectedInput       400 upstream_rejected_input
        ├── ProviderAuthFailed          401 invalid_api_key
        ├── ProviderOutOfCredits        402 insufficient_credits
        ├── ProviderNotFound            404 not_found
        ├── ProviderRateLimited         429 rate_limited
        ├── ProviderUnavailable         502 upstream_unavailable
        ├── ProviderInvalidResponse     502 upstream_invalid_response
        └── ProviderTimeout             504 upstream_timeout

    ConfigError                         never a response: stops start-up

Only ``connector.api`` turns these into HTTP responses; everything below it raises them.
"""

from __future__ import annotations

import typing as t


class ConnectorError(Exception):
    """Base of every error that may reach a caller as ``{"error": ..., "code": ...}``."""

    status_code: t.ClassVar[int] = 500
    code: t.ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, details: t.Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def headers(self) -> dict[str, str]:
        """Extra response headers this error asks for."""
        return {}


class InvalidInput(ConnectorError):
    """The caller's input cannot be used; ``details`` maps field names to messages."""

    status_code = 400
    code = "invalid_input"


class TargetRefused(InvalidInput):
    """A webhook target URL the connector will not call (scheme, or a private address)."""

    code = "target_refused"


class NotConfigured(ConnectorError):
    """A feature the server's configuration does not enable."""

    status_code = 503
    code = "not_configured"


class MissingCredentials(ConnectorError):
    """The caller sent no upstream API key."""

    status_code = 401
    code = "missing_api_key"


class UnusableKey(ConnectorError):
    """The bearer key cannot be any provider's key (characters no key has); never sent
    upstream."""

    status_code = 401
    code = "invalid_api_key"


class RequestTooLarge(ConnectorError):
    """The request body is larger than the server accepts; refused before it is read."""

    status_code = 413
    code = "request_too_large"


class NotFound(ConnectorError):
    """What the request names does not exist (a subscription, a dead letter, a video...)."""

    status_code = 404
    code = "not_found"


class SubscriptionLimitReached(ConnectorError):
    """The caller already has as many webhook subscriptions as the server allows, in all
    or to one target URL; ``details`` says which limit (``scope``) and its ``limit``.

    409 Conflict, not 429: waiting does not help, removing a subscription does.
    """

    status_code = 409
    code = "subscription_limit_reached"


class UnsupportedByProvider(ConnectorError):
    """No provider available to the caller can do what was asked (a missing capability)."""

    status_code = 400
    code = "unsupported_by_provider"


class StoreUnavailable(ConnectorError):
    """The state store could not be reached or stayed locked; nothing was recorded."""

    status_code = 503
    code = "store_unavailable"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class StoreReadOnly(StoreUnavailable):
    """The store refuses writes (file permissions, a read-only disk, a read-only database);
    it will not heal by itself, so the operator must act."""

    code = "store_read_only"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "60"}


class StoreFull(StoreUnavailable):
    """The store's disk (or quota) is full; the failed write was rolled back whole."""

    code = "store_full"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "60"}


class ProviderError(ConnectorError):
    """The upstream TikTok data provider failed to give a usable answer."""

    status_code = 502
    code = "upstream_error"


class ProviderRejectedInput(ProviderError):
    """Upstream refused the input (for example a URL it cannot process)."""

    status_code = 400
    code = "upstream_rejected_input"


class ProviderAuthFailed(ProviderError):
    """Upstream says the caller's API key is missing, invalid or inactive."""

    status_code = 401
    code = "invalid_api_key"


class ProviderOutOfCredits(ProviderError):
    """Upstream accepted the key but the account has no credits left.

    402 Payment Required, not 403: the key is fine, so platforms must not ask the user to
    reconnect the account; they should tell them to top it up.
    """

    status_code = 402
    code = "insufficient_credits"


class ProviderNotFound(ProviderError, NotFound):
    """Upstream has no such video or account."""

    status_code = 404
    code = "not_found"


class ProviderRateLimited(ProviderError):
    """Upstream refused the call for quota reasons; ``retry_after`` is in seconds."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, details: t.Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ProviderUnavailable(ProviderError):
    """Upstream failed (a 5xx it does not document as something else) or could not be
    reached; another provider may answer."""

    code = "upstream_unavailable"


class ProviderInvalidResponse(ProviderError):
    """Upstream answered 2xx with a body that is not the documented shape."""

    code = "upstream_invalid_response"


class ProviderTimeout(ProviderError):
    """Upstream did not answer within the call's deadline."""

    status_code = 504
    code = "upstream_timeout"


class ConfigError(Exception):
    """The configuration cannot work; raised at start-up, never turned into a response."""

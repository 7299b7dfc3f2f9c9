"""Who a request acts for: its tenant, its platform, and the upstream keys that serve it."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import typing as t

from .errors import ConfigError, InvalidInput
from .providers import PROVIDERS, provider_class

if t.TYPE_CHECKING:
    from .config import Settings


def tenant_for(api_key: str) -> str:
    """A stable, one-way tenant id for an API key, so that state never holds the key itself.

    Keys are long random secrets, so an unsalted hash cannot be reversed by guessing; the
    prefix keeps these digests apart from any other use of the same key.
    """
    return hashlib.sha256(b"tiktok-connector/tenant/v1\x00" + api_key.encode()).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who made a request and which upstream keys serve it.

    ``credentials`` are (provider name, key) pairs in the order to try them: one pair when
    the caller brought their own key, the operator's keys in failover order otherwise.
    """

    tenant: str
    request_source: str
    credentials: tuple[tuple[str, str], ...] = dataclasses.field(repr=False)
    bearer: str = dataclasses.field(repr=False, default="")
    chosen_provider: str | None = None  # the X-Provider the caller named, if any

    @property
    def secrets(self) -> set[str]:
        """Every secret this request carries, for redaction."""
        return {self.bearer, *(key for _, key in self.credentials)} - {""}

    @property
    def provider(self) -> str:
        return self.credentials[0][0]


class Keyring:
    """The operator's upstream keys, and the access tokens that may spend them.

    :raises ConfigError: for server keys without access tokens, or a failover order naming
        an unknown provider or one without a key.
    """

    def __init__(self, settings: Settings) -> None:
        self.default_provider: str = settings.provider
        self.server_keys = dict(settings.api_keys)
        self.access_tokens = list(settings.access_tokens)
        if self.server_keys and not self.access_tokens:
            raise ConfigError(
                "Server-side provider keys are set, so CONNECTOR_ACCESS_TOKENS must be too: "
                "only callers presenting one of those tokens may spend the server's keys."
            )
        self.failover_order = self._failover_order(list(settings.provider_order))

    def _failover_order(self, configured: list[str]) -> list[str]:
        for name in configured:
            provider_class(name)
            if name not in self.server_keys:
                raise ConfigError(
                    f"CONNECTOR_PROVIDER_ORDER names {name!r}, which has no "
                    f"CONNECTOR_{name.upper()}_API_KEY."
                )
        order = configured or [self.default_provider, *PROVIDERS]
        return [name for name in dict.fromkeys(order) if name in self.server_keys]

    def caller_for(self, bearer: str, provider: str | None, request_source: str) -> Caller:
        """The caller presenting ``bearer``: their own key for ``provider`` (default: the
        configured one), or, for an operator access token, the server's keys in failover
        order with ``provider`` first.

        :raises InvalidInput: for an unknown provider, or one the server holds no key for.
        """
        if provider is not None and provider not in PROVIDERS:
            raise InvalidInput(
                f"X-Provider {provider!r} is not a provider; choose one of: {', '.join(PROVIDERS)}."
            )
        if self.is_access_token(bearer):
            order = self.failover_order
            if provider is not None:
                if provider not in self.server_keys:
                    raise InvalidInput(
                        f"This server holds no key for provider {provider!r}; it holds keys "
                        f"for: {', '.join(order)}."
                    )
                order = [provider, *(name for name in order if name != provider)]
            credentials = tuple((name, self.server_keys[name]) for name in order)
        else:
            credentials = ((provider or self.default_provider, bearer),)
        return Caller(
            tenant=tenant_for(bearer),
            request_source=request_source,
            credentials=credentials,
            bearer=bearer,
            chosen_provider=provider,
        )

    def is_access_token(self, token: str) -> bool:
        """Whether ``token`` is one of the operator's access tokens (constant-time)."""
        return any(hmac.compare_digest(token, known) for known in self.access_tokens)

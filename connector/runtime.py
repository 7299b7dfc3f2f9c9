"""The long-lived objects of one app: the store, HTTP clients, provider keys and limits."""

from __future__ import annotations

import dataclasses
import hmac
import threading
import typing as t

import httpx

from .config import Settings
from .crypto import KeyCheck, Sealer, check_secret_key
from .errors import ConfigError, InvalidInput, NotConfigured
from .metrics import Metrics
from .platforms import tenant_for
from .providers import PROVIDERS, ConcurrencyLimits, FailoverProvider, provider_class
from .providers.limits import PostgresSlots, SlotLimiter
from .store import open_store
from .transport import upstream_transport
from .triggers.new_video import PollSettings

if t.TYPE_CHECKING:
    from .providers import Provider
    from .store import Store
    from .store.postgres import PostgresStore


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


class Runtime:
    """Built once per app by ``create_app``; lives at ``app.extensions["connector"]``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.default_provider: str = settings.provider
        self.server_keys = dict(settings.api_keys)
        self.access_tokens = list(settings.access_tokens)
        if self.server_keys and not self.access_tokens:
            raise ConfigError(
                "Server-side provider keys are set, so CONNECTOR_ACCESS_TOKENS must be too: "
                "only callers presenting one of those tokens may spend the server's keys."
            )
        self.failover_order = self._failover_order(list(settings.provider_order))
        self.key_check = KeyCheck()  # what start-up did about the secret key
        self.store: Store = open_store(
            settings.database_url, busy_timeout=settings.sqlite_busy_timeout
        )
        self.metrics = Metrics(self.store, settings)
        self.poll_settings = PollSettings(
            max_pages=settings.backfill_max_pages,
            seen_ids_per_feed=settings.seen_ids_per_feed,
            sample_size=settings.sample_size,
            budget=settings.poll_budget,
            store_reserve=min(2.0, settings.poll_budget / 10),
            recent_window=settings.recent_window,
            recent_max=settings.recent_max,
        )
        self.limits = self._limiter()
        try:
            self._sealer = self._open_sealer(settings)
        except BaseException:
            self.store.close()
            raise
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()

    def _limiter(self) -> SlotLimiter:
        """Upstream slots shared by every worker on the same PostgreSQL database; within
        this process on SQLite, which one machine serves."""
        if self.store.backend == "postgresql":
            return PostgresSlots(t.cast("PostgresStore", self.store).pool)
        return ConcurrencyLimits()

    def _open_sealer(self, settings: Settings) -> Sealer | None:
        """The sealer for the secret key, once the store's secrets are known to open with it
        (re-sealed with it, when rotating from CONNECTOR_SECRET_KEY_PREVIOUS).

        :raises ConfigError: for a missing, weak or wrong key.
        """
        secret, previous = settings.secret_key, settings.secret_key_previous
        if secret is None:
            if previous is not None:
                raise ConfigError(
                    "CONNECTOR_SECRET_KEY_PREVIOUS is set without CONNECTOR_SECRET_KEY: a key "
                    "rotation needs the new key too."
                )
            if self.store.has_subscriptions():
                raise ConfigError(
                    "Webhook subscriptions exist, so CONNECTOR_SECRET_KEY must be set (the one "
                    "they were created with) to poll on their behalf."
                )
            return None
        sealer = Sealer(secret, previous=previous)
        self.key_check = check_secret_key(self.store, sealer)
        return sealer

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

    @property
    def sealer(self) -> Sealer:
        """Seals keys and secrets at rest.

        :raises NotConfigured: without ``CONNECTOR_SECRET_KEY``.
        """
        if self._sealer is None:
            raise NotConfigured(
                "Instant triggers are not enabled on this server: set CONNECTOR_SECRET_KEY "
                "(32 or more characters) to let it keep your key for polling."
            )
        return self._sealer

    def base_url(self, name: str) -> str:
        return self.settings.base_urls.get(name) or provider_class(name).default_base_url

    def provider(self, name: str, api_key: str, request_source: str) -> Provider:
        cls = provider_class(name)
        return cls(
            self._client(name),
            api_key=api_key,
            request_source=request_source,
            default_retry_after=self.settings.default_retry_after,
            limits=self.limits,
        )

    def providers_for(self, caller: Caller) -> FailoverProvider:
        """The caller's providers, bound to their keys, in the order to try them."""
        self.metrics.attribute(caller.tenant, caller.request_source)
        return FailoverProvider(
            [self.provider(name, key, caller.request_source) for name, key in caller.credentials]
        )

    def _client(self, name: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(name)
            if client is None:
                client = httpx.Client(
                    base_url=self.base_url(name),
                    timeout=self.settings.upstream_timeout,
                    headers={"User-Agent": "tiktok-connector"},
                    # Retries connect failures only, which never reached upstream; every
                    # call ends at its deadline, whatever the peer does (see send_json).
                    transport=self.metrics.transport(name, upstream_transport(retries=1)),
                )
                self._clients[name] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
        self.store.close()

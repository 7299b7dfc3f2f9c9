"""The composition root of one app: builds the store, the sealer, the providers and the
webhook services once, and hands each only what it uses."""

from __future__ import annotations

import logging
import typing as t

from .callers import Keyring
from .config import Settings
from .crypto import KeyCheck, Sealer, check_secret_key
from .errors import ConfigError
from .hooks.delivery import Deliverer
from .hooks.poller import PollContext
from .hooks.scheduler import Scheduler
from .hooks.subscriptions import Subscriptions, require_sealer
from .metrics import Metrics
from .providers import ConcurrencyLimits
from .providers.cache import CachedProvider, LookupCache
from .providers.limits import FileSlots, PostgresSlots
from .store import open_store
from .triggers.new_video import PollSettings
from .upstream import ProviderFactory

if t.TYPE_CHECKING:
    import ssl

    from .callers import Caller
    from .providers import FailoverProvider
    from .providers.limits import SlotLimiter
    from .store import Store
    from .store.postgres import PostgresStore

log = logging.getLogger("connector.runtime")


class Runtime:
    """Built once per app by ``create_app``; lives at ``app.extensions["connector"]``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keyring = Keyring(settings)
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
        self.providers = ProviderFactory(settings, self.metrics, self.limits)
        self.lookups = LookupCache(
            max_entries=settings.lookup_cache_size,
            lookup_ttl=settings.lookup_cache_ttl,
            feed_ttl=settings.feed_cache_ttl,
            count=self.metrics.lookup,
        )
        self.subscriptions = Subscriptions(self.store, self._sealer, self.providers, settings)
        self.poll_context = PollContext(
            store=self.store,
            sealer=self._sealer,
            keyring=self.keyring,
            providers=self.providers,
            metrics=self.metrics,
            settings=settings,
            poll_settings=self.poll_settings,
            deliverers=self.deliverer,
        )

    def _limiter(self) -> SlotLimiter:
        """Upstream slots shared by every worker on the same PostgreSQL database; by every
        process of the machine on a SQLite file (lock files beside it); within this process
        for an in-memory store."""
        if self.store.backend == "postgresql":
            return PostgresSlots(t.cast("PostgresStore", self.store).pool)
        path = getattr(self.store, "path", ":memory:")
        if path != ":memory:":
            try:
                return FileSlots(f"{path}.slots")
            except ImportError:  # no flock (Windows): granian serves one worker there
                pass
            except OSError as exc:  # a folder this process may not write in
                log.warning("Upstream limits hold within this process only: %s", exc)
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

    @property
    def default_provider(self) -> str:
        return self.keyring.default_provider

    @property
    def server_keys(self) -> dict[str, str]:
        return self.keyring.server_keys

    @property
    def access_tokens(self) -> list[str]:
        return self.keyring.access_tokens

    @property
    def failover_order(self) -> list[str]:
        return self.keyring.failover_order

    def caller_for(self, bearer: str, provider: str | None, request_source: str) -> Caller:
        """See :meth:`Keyring.caller_for`."""
        return self.keyring.caller_for(bearer, provider, request_source)

    @property
    def sealer(self) -> Sealer:
        """Seals keys and secrets at rest.

        :raises NotConfigured: without ``CONNECTOR_SECRET_KEY``.
        """
        return require_sealer(self._sealer)

    def base_url(self, name: str) -> str:
        return self.providers.base_url(name)

    def providers_for(self, caller: Caller) -> FailoverProvider:
        """The caller's providers, bound to their keys, in the order to try them."""
        failover = self.providers.for_caller(caller)
        # Identical lookups of one tenant share upstream calls and answers (providers/cache.py).
        return CachedProvider(failover.providers, cache=self.lookups, tenant=caller.tenant)

    def deliverer(
        self, *, ssl_context: ssl.SSLContext | None = None, wait: float | None = None
    ) -> Deliverer:
        """A deliverer of due webhook deliveries; see :class:`Deliverer` for ``wait``."""
        return Deliverer(
            self.store,
            self._sealer,
            self.metrics,
            self.settings,
            ssl_context=ssl_context,
            wait=wait,
        )

    def scheduler(self, interval: float) -> Scheduler:
        """The poll scheduler of ``connector serve``: a cycle every ``interval`` seconds,
        each waiting at most ``CONNECTOR_DELIVERY_TIMEOUT`` for its deliveries."""
        return Scheduler(
            self.poll_context, self.deliverer(wait=self.settings.delivery_timeout), interval
        )

    def close(self) -> None:
        self.providers.close()
        self.metrics.flush()  # the usage counted since the last batch
        self.store.close()

"""The long-lived objects of one app: the store and one HTTP client per provider."""

from __future__ import annotations

import dataclasses
import threading
import typing as t

import httpx

from .providers import provider_class
from .store import open_store
from .triggers.new_video import PollSettings

if t.TYPE_CHECKING:
    from .providers import Provider
    from .store import Store


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who made a request: their upstream key, its tenant, and the platform calling."""

    api_key: str = dataclasses.field(repr=False)
    tenant: str
    request_source: str
    provider: str


class Runtime:
    """Built once per app by ``create_app``; lives at ``app.extensions["connector"]``."""

    def __init__(self, config: t.Mapping[str, t.Any]) -> None:
        self.config = config
        self.store: Store = open_store(
            config["DATABASE_URL"], busy_timeout=float(config["SQLITE_BUSY_TIMEOUT"])
        )
        self.poll_settings = PollSettings(
            max_pages=int(config["BACKFILL_MAX_PAGES"]),
            seen_ids_per_feed=int(config["SEEN_IDS_PER_FEED"]),
            sample_size=int(config["SAMPLE_SIZE"]),
        )
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()
        provider_class(config["PROVIDER"])  # fail start-up on an unknown default provider

    def provider(self, caller: Caller) -> Provider:
        """The caller's provider, bound to their key and requestSource."""
        cls = provider_class(caller.provider)
        return cls(
            self._client(cls.name),
            api_key=caller.api_key,
            request_source=caller.request_source,
            default_retry_after=int(self.config["DEFAULT_RETRY_AFTER"]),
        )

    def _client(self, name: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(name)
            if client is None:
                client = httpx.Client(
                    base_url=self.config[f"{name.upper()}_BASE_URL"],
                    timeout=float(self.config["UPSTREAM_TIMEOUT"]),
                    headers={"User-Agent": "tiktok-connector"},
                    # Retries connect failures only, which never reached upstream.
                    transport=httpx.HTTPTransport(retries=1),
                )
                self._clients[name] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
        self.store.close()

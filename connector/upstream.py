"""Providers bound to a caller's keys, over one pooled HTTP client per provider."""

from __future__ import annotations

import logging
import threading
import typing as t

import httpx

from .providers import PROVIDERS, FailoverProvider, provider_class
from .transport import environment_proxy, shown_proxy, upstream_transport, verified_context

if t.TYPE_CHECKING:
    from .callers import Caller
    from .config import Settings
    from .metrics import Metrics
    from .providers import Provider
    from .providers.limits import SlotLimiter

log = logging.getLogger(__name__)


class ProviderFactory:
    """Makes the providers a request or a poll calls: each bound to one key and
    ``requestSource``, sharing its provider's client and the upstream slots in ``limits``.

    :param settings: base URLs, the upstream timeout and the default ``Retry-After``.
    :param metrics: meters every upstream call and attributes it to the caller.
    :param limits: the slots that keep calls within a provider's documented concurrency.
    """

    def __init__(self, settings: Settings, metrics: Metrics, limits: SlotLimiter) -> None:
        self.settings = settings
        self.metrics = metrics
        self.limits = limits
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()
        # Built with the app (~35 ms: certifi's bundle), not by the first upstream call: a
        # worker's first request, or the first reads of a poll cycle, would wait for it.
        verified_context()
        # Read at start-up, so that a proxy the connector cannot use stops it there.
        self._proxies = {name: environment_proxy(self.base_url(name)) for name in PROVIDERS}
        for name, proxy in self._proxies.items():
            if proxy is not None:
                log.info("calls to %s go through the proxy %s", name, shown_proxy(proxy))

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

    def for_caller(self, caller: Caller) -> FailoverProvider:
        """The caller's providers, bound to their keys, in the order to try them."""
        self.metrics.attribute(caller.tenant, caller.request_source)
        return FailoverProvider(
            [self.provider(name, key, caller.request_source) for name, key in caller.credentials]
        )

    def _client(self, name: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(name)
            if client is None:
                client = UpstreamClient(
                    base_url=self.base_url(name),
                    timeout=self.settings.upstream_timeout,
                    headers={"User-Agent": "tiktok-connector"},
                    # Retries connect failures only, which never reached upstream; every
                    # call ends at its deadline, whatever the peer does (see send_json).
                    transport=self.metrics.transport(
                        name, upstream_transport(retries=1, proxy=self._proxies.get(name))
                    ),
                )
                self._clients[name] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


class _NoCookies(httpx.Cookies):
    """Cookies that stay empty: what an answer sets is not even parsed."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class UpstreamClient(httpx.Client):
    """An httpx client that keeps no cookies. It serves every tenant: a cookie upstream
    sets on one key's call (a session, a CDN's bot score) must not go out with another's.
    (A jar whose policy refuses every domain kept none either, but httpx still built its
    cookie-parsing objects for every answer: 7 % of an idle trigger poll's CPU.)"""

    def __init__(self, **options: t.Any) -> None:
        super().__init__(**options)
        self._none = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._none

    @cookies.setter
    def cookies(self, cookies: t.Any) -> None:
        raise TypeError("UpstreamClient keeps no cookies")

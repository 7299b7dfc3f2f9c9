"""httpx transports whose every socket operation ends at the current deadline.

httpx's timeouts bound each connect, write and read, never their sum: a peer dripping its
status line, headers or body one byte at a time keeps a call alive indefinitely. Here each
operation's timeout is cut to what is left of :mod:`connector.deadlines`' deadline (set for
a whole upstream call by :func:`connector.providers._http.send_json`, for a whole delivery
by :mod:`connector.hooks.delivery`); with no deadline in force, httpx's own timeouts apply.

Resolving the host ends at the deadline too: ``getaddrinfo`` takes no timeout, and a resolver
that does not answer holds it for the resolver's own retries (5 s each by default), so it runs
on a thread of its own that the call stops waiting for.

Upstream calls go through the HTTP proxy the environment names for them (``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY``, less ``NO_PROXY``: see :func:`environment_proxy`), connecting
to it through the same deadline-bound backend.

The backend can also be pinned to addresses checked beforehand: it then connects to those and
never resolves the host, which keeps its place in ``Host``, TLS SNI and certificate checks
(a webhook target that resolves to a public address for the check and to 127.0.0.1 for the
connection, DNS rebinding, reaches nothing).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import threading
import typing as t
import urllib.parse
import urllib.request

import httpcore
import httpx

from . import deadlines
from .errors import ConfigError

_Timeout = type[httpcore.TimeoutException]


#: A socket address to connect to: (family, sockaddr) as getaddrinfo gives them.
Address = tuple[int, tuple[t.Any, ...]]


@functools.cache
def verified_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CA bundle), made once per process: loading the
    bundle takes ~50 ms, which every upstream client would otherwise pay twice."""
    return httpx.create_ssl_context()


def upstream_transport(*, retries: int = 0, proxy: str | None = None) -> httpx.HTTPTransport:
    """An :class:`httpx.HTTPTransport` (default limits and TLS) whose calls end at the
    deadline; ``retries`` retries failed connects, which never reached upstream; ``proxy``
    (an ``http://`` or ``https://`` URL, credentials allowed) carries every call."""
    transport = httpx.HTTPTransport(verify=verified_context(), retries=retries)
    # httpx takes no network backend: its pool is rebuilt as httpx builds it by default.
    pool_options: dict[str, t.Any] = {
        "ssl_context": verified_context(),
        "max_connections": 100,
        "max_keepalive_connections": 20,
        "keepalive_expiry": 5.0,
        "retries": retries,
        "network_backend": DeadlineBackend(),
    }
    if proxy is None:
        transport._pool = httpcore.ConnectionPool(**pool_options)
        return transport
    via = httpx.Proxy(proxy)
    transport._pool = httpcore.HTTPProxy(
        proxy_url=httpcore.URL(
            scheme=via.url.raw_scheme,
            host=via.url.raw_host,
            port=via.url.port,
            target=via.url.raw_path,
        ),
        proxy_auth=via.raw_auth,
        proxy_headers=via.headers.raw,
        **pool_options,
    )
    return transport


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for calls to ``url``, as curl, requests and httpx
    read it: ``HTTPS_PROXY`` or ``HTTP_PROXY`` by the URL's scheme, else ``ALL_PROXY``
    (either case), unless ``NO_PROXY`` names the host; ``None`` for none, and for a host on
    this machine (``localhost``, a loopback address: the sandbox, a local emulator), which
    a proxy elsewhere could not reach (Go's HTTP client makes the same exception).

    :raises ConfigError: for a proxy that is not ``http://`` or ``https://``.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if _on_this_machine(host) or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    if "://" not in proxy:
        proxy = f"http://{proxy}"  # "proxy.example:3128", as curl takes it
    scheme = urllib.parse.urlsplit(proxy).scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(
            f"the proxy for {parts.scheme}:// calls is a {scheme}:// proxy; only http:// and"
            " https:// proxies are supported (set NO_PROXY to call upstream directly)"
        )
    return proxy


def _on_this_machine(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shown_proxy(proxy: str) -> str:
    """``proxy`` as logs may show it: scheme, host and port, never its credentials."""
    parts = urllib.parse.urlsplit(proxy)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def pinned_transport(
    addresses: t.Sequence[Address], ssl_context: ssl.SSLContext
) -> httpx.HTTPTransport:
    """A one-connection transport that connects only to ``addresses`` (tried in order), ends
    at the deadline and keeps no connection."""
    transport = httpx.HTTPTransport(verify=ssl_context)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context,
        max_connections=1,
        max_keepalive_connections=0,
        network_backend=DeadlineBackend(addresses),
    )
    return transport


def _capped(timeout: float | None, error: _Timeout) -> float | None:
    """``timeout`` cut to the time left before the deadline.

    :raises error: when the deadline has passed.
    """
    left = deadlines.remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise error("the deadline has passed")
    return left if timeout is None else min(timeout, left)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking backend, with every timeout cut at the deadline; given
    ``addresses``, it connects to those whatever host it is asked for."""

    def __init__(self, addresses: t.Sequence[Address] | None = None) -> None:
        self._backend = httpcore.SyncBackend()
        self._addresses = None if addresses is None else tuple(addresses)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: t.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        if self._addresses is None:
            hosts = _addresses_of(host, port, _capped(timeout, httpcore.ConnectTimeout))
        else:
            hosts = [a[1][0] for a in self._addresses]
        failure: Exception = httpcore.ConnectError("no address to connect to")
        for candidate in hosts:
            try:
                stream = self._backend.connect_tcp(
                    candidate,
                    port,
                    _capped(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:  # the next checked address may answer
                failure = exc
                continue
            return DeadlineStream(stream)
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: t.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _capped(timeout, httpcore.ConnectTimeout), socket_options=socket_options
        )
        return DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        left = deadlines.remaining()
        self._backend.sleep(seconds if left is None else min(seconds, left))


def resolve(host: str, port: int, timeout: float | None) -> list[tuple[t.Any, ...]]:
    """``socket.getaddrinfo(host, port)`` for TCP, waiting at most ``timeout`` seconds (it
    has no timeout of its own).

    Each lookup runs on a thread of its own, left behind when it takes too long: a shared
    pool would let names whose DNS servers hang (a webhook target's may, on purpose) hold
    up every other lookup.

    :raises TimeoutError: when the resolver has not answered in time.
    :raises OSError: (``socket.gaierror``) or :exc:`UnicodeError` when the name is not one.
    """
    outcome: list[t.Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(
                socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
            )
        except (OSError, UnicodeError) as exc:
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="resolve", daemon=True).start()
    if not done.wait(None if timeout is None else max(timeout, 0.0)) or not outcome:
        raise TimeoutError(f"{host!r} was not resolved in time")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return t.cast(list[tuple[t.Any, ...]], outcome[0])


def _addresses_of(host: str, port: int, timeout: float | None) -> list[str]:
    """The addresses to connect to for ``host`` (itself when an address), in the
    resolver's order."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [host]
    try:
        found = resolve(host, port, timeout)
    except TimeoutError:
        raise httpcore.ConnectTimeout("the host name was not resolved in time") from None
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"the host name was not resolved ({exc})") from exc
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))


class DeadlineStream(httpcore.NetworkStream):
    """One connection; each read and write waits at most until the deadline. (CPython's
    TLS handshake, like ``recv``, holds its socket timeout for the whole operation.)"""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        upgraded = self._stream.start_tls(
            ssl_context, server_hostname, _capped(timeout, httpcore.ConnectTimeout)
        )
        return DeadlineStream(upgraded)

    def get_extra_info(self, info: str) -> t.Any:
        return self._stream.get_extra_info(info)

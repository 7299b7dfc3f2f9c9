"""Sending one delivery: to the addresses the target check approved, ending at a deadline.

Two things httpx does not do on its own. It resolves the host again when it connects, so a
resolver may answer the check with a public address and the connection with 127.0.0.1
(DNS rebinding): here the connection goes to the checked addresses, while the URL's host
stays in the ``Host`` header, TLS SNI and certificate verification. And its timeouts bound
each connect, write and read, never their sum, so a target dripping its answer a byte at a
time holds a delivery indefinitely: here every socket operation ends at the deadline
:mod:`connector.deadlines` holds for the delivery, and at most ``max_body`` bytes of the
answer are read (only its status and ``Retry-After`` matter).
"""

from __future__ import annotations

import dataclasses
import select
import socket
import ssl
import time
import typing as t

import httpcore
import httpx

from .. import deadlines

if t.TYPE_CHECKING:
    from .targets import Address, Target

_Timeout = type[httpcore.TimeoutException]


@dataclasses.dataclass(frozen=True)
class Answer:
    """What a target answered: its status, and ``Retry-After`` in seconds if it gave one."""

    status: int
    retry_after: float | None


def post(
    target: Target,
    body: bytes,
    headers: t.Mapping[str, str],
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None,
    max_body: int = 4096,
    on_response: t.Callable[[httpx.Response], None] | None = None,
) -> Answer:
    """POST ``body`` to a checked target, connecting only to ``target.addresses``.

    Call it under a deadline (``deadlines.within``): connecting, TLS, sending and reading
    the answer all end there. The connection is not kept.

    :param timeout: httpx's per-operation timeout (the deadline cuts it shorter).
    :param ssl_context: verifies the target's certificate; required for https:// targets.
    :param on_response: called with the response once its status and headers are in.
    :raises httpx.HTTPError: when no answer came (``httpx.TimeoutException`` at the
        deadline).
    """
    if ssl_context is None:
        if target.scheme == "https":
            raise ValueError("an https:// target needs an SSL context")
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # never used: plain HTTP
    transport = httpx.HTTPTransport(verify=ssl_context)
    # httpx takes no network backend: its pool is built as httpx builds it, but connects
    # through PinnedBackend and keeps no connection.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context,
        max_connections=1,
        max_keepalive_connections=0,
        network_backend=PinnedBackend(target.addresses),
    )
    with (
        httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would resolve the host again
            headers={"User-Agent": "tiktok-connector-webhooks"},
            event_hooks={"response": [on_response]} if on_response else None,
        ) as client,
        client.stream("POST", target.url, content=body, headers=dict(headers)) as response,
    ):
        answer = Answer(response.status_code, _retry_after(response.headers))
        received = 0
        try:
            for chunk in response.iter_raw():
                received += len(chunk)
                if received >= max_body:
                    break
        except httpx.HTTPError:
            pass  # the status is in; a body that stalls or breaks changes nothing
        return answer


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _capped(timeout: float | None, error: _Timeout) -> float | None:
    """``timeout`` cut to the time left before the deadline.

    :raises error: when the deadline has passed.
    """
    left = deadlines.remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise error("the delivery's deadline has passed")
    return left if timeout is None else min(timeout, left)


class PinnedBackend(httpcore.NetworkBackend):
    """Connects to the given addresses, whatever host httpcore asks for (the request's own
    host, which it keeps for ``Host`` and TLS); never resolves anything."""

    def __init__(self, addresses: t.Sequence[Address]) -> None:
        self._addresses = tuple(addresses)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: t.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: OSError | None = None
        for family, sockaddr in self._addresses:
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(_capped(timeout, httpcore.ConnectTimeout))
                sock.connect((sockaddr[0], port, *sockaddr[2:]))
            except TimeoutError as exc:
                sock.close()
                raise httpcore.ConnectTimeout(str(exc) or "connect timed out") from exc
            except OSError as exc:
                sock.close()
                failure = exc
                continue
            except BaseException:
                sock.close()
                raise
            return PinnedStream(sock)
        raise httpcore.ConnectError(str(failure) if failure else "no address to connect to")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: t.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("webhook targets are never Unix sockets")

    def sleep(self, seconds: float) -> None:
        left = deadlines.remaining()
        time.sleep(seconds if left is None else min(seconds, left))


class PinnedStream(httpcore.NetworkStream):
    """One connection; each read, write and TLS handshake waits at most until the deadline.
    (CPython's TLS handshake, like ``recv``, holds its socket timeout for the whole
    operation.)"""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._sock.settimeout(_capped(timeout, httpcore.ReadTimeout))
        try:
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc) or "read timed out") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._sock.settimeout(_capped(timeout, httpcore.WriteTimeout))
        try:
            self._sock.sendall(buffer)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc) or "write timed out") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        self._sock.settimeout(_capped(timeout, httpcore.ConnectTimeout))
        try:
            wrapped = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self._sock.close()
            raise httpcore.ConnectTimeout(str(exc) or "TLS handshake timed out") from exc
        except OSError as exc:  # ssl.SSLError among them: a certificate not for this host
            self._sock.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return PinnedStream(wrapped)

    def get_extra_info(self, info: str) -> t.Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock  # what httpcore asks of it (the ALPN protocol) it has too
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            readable, _, _ = select.select([self._sock], [], [], 0)
            return bool(readable)
        return None

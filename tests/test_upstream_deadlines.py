"""Every upstream call ends within its deadline, whatever the peer does: slow headers, a body
dripping byte by byte, one long silence, an endless or huge body; and whatever the resolver
does: one that does not answer.

A real misbehaving HTTP server on 127.0.0.1 plays each; the bound checked is the call's
timeout (or the request's budget) plus a margin of one second: a correctness bound, not a
speed benchmark. Without the deadline transport, each of these runs for as long as the peer
keeps going (here at most ``PEER_GIVES_UP`` seconds).
"""

from __future__ import annotations

import functools
import gzip
import socket
import socketserver
import threading
import time
import typing as t

import httpx
import pytest

from connector import deadlines
from connector.errors import ProviderError, ProviderInvalidResponse, ProviderTimeout
from connector.providers.dumplingai import DumplingAIProvider
from connector.transport import upstream_transport

TIMEOUT = 0.5
MARGIN = 1.0
PEER_GIVES_UP = 6.0  # a misbehaving peer stops after this long, so that an unfixed call ends
DRIP = 0.1
PROFILE = b'{"user": {"id": "1", "uniqueId": "someone"}, "stats": {}}'


def _until_given_up(started: float) -> t.Iterator[int]:
    count = 0
    while time.monotonic() - started < PEER_GIVES_UP:
        yield count
        count += 1


def slow_headers(conn: socket.socket) -> None:
    """The status line and headers, one byte at a time, for ever."""
    started = time.monotonic()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    conn.sendall(head)
    for _ in _until_given_up(started):
        conn.sendall(b"X")  # one endless header name
        time.sleep(DRIP)


def drip_body(conn: socket.socket) -> None:
    """Prompt headers, then the body one byte at a time (a valid JSON body, eventually)."""
    started = time.monotonic()
    body = PROFILE[:-1] + b" " * 1000 + b"}"
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
    for index in _until_given_up(started):
        if index >= len(body):
            return
        conn.sendall(body[index : index + 1])
        time.sleep(DRIP)


def headers_then_silence(conn: socket.socket) -> None:
    """Whole header lines, each within the read timeout, for three timeouts; then one long
    silence before the body."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(int(3 * TIMEOUT / DRIP)):
        conn.sendall(b"X-Slow: 1\r\n")
        time.sleep(DRIP)
    conn.sendall(b"Content-Length: %d\r\n\r\n" % len(PROFILE))
    time.sleep(PEER_GIVES_UP)
    conn.sendall(PROFILE)


def endless_body(conn: socket.socket) -> None:
    """A chunked body that never ends."""
    started = time.monotonic()
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"[" + b"1," * 32_000
    for _ in _until_given_up(started):
        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def huge_declared(conn: socket.socket) -> None:
    """A Content-Length of 50 MB, then the body at its own pace."""
    started = time.monotonic()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 52428800\r\n\r\n")
    for _ in _until_given_up(started):
        conn.sendall(b" " * 1024)
        time.sleep(DRIP)


@functools.cache
def _bomb() -> bytes:
    return gzip.compress(PROFILE[:-1] + b" " * (50 * 2**20) + b"}")


def gzip_bomb(conn: socket.socket) -> None:
    """A small gzip body that decodes to a valid profile of 50 MB."""
    body = _bomb()
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )
    time.sleep(1)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn: socket.socket = self.request
        received = b""
        while b"\r\n\r\n" not in received:
            data = conn.recv(65536)
            if not data:
                return
            received += data
        try:
            self.server.behaviour(conn)  # type: ignore[attr-defined]
        except OSError:
            pass  # the client hung up: what a deadline does


class Peer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour: t.Callable[[socket.socket], None]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def peer(request: pytest.FixtureRequest) -> t.Iterator[Peer]:
    _bomb()  # made before the clock starts
    server = Peer(request.param)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _provider(peer: Peer, timeout: float = TIMEOUT) -> DumplingAIProvider:
    client = httpx.Client(base_url=peer.url, timeout=timeout, transport=upstream_transport())
    return DumplingAIProvider(client, api_key="sk_test", request_source="API")


def _timed(call: t.Callable[[], t.Any]) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except ProviderError as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


@pytest.mark.parametrize(
    ("peer", "error"),
    [
        (slow_headers, ProviderTimeout),
        (drip_body, ProviderTimeout),
        (headers_then_silence, ProviderTimeout),
        (endless_body, ProviderInvalidResponse),  # past the body size cap, or the deadline
        (huge_declared, ProviderInvalidResponse),
        (gzip_bomb, ProviderInvalidResponse),
    ],
    indirect=["peer"],
)
def test_an_upstream_call_ends_within_its_timeout(peer: Peer, error: type[Exception]) -> None:
    provider = _provider(peer)
    elapsed, raised = _timed(lambda: provider.get_profile("someone"))
    provider.client.close()
    assert isinstance(raised, error), raised
    assert elapsed < TIMEOUT + MARGIN, f"took {elapsed:.1f} s"


@pytest.mark.parametrize("peer", [slow_headers, headers_then_silence], indirect=True)
def test_an_upstream_call_ends_within_the_request_budget(peer: Peer) -> None:
    provider = _provider(peer, timeout=30.0)
    with deadlines.within(0.3):
        elapsed, raised = _timed(lambda: provider.get_profile("someone"))
    provider.client.close()
    assert isinstance(raised, ProviderTimeout), raised
    assert elapsed < 0.3 + MARGIN, f"took {elapsed:.1f} s"


def drip_every_half_second(conn: socket.socket) -> None:
    """The attacker run's peer: one byte of the status line every 0.5 s."""
    started = time.monotonic()
    for index in _until_given_up(started):
        conn.sendall(b"HTTP/1.1 200 OK\r\n"[index : index + 1] or b"X")
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.parametrize("peer", [drip_every_half_second], indirect=True)
def test_the_measured_drip_ends_within_upstream_timeout(peer: Peer) -> None:
    # Measured before: with UPSTREAM_TIMEOUT=3 this answered after 26.8 s.
    provider = _provider(peer, timeout=3.0)
    elapsed, raised = _timed(lambda: provider.get_profile("someone"))
    provider.client.close()
    assert isinstance(raised, ProviderTimeout), raised
    assert elapsed < 3.0 + MARGIN, f"took {elapsed:.1f} s"


@pytest.mark.parametrize("peer", [slow_headers], indirect=True)
def test_the_connector_uses_the_deadline_transport(peer: Peer, make_app: t.Any) -> None:
    app = make_app(DUMPLINGAI_BASE_URL=peer.url, UPSTREAM_TIMEOUT=TIMEOUT)
    started = time.monotonic()
    response = app.test_client().post(
        "/v1/actions/get-profile",
        json={"handle": "someone"},
        headers={"Authorization": "Bearer sk_test"},
    )
    elapsed = time.monotonic() - started
    assert (response.status_code, response.json["code"]) == (504, "upstream_timeout")
    assert elapsed < TIMEOUT + MARGIN, f"took {elapsed:.1f} s"


def prompt_profile(conn: socket.socket) -> None:
    """A valid profile answer, at once."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(PROFILE) + PROFILE)


class Resolver:
    """Stands in for the system resolver (``socket.getaddrinfo``) for one made-up name: it
    answers 127.0.0.1 after ``delay`` seconds, as a resolver whose first server is down
    answers after its timeout (glibc's default: 5 s per try, see resolv.conf(5))."""

    def __init__(self, name: str, delay: float) -> None:
        self.name, self.delay, self.asked = name, delay, 0
        self._real = socket.getaddrinfo

    def __call__(self, host: t.Any, port: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if host != self.name:
            return self._real(host, port, *args, **kwargs)
        self.asked += 1
        time.sleep(self.delay)
        return self._real("127.0.0.1", port, *args, **kwargs)


def _named_provider(peer: Peer, name: str, timeout: float) -> DumplingAIProvider:
    url = f"http://{name}:{peer.server_address[1]}"
    client = httpx.Client(base_url=url, timeout=timeout, transport=upstream_transport())
    return DumplingAIProvider(client, api_key="sk_test", request_source="API")


@pytest.mark.parametrize("peer", [prompt_profile], indirect=True)
def test_a_resolver_that_does_not_answer_ends_the_call_at_its_deadline(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver = Resolver("upstream.hangs.test", delay=PEER_GIVES_UP)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    provider = _named_provider(peer, resolver.name, timeout=30.0)
    with deadlines.within(0.3):
        elapsed, raised = _timed(lambda: provider.get_profile("someone"))
    provider.client.close()
    assert isinstance(raised, ProviderTimeout), raised
    assert resolver.asked >= 1
    assert elapsed < 0.3 + MARGIN, f"took {elapsed:.1f} s"


@pytest.mark.parametrize("peer", [prompt_profile], indirect=True)
def test_a_name_resolved_in_time_is_connected_to(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver = Resolver("upstream.slow.test", delay=0.1)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    provider = _named_provider(peer, resolver.name, timeout=TIMEOUT)
    profile = provider.get_profile("someone")
    provider.client.close()
    assert profile["handle"] == "someone" and resolver.asked == 1

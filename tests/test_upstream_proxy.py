"""Upstream calls go through the HTTP proxy the environment names (``HTTP_PROXY``,
``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, read as curl and requests read them), still end
at their deadline, and never show the proxy's credentials.

A real forward proxy on 127.0.0.1 stands between the connector and the sandbox upstream: it
takes requests in absolute form (``POST http://host:port/path``, RFC 9112 section 3.2.2, what
a client sends an HTTP proxy for an ``http://`` URL) and relays them. The upstream's name,
:data:`UPSTREAM_HOST`, only the proxy resolves (to the sandbox on 127.0.0.1), as a proxy at
the edge of a network resolves names its clients cannot; a loopback upstream is called
directly whatever the environment says (see ``transport.environment_proxy``).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.server
import logging
import socket
import threading
import time
import typing as t
import urllib.parse

import pytest

from connector.errors import ConfigError
from connector.sandbox import World, base_urls
from connector.serving import BackgroundServer

from .conftest import KEY

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
PASSWORD = "pr0xy-s3cret-pa55"
UPSTREAM_HOST = "upstream.behind-proxy.test"


class ForwardProxy(http.server.ThreadingHTTPServer):
    """Relays each request to the origin its absolute-form target names, after checking
    ``Proxy-Authorization`` when ``credentials`` are set; ``drip`` makes it answer one byte
    of its status line every 0.2 s instead (a proxy that hangs on to a call). A ``CONNECT``
    (the tunnel a client asks for an ``https://`` URL) is granted, after the same check, and
    then left silent: the TLS handshake through it never ends."""

    daemon_threads = True

    def __init__(self, credentials: str | None = None, drip: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Relay)
        self.credentials, self.drip = credentials, drip
        self.seen: list[tuple[str, str, str | None]] = []  # method, target, authorization

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Relay(http.server.BaseHTTPRequestHandler):
    server: ForwardProxy

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        if not self._authorized():
            return
        if self.server.drip:
            try:
                for byte in b"HTTP/1.1 200 OK\r\n" * 20:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass  # the client hung up: what its deadline does
            return
        target = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        host = "127.0.0.1" if target.hostname == UPSTREAM_HOST else target.hostname or ""
        upstream = http.client.HTTPConnection(host, target.port, timeout=10)
        forwarded = {k: v for k, v in self.headers.items() if not k.lower().startswith("proxy-")}
        upstream.request(self.command, target.path or "/", body=body, headers=forwarded)
        answer = upstream.getresponse()
        content = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)
        upstream.close()

    def do_CONNECT(self) -> None:  # noqa: N802 (http.server's name)
        self.server.seen.append((self.command, self.path, None))
        if not self._authorized():
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        time.sleep(7)  # nothing relayed: the client's TLS handshake waits

    def _authorized(self) -> bool:
        """Whether the request carries the proxy's credentials (when it has some); if not,
        it is answered 407."""
        expected = self.server.credentials
        sent = self.headers.get("Proxy-Authorization", "")
        if expected is None or sent == "Basic " + base64.b64encode(expected.encode()).decode():
            return True
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def log_message(self, *args: t.Any) -> None:
        pass


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable from the machine running the tests, in either case."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@contextlib.contextmanager
def running(proxy: ForwardProxy) -> t.Iterator[ForwardProxy]:
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


def upstream_named(sandbox: BackgroundServer) -> dict[str, str]:
    """Settings that name the sandbox upstream by :data:`UPSTREAM_HOST`."""
    return base_urls(f"http://{UPSTREAM_HOST}:{urllib.parse.urlsplit(sandbox.url).port}")


def get_profile(app: t.Any) -> t.Any:
    return app.test_client().post(
        "/v1/actions/get-profile",
        json={"handle": "proxied"},
        headers={"Authorization": f"Bearer {KEY}"},
    )


def test_upstream_calls_go_through_the_proxy_the_environment_names(
    make_app: t.Callable[..., t.Any],
    proxy_env: pytest.MonkeyPatch,
    sandbox_server: tuple[World, BackgroundServer],
    world: World,
) -> None:
    with running(ForwardProxy()) as proxy:
        proxy_env.setenv("HTTP_PROXY", proxy.url)
        answer = get_profile(make_app(**upstream_named(sandbox_server[1])))
        assert answer.status_code == 200, answer.json
        assert answer.json["handle"] == "proxied"
        port = urllib.parse.urlsplit(sandbox_server[1].url).port
        assert proxy.seen == [
            ("POST", f"http://{UPSTREAM_HOST}:{port}/api/v1/get-tiktok-profile", f"Bearer {KEY}")
        ]
        assert len(world.requests("profile")) == 1


def test_no_proxy_and_loopback_upstreams_are_called_directly(
    make_app: t.Callable[..., t.Any],
    proxy_env: pytest.MonkeyPatch,
    sandbox_server: tuple[World, BackgroundServer],
    world: World,
) -> None:
    real_lookup = socket.getaddrinfo

    def lookup(host: t.Any, port: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        # Here the connector resolves the upstream's name itself: to the sandbox.
        return real_lookup("127.0.0.1" if host == UPSTREAM_HOST else host, port, *args, **kwargs)

    with running(ForwardProxy()) as proxy:
        proxy_env.setenv("http_proxy", proxy.url)  # the lower-case spelling counts too
        proxy_env.setenv("no_proxy", "localhost,.behind-proxy.test")
        proxy_env.setattr(socket, "getaddrinfo", lookup)
        assert get_profile(make_app(**upstream_named(sandbox_server[1]))).status_code == 200
        # The sandbox on 127.0.0.1, as `connector serve --sandbox` runs it on a machine
        # whose environment names a proxy (and a NO_PROXY without 127.0.0.1).
        assert get_profile(make_app()).status_code == 200
        assert proxy.seen == []
        assert len(world.requests("profile")) == 2


def test_a_proxy_s_credentials_are_sent_to_it_and_shown_nowhere(
    make_app: t.Callable[..., t.Any],
    proxy_env: pytest.MonkeyPatch,
    sandbox_server: tuple[World, BackgroundServer],
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    upstream = upstream_named(sandbox_server[1])
    with running(ForwardProxy(credentials=f"ops:{PASSWORD}")) as proxy:
        port = proxy.server_address[1]
        caplog.set_level(logging.INFO)
        proxy_env.setenv("HTTP_PROXY", f"http://ops:{PASSWORD}@127.0.0.1:{port}")
        answer = get_profile(make_app(**upstream))
        assert answer.status_code == 200, answer.json
        assert f"go through the proxy http://127.0.0.1:{port}" in caplog.text
        # Wrong credentials: the proxy refuses (407), and the error says so without them.
        proxy_env.setenv("HTTP_PROXY", f"http://ops:wrong-{PASSWORD}@127.0.0.1:{port}")
        refused = get_profile(make_app(**upstream))
        assert refused.status_code >= 500 and refused.json["code"].startswith("upstream")
        assert "407" in refused.json["error"]
        assert PASSWORD not in refused.get_data(as_text=True)
        assert PASSWORD not in caplog.text


def test_a_call_through_a_proxy_that_hangs_on_ends_at_its_deadline(
    make_app: t.Callable[..., t.Any],
    proxy_env: pytest.MonkeyPatch,
    sandbox_server: tuple[World, BackgroundServer],
) -> None:
    with running(ForwardProxy(drip=True)) as proxy:
        proxy_env.setenv("HTTP_PROXY", proxy.url)
        app = make_app(**upstream_named(sandbox_server[1]), UPSTREAM_TIMEOUT=0.5)
        started = time.monotonic()
        answer = get_profile(app)
        elapsed = time.monotonic() - started
        assert (answer.status_code, answer.json["code"]) == (504, "upstream_timeout")
        assert elapsed < 0.5 + 1.0, f"took {elapsed:.1f} s"  # the drip lasts 7 s
        assert len(proxy.seen) == 1


def test_a_proxy_of_a_kind_the_connector_cannot_use_stops_start_up(
    make_app: t.Callable[..., t.Any],
    proxy_env: pytest.MonkeyPatch,
    sandbox_server: tuple[World, BackgroundServer],
) -> None:
    proxy_env.setenv("ALL_PROXY", f"socks5://ops:{PASSWORD}@127.0.0.1:1080")
    with pytest.raises(ConfigError, match="only http:// and https:// proxies") as raised:
        make_app(**upstream_named(sandbox_server[1]))
    assert PASSWORD not in str(raised.value)


def test_an_https_upstream_is_reached_through_a_tunnel_that_ends_at_the_deadline(
    make_app: t.Callable[..., t.Any], proxy_env: pytest.MonkeyPatch
) -> None:
    upstream = f"https://{UPSTREAM_HOST}"  # as the providers' public URLs are
    with running(ForwardProxy(credentials=f"ops:{PASSWORD}")) as proxy:
        port = proxy.server_address[1]
        proxy_env.setenv("HTTPS_PROXY", f"http://ops:{PASSWORD}@127.0.0.1:{port}")
        app = make_app(DUMPLINGAI_BASE_URL=upstream, UPSTREAM_TIMEOUT=0.5)
        started = time.monotonic()
        answer = get_profile(app)
        elapsed = time.monotonic() - started
        assert (answer.status_code, answer.json["code"]) == (504, "upstream_timeout")
        assert elapsed < 0.5 + 1.0, f"took {elapsed:.1f} s"  # the tunnel stays silent 7 s
        assert proxy.seen == [("CONNECT", f"{UPSTREAM_HOST}:443", None)]
        # The tunnel refused for want of the right credentials: said, without them.
        proxy_env.setenv("HTTPS_PROXY", f"http://ops:wrong-{PASSWORD}@127.0.0.1:{port}")
        refused = get_profile(make_app(DUMPLINGAI_BASE_URL=upstream))
        assert refused.status_code == 502 and refused.json["code"] == "upstream_unavailable"
        assert "ProxyError" in refused.json["error"]
        assert PASSWORD not in refused.get_data(as_text=True)

"""Hostile input is a 4xx JSON error, never a crash: nesting, numbers, keys, bodies, params."""

from __future__ import annotations

import socket
import time
import typing as t

import httpx
import pytest

from connector.callers import tenant_for
from connector.sandbox import World
from connector.serving import BackgroundServer

from .conftest import KEY
from .records import add, subscription
from .servers import free_port, sandbox_process, wait_until_up

# Every POST route, with a body it would accept.
POSTS = {
    "/v1/actions/get-video": {"video_id": "7321234567890123456"},
    "/v1/actions/get-profile": {"handle": "creator"},
    "/v1/triggers/new-video": {"handle": "creator"},
    "/v1/hooks": {"target_url": "https://example.com/hook", "handle": "creator"},
    "/v1/hooks/sample": {"handle": "creator"},
    "/v1/hooks/dead-letters/replay": {"ids": [1]},
}
NOW = int(time.time())


def error(response: httpx.Response, status: int, code: str) -> dict[str, t.Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code and body["error"]
    return t.cast(dict[str, t.Any], body)


UNREADABLE_JSON = {
    "deep array": "[" * 20_000,
    "deep value": '{"handle": ' + "[" * 20_000,
    "5000-digit number": '{"handle": "creator", "limit": ' + "9" * 5000 + "}",
}


def test_json_python_cannot_parse_is_a_400_on_every_post(live: httpx.Client) -> None:
    for path in POSTS:
        for body in UNREADABLE_JSON.values():
            response = live.post(path, content=body, headers={"Content-Type": "application/json"})
            error(response, 400, "invalid_input")
        # Without a key: the key is checked first, the body never read.
        response = live.post(
            path,
            content=UNREADABLE_JSON["deep array"],
            headers={"Content-Type": "application/json", "Authorization": ""},
        )
        error(response, 401, "missing_api_key")


BAD_SINCE: list[t.Any] = [
    "²",
    "NaN",
    "inf",
    "9" * 5000,
    10**30,
    2**63,
    -1,
    1e308,
    NOW + 3 * 86400,
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+01:00",
    "1969-12-31T23:59:59Z",
    "2026-13-01T00:00:00Z",
    True,
    [1],
    {"at": 0},
]


def test_since_out_of_range_or_unreadable_is_a_400(live: httpx.Client) -> None:
    for since in BAD_SINCE:
        response = live.post("/v1/triggers/new-video", json={"handle": "creator", "since": since})
        assert "since" in error(response, 400, "invalid_input")["details"], since
    # Python's json module reads NaN and Infinity, which JSON does not have.
    for literal in ("NaN", "Infinity", "-Infinity"):
        response = live.post(
            "/v1/triggers/new-video",
            content=f'{{"handle": "creator", "since": {literal}}}',
            headers={"Content-Type": "application/json"},
        )
        error(response, 400, "invalid_input")
    for since in ("²", "NaN", "inf", "9" * 5000, str(10**30), "-1", "1e3"):
        params = {"handle": "creator", "since": since}
        error(live.get("/v1/triggers/new-video", params=params), 400, "invalid_input")


def test_since_within_range_is_accepted(live: httpx.Client, world: World) -> None:
    good = [0, "0", " 0 ", NOW, str(NOW), float(NOW), "2026-01-01T00:00:00Z", NOW + 3600]
    for number, since in enumerate(good):
        feed = {"handle": "creator", "consumer": str(number), "since": since}
        response = live.post("/v1/triggers/new-video", json=feed)
        assert response.status_code == 200, (since, response.text)
    params = {"handle": "creator", "consumer": "get", "since": "0"}
    assert live.get("/v1/triggers/new-video", params=params).status_code == 200


@pytest.mark.parametrize("tokens", [None, "operator-token-0123456789"])
def test_a_key_that_is_not_ascii_is_a_401_and_never_sent_upstream(
    make_app: t.Any, world: World, tokens: str | None
) -> None:
    settings = {"ACCESS_TOKENS": tokens, "DUMPLINGAI_API_KEY": "sk_server_key_0123456789"}
    app = make_app(**settings) if tokens else make_app()
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url) as http:
        for raw in (b"k\xc3\xa9y", b"\xff\xfe", b"key\x7f", b"two words"):
            headers = [(b"Authorization", b"Bearer " + raw)]
            response = http.post(
                "/v1/actions/get-profile", json={"handle": "creator"}, headers=headers
            )
            error(response, 401, "invalid_api_key")
            response = http.get("/v1/auth/test", headers=headers)
            error(response, 401, "invalid_api_key")
    assert world.requests() == []


NOT_JSON = [
    ("handle=creator", "application/x-www-form-urlencoded"),
    ('{"handle": "creator"}', "text/plain"),
    ("ids", None),
]


def test_a_body_that_is_not_a_json_object_is_a_400_on_every_post(live: httpx.Client) -> None:
    for path in POSTS:
        for content, content_type in NOT_JSON:
            headers = {"Content-Type": content_type} if content_type else {}
            error(live.post(path, content=content, headers=headers), 400, "invalid_input")
        for content in ("null", "[]", '"text"', "7", "true"):
            headers = {"Content-Type": "application/json"}
            error(live.post(path, content=content, headers=headers), 400, "invalid_input")


def test_replay_with_a_body_that_is_not_json_replays_nothing(
    app: t.Any, live: httpx.Client
) -> None:
    store = app.extensions["connector"].store
    sub = subscription("sub_" + "0" * 24, tenant=tenant_for(KEY))
    add(store, sub)
    with store.feed(sub.feed) as tx:
        tx.enqueue(sub.id, [("7321234567890123456", "{}")], now=1.0)
    (queued,) = store.next_deliveries(now=2.0)
    store.dead_letter(queued.id, status=500, error="target answered 500")
    for content, content_type in (("ids=1", "application/x-www-form-urlencoded"), ("x", None)):
        headers = {"Content-Type": content_type} if content_type else {}
        response = live.post("/v1/hooks/dead-letters/replay", content=content, headers=headers)
        error(response, 400, "invalid_input")
    assert len(store.dead_letters(sub.tenant)) == 1
    assert live.post("/v1/hooks/dead-letters/replay", json={}).json() == {"replayed": 1}


def test_the_get_trigger_refuses_unknown_parameters_as_the_post_form_does(
    live: httpx.Client, world: World
) -> None:
    params = {"handle": "creator", "sample": "true", "colour": "red"}
    get = error(live.get("/v1/triggers/new-video", params=params), 400, "invalid_input")
    post = error(live.post("/v1/triggers/new-video", json=params), 400, "invalid_input")
    assert get["details"] == post["details"] == {"colour": ["Unknown field."]}
    del params["colour"]
    assert live.get("/v1/triggers/new-video", params=params).status_code == 200
    # An unknown input is refused even empty, which a known one may be (it means absent).
    for empty in ("", None):
        posted = live.post("/v1/triggers/new-video", json={**params, "colour": empty})
        assert error(posted, 400, "invalid_input")["details"] == {"colour": ["Unknown field."]}
    got = live.get("/v1/triggers/new-video", params={**params, "colour": ""})
    assert error(got, 400, "invalid_input")["details"] == {"colour": ["Unknown field."]}


def test_the_get_trigger_reads_empty_parameters_as_absent_as_the_post_form_does(
    live: httpx.Client, world: World
) -> None:
    empty = {"consumer": "", "since": "", "limit": "", "include_recent": "", "sample": ""}
    get = live.get("/v1/triggers/new-video", params={"handle": "creator", **empty})
    post = live.post("/v1/triggers/new-video", json={"handle": "creator", **empty})
    assert get.status_code == post.status_code == 200, (get.text, post.text)
    assert get.json() == post.json() == []  # one feed, one baseline


# -- request bodies over the limit, on real sockets ---------------------------------------


def _send(url: str, head: bytes, body: bytes = b"", *, wait: float = 10.0) -> tuple[int, bytes]:
    """Send ``head`` and ``body`` on a raw connection, without the rest of any declared
    body, and read the answer: it can only come if the server did not wait for the rest."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as conn:
        conn.sendall(head + body)
        received = b""
        while b"\r\n\r\n" not in received or len(received) < _expected(received):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
    status = int(received.split(b" ", 2)[1])
    return status, received.partition(b"\r\n\r\n")[2]


def _expected(received: bytes) -> int:
    head, _, _ = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return 1 << 62  # read until the server closes


def _head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode()


def test_a_large_body_is_refused_before_it_is_read_even_without_a_key(app: t.Any) -> None:
    declared = 400 * 1024 * 1024
    with BackgroundServer(app) as server:
        head = _head("/v1/triggers/new-video", f"Content-Length: {declared}")
        status, body = _send(server.url, head, b"[" * 1000)
        assert status == 413
        assert b'"code":"request_too_large"' in body
        # In chunks, with no length declared: cut off just past the limit, the rest unsent.
        head = _head(
            "/v1/triggers/new-video", "Transfer-Encoding: chunked", f"Authorization: Bearer {KEY}"
        )
        chunk = b"%x\r\n%s\r\n" % (16384, b" " * 16384)
        status, body = _send(server.url, head, chunk * 5)
        assert status == 413
        assert b'"code":"request_too_large"' in body


def test_the_limit_can_be_raised(make_app: t.Any, world: World) -> None:
    app = make_app(MAX_BODY_SIZE=200_000)
    padding = " " * 100_000
    response = app.test_client().post(
        "/v1/actions/get-profile",
        data='{"handle": "creator"}' + padding,
        content_type="application/json",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 200, response.json


def test_connector_serve_refuses_what_no_caller_sends_before_the_app_reads_it(
    tmp_path: t.Any,
) -> None:
    """`connector serve` as people run it (granian in front): a body is streamed to the app,
    which refuses one over the limit without reading it; granian itself refuses malformed
    headers (400) and headers too large to buffer (431), with empty bodies."""
    port = free_port()
    server = sandbox_process(tmp_path, port, WORKERS="1", POLL_INTERVAL="0")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/health", server, seconds=30)
        # Declared far past the limit, none of it sent: the answer cannot wait for it.
        head = _head("/v1/triggers/new-video", f"Content-Length: {400 * 1024 * 1024}")
        status, body = _send(url, head)
        assert status == 413 and b'"code":"request_too_large"' in body
        # In chunks, no length declared: cut off past the limit, not buffered whole first.
        head = _head("/v1/hooks", "Transfer-Encoding: chunked", f"Authorization: Bearer {KEY}")
        chunk = b"%x\r\n%s\r\n" % (16384, b" " * 16384)
        status, body = _send(url, head, chunk * 5)
        assert status == 413 and b'"code":"request_too_large"' in body
        for bad in (b"X-Bad: a\x00b", b"X-Bad: a\nb"):
            raw = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + bad + b"\r\n\r\n"
            assert _send(url, raw) == (400, b"")
        huge = b"".join(b"X-%d: %s\r\n" % (n, b"a" * 1000) for n in range(600))
        raw = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + huge + b"\r\n"
        assert _send(url, raw) == (431, b"")
        assert httpx.get(f"{url}/health").status_code == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output

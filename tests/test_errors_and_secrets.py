"""Errors are JSON with the right status, and keys never leak into logs or responses."""

from __future__ import annotations

import logging
import typing as t

import httpx
import pytest

from connector.sandbox import World
from connector.serving import BackgroundServer

from .conftest import fault

SECRET = "sk_live_TOPSECRET_0123456789"
AUTH = {"Authorization": f"Bearer {SECRET}"}


def test_unknown_route_and_method_are_json(live: httpx.Client) -> None:
    missing = live.get("/v1/nope")
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/json"
    assert missing.json()["code"] == "not_found"
    wrong = live.get("/v1/actions/get-video")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [("{", "application/json"), ("[1, 2]", "application/json"), ("handle=x", "text/plain")],
)
def test_a_body_that_is_not_a_json_object_is_400(
    live: httpx.Client, content: str, content_type: str
) -> None:
    response = live.post(
        "/v1/actions/get-profile", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"


def test_an_unexpected_exception_is_a_json_500(
    app: t.Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from connector.providers.dumplingai import DumplingAIProvider

    def boom(self: t.Any, handle: str) -> t.Any:
        raise RuntimeError(f"bug while handling {self.api_key}")

    monkeypatch.setattr(DumplingAIProvider, "get_profile", boom)
    response = app.test_client().post(
        "/v1/actions/get-profile",
        json={"handle": "x"},
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert response.status_code == 500
    assert response.json == {
        "error": "Internal error; it has been logged.",
        "code": "internal_error",
    }
    assert SECRET not in response.get_data(as_text=True)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "bug while handling [redacted]" in logged
    assert SECRET not in logged


@pytest.mark.parametrize("status", [None, 400, 401, 403, 404, 500, 502, 503])
def test_the_key_never_appears_in_logs_or_responses(
    live: httpx.Client, world: World, caplog: pytest.LogCaptureFixture, status: int | None
) -> None:
    caplog.set_level(logging.DEBUG)
    if status is not None:
        fault(world, endpoint="*", status=status, times=10)
    headers = {"Authorization": f"Bearer {SECRET}"}
    bodies = [
        live.get("/v1/auth/test", headers=headers).text,
        live.post("/v1/actions/get-profile", json={"handle": "c"}, headers=headers).text,
        live.post("/v1/actions/get-video", json={"video_id": "123456789"}, headers=headers).text,
        live.post("/v1/triggers/new-video", json={"handle": "c"}, headers=headers).text,
    ]
    connector_logs = [r for r in caplog.records if r.name.startswith("connector")]
    assert connector_logs, "requests are logged"
    for text in bodies + [r.getMessage() for r in connector_logs]:
        assert "TOPSECRET" not in text


def test_the_key_is_not_stored(live: httpx.Client, world: World, db_url: str) -> None:
    live.post(
        "/v1/triggers/new-video",
        json={"handle": "creator"},
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    with open(db_url.removeprefix("sqlite:///"), "rb") as db:
        assert b"TOPSECRET" not in db.read()


SERVER_KEY = "sk_live_SERVERSIDE_0123456789"
TOKEN = "operator-token-ACCESS-0123456789"
SECRET_KEY = "Rk2vQ8xLm4Tz7WcN1pHs5Jd9Gf3Yb6Ua0EqVi"
OPERATOR = {"DUMPLINGAI_API_KEY": SERVER_KEY, "ACCESS_TOKENS": TOKEN, "SECRET_KEY": SECRET_KEY}


def _every_call(http: httpx.Client) -> list[httpx.Response]:
    return [
        http.get("/v1/auth/test"),
        http.post("/v1/actions/get-profile", json={"handle": "c"}),
        http.post("/v1/actions/get-video", json={"video_id": "7321234567890123456"}),
        http.post("/v1/triggers/new-video", json={"handle": "c"}),
        http.get("/v1/triggers/new-video", params={"handle": "c", "sample": "true"}),
        http.post("/v1/hooks/sample", json={"handle": "c"}),
    ]


@pytest.mark.parametrize(
    ("status", "log_format"),
    [(status, "text") for status in (400, 401, 403, 404, 429, 500, 502, 503)]
    + [(401, "json"), (500, "json")],
)
def test_upstream_quoting_the_server_key_is_redacted_for_an_access_token_caller(
    make_app: t.Any,
    world: World,
    capsys: pytest.CaptureFixture[str],
    status: int,
    log_format: str,
) -> None:
    app = make_app(**OPERATOR, LOG_FORMAT=log_format)
    echo = f"API key '{SERVER_KEY}' is invalid (token {TOKEN}, secret {SECRET_KEY})"
    fault(world, endpoint="*", status=status, error=echo, times=100)
    with (
        BackgroundServer(app) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
    ):
        answers = _every_call(http)
    # Upstream received the server's key, and its message quoted it.
    assert {r.authorization for r in world.requests()} == {f"Bearer {SERVER_KEY}"}
    logged = capsys.readouterr().err
    for text in [r.text for r in answers] + [logged]:
        assert SERVER_KEY not in text and TOKEN not in text and SECRET_KEY not in text
    assert "/v1/hooks/sample" in logged, "requests are logged"
    if status == 401:
        assert "[redacted]" in answers[0].json()["error"]


@pytest.mark.parametrize("status", [401, 500])
def test_upstream_quoting_the_callers_own_key_is_redacted(
    live: httpx.Client, world: World, capsys: pytest.CaptureFixture[str], status: int
) -> None:
    fault(world, endpoint="*", status=status, error=f"API key '{SECRET}' is invalid", times=100)
    live.headers.update(AUTH)
    answers = _every_call(live)
    logged = capsys.readouterr().err
    for text in [r.text for r in answers] + [logged]:
        assert SECRET not in text
    assert "/v1/hooks/sample" in logged, "requests are logged"


def test_a_crash_quoting_the_server_key_is_logged_redacted(
    make_app: t.Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from connector.providers.dumplingai import DumplingAIProvider

    def boom(self: t.Any, handle: str) -> t.Any:
        raise RuntimeError(f"bug while handling {self.api_key}")

    monkeypatch.setattr(DumplingAIProvider, "get_profile", boom)
    client = make_app(**OPERATOR, LOG_FORMAT="json").test_client()
    capsys.readouterr()
    response = client.post(
        "/v1/actions/get-profile",
        json={"handle": "x"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 500
    logged = capsys.readouterr().err
    assert "bug while handling [redacted]" in logged
    assert SERVER_KEY not in logged and TOKEN not in logged


def test_successful_answers_keep_the_callers_data(live: httpx.Client, world: World) -> None:
    """Redaction touches errors and the server's own secrets only: a subscription's signing
    secret, which is answered once, stays whole."""
    response = live.post("/v1/actions/get-profile", json={"handle": "creator"})
    assert response.status_code == 200 and "[redacted]" not in response.text


@pytest.mark.parametrize("status", [401, 500])
def test_every_server_key_upstream_echoes_is_redacted_across_failover(
    make_app: t.Any, world: World, capsys: pytest.CaptureFixture[str], status: int
) -> None:
    other = "apidirect-SERVER-key-9876543210"
    app = make_app(**OPERATOR, APIDIRECT_API_KEY=other)
    fault(world, endpoint="*", status=status, echo_key=True, times=100)
    with (
        BackgroundServer(app) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
    ):
        answer = http.post("/v1/actions/get-video", json={"video_id": "7321234567890123456"})
    assert answer.status_code in (401, 502)
    assert "API key received: '[redacted]'" in answer.json()["error"]
    received = {r.authorization or r.api_key for r in world.requests()}
    assert received == (
        {f"Bearer {SERVER_KEY}", other} if status == 500 else {f"Bearer {SERVER_KEY}"}
    )
    logged = capsys.readouterr().err
    for text in (answer.text, logged):
        assert SERVER_KEY not in text and other not in text and TOKEN not in text

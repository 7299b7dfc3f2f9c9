"""Errors are JSON with the right status, and keys never leak into logs or responses."""

from __future__ import annotations

import logging
import typing as t

import httpx
import pytest

from connector.sandbox import World

from .conftest import fault

SECRET = "sk_live_TOPSECRET_0123456789"


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

"""Every upstream call carries the requestSource of the platform that called."""

from __future__ import annotations

import typing as t

import httpx
import pytest

from connector.sandbox import World

CALLS: list[tuple[str, str, dict[str, t.Any] | None]] = [
    ("GET", "/v1/auth/test", None),
    ("POST", "/v1/actions/get-video", {"video_id": "7321234567890123456"}),
    ("POST", "/v1/actions/get-profile", {"handle": "creator"}),
    ("POST", "/v1/triggers/new-video", {"handle": "creator"}),
    ("POST", "/v1/triggers/new-video", {"handle": "creator", "sample": True}),
]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"User-Agent": "Zapier"}, "ZAPIER"),
        ({"User-Agent": "Make/production"}, "MAKE_DOT_COM"),
        ({"User-Agent": "n8n/2.41.1"}, "N8N"),
        ({"User-Agent": "curl/8.4.0"}, "API"),
        ({"X-Request-Source": "ZAPIER"}, "ZAPIER"),
        ({"X-Request-Source": "MAKE_DOT_COM", "User-Agent": "Zapier"}, "MAKE_DOT_COM"),
        ({"X-Request-Source": "n8n"}, "N8N"),
        ({"X-Request-Source": "API", "User-Agent": "n8n"}, "API"),
    ],
)
def test_every_endpoint_tags_upstream_calls_with_the_platform(
    live: httpx.Client, world: World, headers: dict[str, str], expected: str
) -> None:
    for method, path, body in CALLS:
        response = live.request(method, path, json=body, headers=headers)
        assert response.status_code == 200, (path, response.text)
    sources = [r.body["requestSource"] for r in world.requests()]
    assert sources == [expected] * len(CALLS)


def test_a_request_source_outside_the_enum_is_400_and_calls_nothing(
    live: httpx.Client, world: World
) -> None:
    for method, path, body in CALLS:
        response = live.request(method, path, json=body, headers={"X-Request-Source": "ZAP"})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_input"
        assert "MAKE_DOT_COM" in response.json()["error"]
    assert world.requests() == []

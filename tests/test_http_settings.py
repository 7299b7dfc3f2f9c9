"""The generic HTTP module settings: they work as pasted, and the README shows them."""

from __future__ import annotations

import json
import pathlib
import typing as t

import httpx

from connector.exports import http as http_settings
from connector.exports import manifest as manifest_module
from connector.sandbox import World

from .conftest import KEY

ROOT = pathlib.Path(__file__).parent.parent
SETTINGS = json.loads((ROOT / "http_settings" / "settings.json").read_text())


def paste(live: httpx.Client, text: str) -> str:
    base = manifest_module.load(ROOT / "manifest.json")["base_url"]["example"]
    return text.replace(base, str(live.base_url).rstrip("/")).replace("YOUR_API_KEY", KEY)


def headers(live: httpx.Client, items: list[dict[str, str]]) -> dict[str, str]:
    return {h["name"]: paste(live, h["value"]) for h in items}


def test_zapier_retrieve_poll_and_custom_requests_work_as_pasted(
    live: httpx.Client, world: World
) -> None:
    zapier = SETTINGS["zapier"]
    poll = zapier["new_video"]
    url = paste(live, poll["url"]).replace("<a name for this zap>", "my-zap")
    assert live.get(url, headers=headers(live, poll["headers"])).json() == []
    video = world.post_video("tiktok")
    items = live.get(url, headers=headers(live, poll["headers"])).json()
    assert [item[poll["deduplication_key"]] for item in items] == [video.id]
    for key in ("get_video", "get_profile"):
        request = zapier[key]
        response = live.request(
            request["method"],
            paste(live, request["url"]),
            content=request["data"],
            headers=headers(live, request["headers"]),
        )
        assert response.status_code == 200, response.text
    assert {r.body["requestSource"] for r in world.requests()} == {"ZAPIER"}


def test_make_requests_work_as_pasted(live: httpx.Client, world: World) -> None:
    for key in ("new_video", "get_video", "get_profile"):
        request = SETTINGS["make"][key]
        content = request["request_content"].replace("{{var.scenario.id}}", "4242")
        response = live.request(
            request["method"],
            paste(live, request["url"]),
            content=content,
            headers={**headers(live, request["headers"]), "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
    assert {r.body["requestSource"] for r in world.requests()} == {"MAKE_DOT_COM"}


def test_instant_subscription_settings_name_every_required_field() -> None:
    for platform in ("zapier", "make", "n8n"):
        body = SETTINGS[platform]["new_video_instant"]["subscribe_once"]["body"]
        assert set(body) == {"target_url", "handle", "event"}


def test_the_readme_shows_the_current_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    generated = http_settings.markdown(
        manifest_module.refresh(manifest_module.load(ROOT / "manifest.json"))
    )
    assert generated in readme, "paste http_settings/README.md's table into README.md"


def test_the_make_blueprint_chains_the_request_and_an_iterator() -> None:
    blueprint: dict[str, t.Any] = json.loads(
        (ROOT / "http_settings" / "make-scenario-blueprint.json").read_text()
    )
    first, second = blueprint["flow"]
    assert first["module"] == "http:ActionSendData" and second["module"] == "builtin:BasicFeeder"
    assert second["mapper"]["array"] == "{{1.data}}"
    assert {"name": "X-Request-Source", "value": "MAKE_DOT_COM"} in first["mapper"]["headers"]

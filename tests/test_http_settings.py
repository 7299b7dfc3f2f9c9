"""The generic HTTP module settings: they work as pasted, the first test gives fields to map,
repeats are dropped where the platform drops them, and the README shows them."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import typing as t

import httpx
import pytest

from connector.exports import http as http_settings
from connector.exports import manifest as manifest_module
from connector.sandbox import World

from .conftest import KEY

ROOT = pathlib.Path(__file__).parent.parent
SETTINGS = json.loads((ROOT / "http_settings" / "settings.json").read_text())
BLUEPRINT: dict[str, t.Any] = json.loads(
    (ROOT / "http_settings" / "make-scenario-blueprint.json").read_text()
)
SCENARIO_ID = "2345678"  # Make puts text into a JSON string body: {{var.scenario.id}} as text


def paste(live: httpx.Client, text: str) -> str:
    base = json.loads((ROOT / "manifest.json").read_text())["base_url"]["example"]
    return text.replace(base, str(live.base_url).rstrip("/")).replace("YOUR_API_KEY", KEY)


def headers(live: httpx.Client, items: list[dict[str, str]]) -> dict[str, str]:
    return {h["name"]: paste(live, h["value"]) for h in items}


@pytest.fixture
def bare(live: httpx.Client) -> t.Iterator[httpx.Client]:
    """A client for the live connector that sends only what the settings say (no key)."""
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


class SeenIds:
    """Zapier's polling dedup: "When a Zap is first turned on, Zapier makes an initial call
    ... and stores each id"; later polls "compare the ids to all those seen before, trigger on
    new items" (https://docs.zapier.com/platform/build/deduplication; Retrieve Poll uses the
    Deduplication Key, https://help.zapier.com/hc/en-us/articles/8496274719757)."""

    def __init__(self, key: str, first: list[dict[str, t.Any]]) -> None:
        self.key, self.seen = key, {item[key] for item in first}

    def trigger(self, items: list[dict[str, t.Any]]) -> list[str]:
        new = [item[self.key] for item in items if item[self.key] not in self.seen]
        self.seen.update(new)
        return new


def test_zapier_retrieve_poll_tests_with_a_sample_then_drops_repeats_itself(
    bare: httpx.Client, world: World
) -> None:
    poll = SETTINGS["zapier"]["new_video"]
    sent = headers(bare, poll["headers"])
    sample = bare.get(paste(bare, poll["setup_test_url"]), headers=sent).json()
    assert sample and all(poll["deduplication_key"] in item for item in sample)

    url = paste(bare, poll["url"]).replace("<a name for this zap>", "my-zap")
    assert "include_recent=true" in url
    zap = SeenIds(poll["deduplication_key"], bare.get(url, headers=sent).json())
    video = world.post_video("tiktok")
    assert zap.trigger(bare.get(url, headers=sent).json()) == [video.id]
    assert zap.trigger(bare.get(url, headers=sent).json()) == []  # repeated, dropped by Zapier
    lost = world.post_video("tiktok")
    assert lost.id in [v["id"] for v in bare.get(url, headers=sent).json()]  # never arrives
    assert zap.trigger(bare.get(url, headers=sent).json()) == [lost.id]


def test_zapier_custom_requests_work_as_pasted(bare: httpx.Client, world: World) -> None:
    for key in ("get_video", "get_profile"):
        request = SETTINGS["zapier"][key]
        response = bare.request(
            request["method"],
            paste(bare, request["url"]),
            content=request["data"],
            headers=headers(bare, request["headers"]),
        )
        assert response.status_code == 200, response.text
    assert {r.body["requestSource"] for r in world.requests()} == {"ZAPIER"}


def make_keychain(client: httpx.Client, credentials: dict[str, str]) -> dict[str, str]:
    """The header Make's HTTP module adds from an "API key" keychain entry."""
    assert credentials["authentication_type"] == "API key"
    assert credentials["api_key_placement"] == "In the header"
    return {credentials["api_key_parameter_name"]: paste(client, credentials["key"])}


def make_send(client: httpx.Client, request: dict[str, t.Any], body: str) -> httpx.Response:
    sent = {
        **headers(client, request["headers"]),
        **make_keychain(client, request["credentials"]),
        "Content-Type": "application/json",
    }
    content = body.replace("{{var.scenario.id}}", SCENARIO_ID)
    return client.request(
        request["method"], paste(client, request["url"]), content=content, headers=sent
    )


def test_make_http_poll_tests_with_a_sample_then_returns_each_video_once(
    bare: httpx.Client, world: World
) -> None:
    poll = SETTINGS["make"]["new_video"]
    assert "include_recent" not in poll["body"]  # Make's HTTP module drops no repeats
    sample = make_send(bare, poll, poll["setup_test_body"]).json()
    assert sample and {"id", "url", "description"} <= set(sample[0])

    assert make_send(bare, poll, poll["body"]).json() == []  # the scenario's baseline
    video = world.post_video("tiktok")
    assert [v["id"] for v in make_send(bare, poll, poll["body"]).json()] == [video.id]
    assert make_send(bare, poll, poll["body"]).json() == []
    assert {r.body["requestSource"] for r in world.requests()} == {"MAKE_DOT_COM"}


def test_make_http_actions_work_as_pasted(bare: httpx.Client, world: World) -> None:
    for key in ("get_video", "get_profile"):
        request = SETTINGS["make"][key]
        response = make_send(bare, request, request["body"])
        assert response.status_code == 200, response.text


def test_make_keeps_the_key_in_its_keychain_never_in_the_blueprint() -> None:
    first, second = BLUEPRINT["flow"]
    assert first["module"] == "http:MakeRequest" and second["module"] == "builtin:BasicFeeder"
    assert first["parameters"]["authenticationType"] == "apiKey"
    assert second["mapper"]["array"] == "{{1.data}}"
    assert first["mapper"]["jsonStringBodyContent"] == SETTINGS["make"]["new_video"]["body"]
    assert {"name": "X-Request-Source", "value": "MAKE_DOT_COM"} in first["mapper"]["headers"]
    text = json.dumps(BLUEPRINT)
    assert "Authorization" not in text and "YOUR_API_KEY" not in text
    for item in SETTINGS["make"].values():
        if "headers" in item:
            assert all(h["name"] != "Authorization" for h in item["headers"])


def n8n_body(node: dict[str, t.Any], mode: str) -> dict[str, t.Any]:
    """The node's JSON body as n8n evaluates its expression (``={{ ... }}``), in Node.js,
    with the workflow's id and the execution mode ("test": run from the editor)."""
    expression = node["parameters"]["jsonBody"]
    assert expression.startswith("={{") and expression.endswith("}}")
    script = (
        "const $workflow = {id: 'wf-42'}; "
        f"const $execution = {{mode: {json.dumps(mode)}}}; "
        f"process.stdout.write(String({expression[3:-2]}));"
    )
    node_binary = shutil.which("node")
    if node_binary is None:
        pytest.skip("Node.js is not installed")
    result = subprocess.run([node_binary, "-e", script], capture_output=True, text=True, check=True)
    return t.cast(dict[str, t.Any], json.loads(result.stdout))


def n8n_send(client: httpx.Client, item: dict[str, t.Any], mode: str) -> httpx.Response:
    params, credential = item["node"]["parameters"], item["credentials"]
    assert params["authentication"] == "genericCredentialType"
    assert params["genericAuthType"] == "httpHeaderAuth" and credential["type"] == "Header Auth"
    sent = {
        **headers(client, params["headerParameters"]["parameters"]),
        credential["name"]: paste(client, credential["value"]),
    }
    body = n8n_body(item["node"], mode)
    return client.request(params["method"], paste(client, params["url"]), json=body, headers=sent)


@pytest.mark.node
def test_n8n_poll_gives_a_sample_when_run_by_hand_and_polls_when_scheduled(
    bare: httpx.Client, world: World
) -> None:
    poll = SETTINGS["n8n"]["new_video"]
    assert "include_recent" not in poll["node"]["parameters"]["jsonBody"]
    assert n8n_body(poll["node"], "production") == {
        "handle": "tiktok",
        "consumer": "wf-42",
        "sample": False,
    }
    sample = n8n_send(bare, poll, "test").json()
    assert sample and "id" in sample[0]
    assert n8n_send(bare, poll, "production").json() == []  # the workflow's baseline
    video = world.post_video("tiktok")
    assert [v["id"] for v in n8n_send(bare, poll, "production").json()] == [video.id]
    assert n8n_send(bare, poll, "production").json() == []
    assert {r.body["requestSource"] for r in world.requests()} == {"N8N"}


@pytest.mark.node
def test_n8n_actions_work_with_the_header_auth_credential(bare: httpx.Client) -> None:
    for key in ("get_video", "get_profile"):
        response = n8n_send(bare, SETTINGS["n8n"][key], "production")
        assert response.status_code == 200, response.text
        assert all(
            h["name"] != "Authorization"
            for h in SETTINGS["n8n"][key]["node"]["parameters"]["headerParameters"]["parameters"]
        )


def test_instant_subscription_settings_name_every_required_field() -> None:
    for platform in ("zapier", "make", "n8n"):
        body = SETTINGS[platform]["new_video_instant"]["subscribe_once"]["body"]
        assert set(body) == {"target_url", "handle", "event"}


def test_the_readme_shows_the_current_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    generated = http_settings.markdown(manifest_module.load(ROOT / "manifest.json"))
    assert generated in readme, "paste http_settings/README.md's table into README.md"

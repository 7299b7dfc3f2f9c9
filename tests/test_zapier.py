"""The generated Zapier app, proven with Zapier's own npm packages (schema and core)."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import typing as t

import pytest

from connector.sandbox import World
from connector.serving import BackgroundServer

from .conftest import KEY

ROOT = pathlib.Path(__file__).parent.parent
APP_DIR = ROOT / "zapier_schema"
SCRIPTS = pathlib.Path(__file__).parent / "zapier"

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        shutil.which("node") is None
        or not (APP_DIR / "node_modules" / "zapier-platform-core").is_dir(),
        reason="Zapier's npm packages are not installed: npm install --prefix zapier_schema",
    ),
]


def node(script: str, env: dict[str, str] | None = None) -> t.Any:
    result = subprocess.run(
        ["node", str(SCRIPTS / script), str(APP_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_app_definition_passes_zapiers_schema() -> None:
    report = node("validate.js")
    assert report["app"] == []
    assert set(report["items"]) == {
        "triggers.new_video",
        "triggers.new_video_instant",
        "creates.get_video",
        "creates.get_profile",
        "searches.find_video",
        "searches.find_profile",
    }
    assert all(errors == [] for errors in report["items"].values()), report["items"]
    assert any("sample" in e for e in report["without_sample"])


def test_the_app_runs_against_a_live_connector(make_app: t.Any, world: World) -> None:
    app = make_app(SECRET_KEY="zapier-test-secret-key-2d8b6f0a4e91c37", ALLOW_PRIVATE_TARGETS=True)
    with BackgroundServer(app) as server:
        results = node(
            "app_tester.js",
            {
                "CONNECTOR_URL": server.url,
                # What an empty Connector URL in the connection falls back on.
                "CONNECTOR_BASE_URL": server.url,
                "SANDBOX_URL": app.extensions["connector"].settings.base_urls["dumplingai"],
                "API_KEY": KEY,
                "NODE_ENV": "test",
            },
        )
    assert results["auth"]["status"] == "ok"
    assert results["auth_from_env"]["status"] == "ok"
    # z.errors.Error carries {"message", "code", "status"}; Zapier shows the message.
    bad_auth = json.loads(results["bad_auth"]["error"])
    assert bad_auth["message"].startswith("DumplingAI: API key is invalid")
    assert (bad_auth["code"], bad_auth["status"]) == ("invalid_api_key", 401)
    newest = [v.id for v in world.profile("creator").videos[:4]]  # type: ignore[union-attr]
    assert [v["id"] for v in results["sample"]] == newest[1:4]
    # With a numeric zap id: baseline, the new video once, then nothing new for the zap
    # (the connector repeats recent videos, which Zapier's id dedup drops).
    assert results["baseline"] == []
    assert [v["id"] for v in results["new_videos"]] == [results["posted"]["id"]]
    assert results["again"] == []
    assert [v["id"] for v in results["raw_again"]] == [results["posted"]["id"]]
    assert results["subscribe"]["id"].startswith("sub_")
    assert results["subscribe"]["consumer"] == "987654321"
    assert [v["id"] for v in results["perform_list"]] == newest[:3]
    assert results["perform"][0]["id"] == newest[1]
    assert results["unsubscribe"]["id"] == results["subscribe"]["id"]
    # Searches answer arrays; nothing found is an empty array, not an error.
    assert [v["id"] for v in results["find_video"]] == [results["posted"]["id"]]
    assert [v["id"] for v in results["find_video_by_id"]] == [results["posted"]["id"]]
    assert results["find_missing_video"] == []
    assert [p["handle"] for p in results["find_profile"]] == ["creator"]
    assert results["find_missing_profile"] == []
    assert json.loads(results["find_bad_input"]["error"])["status"] == 400
    assert results["get_profile"]["handle"] == "creator"
    not_found = json.loads(results["not_found"]["error"])
    assert not_found["message"] == "DumplingAI: TikTok profile not found for handle: missing_person"
    assert not_found["status"] == 404
    # A rate limit says when Zapier retries, from the connector's Retry-After.
    # (zapier-platform-core's ThrottledError carries JSON {"message", "delay"}.)
    assert results["throttled"]["name"] == "ThrottledError"
    throttled = json.loads(results["throttled"]["error"])
    assert throttled["delay"] == 120
    assert throttled["message"].endswith("Zapier retries in 120 seconds.")
    # Every upstream call carried Zapier's requestSource, which the app sends explicitly.
    sources = {r.body["requestSource"] for r in world.requests() if isinstance(r.body, dict)}
    assert sources == {"ZAPIER"}
    assert app.extensions["connector"].store.subscriptions() == []

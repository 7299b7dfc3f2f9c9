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

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None
    or not (APP_DIR / "node_modules" / "zapier-platform-core").is_dir(),
    reason="Zapier's npm packages are not installed: npm install --prefix zapier_schema",
)


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
    }
    assert all(errors == [] for errors in report["items"].values()), report["items"]
    assert any("sample" in e for e in report["without_sample"])


def test_the_app_runs_against_a_live_connector(make_app: t.Any, world: World) -> None:
    app = make_app(SECRET_KEY="z" * 40, ALLOW_PRIVATE_TARGETS=True)
    with BackgroundServer(app) as server:
        results = node(
            "app_tester.js",
            {
                "CONNECTOR_BASE_URL": server.url,
                "SANDBOX_URL": str(app.config["DUMPLINGAI_BASE_URL"]),
                "API_KEY": KEY,
                "NODE_ENV": "test",
            },
        )
    assert results["auth"]["status"] == "ok"
    # z.errors.Error carries {"message", "code", "status"}; Zapier shows the message.
    bad_auth = json.loads(results["bad_auth"]["error"])
    assert bad_auth["message"].startswith("DumplingAI: API key is invalid")
    assert (bad_auth["code"], bad_auth["status"]) == ("invalid_api_key", 401)
    newest = [v.id for v in world.profile("creator").videos[:4]]  # type: ignore[union-attr]
    assert [v["id"] for v in results["sample"]] == newest[1:4]
    assert results["baseline"] == []
    assert [v["id"] for v in results["new_videos"]] == [results["posted"]["id"]]
    assert results["again"] == []
    assert results["subscribe"]["id"].startswith("sub_")
    assert results["subscribe"]["consumer"] == "zap-4242"
    assert [v["id"] for v in results["perform_list"]] == newest[:3]
    assert results["perform"][0]["id"] == newest[1]
    assert results["unsubscribe"]["id"] == results["subscribe"]["id"]
    assert results["get_video"]["id"] == results["posted"]["id"]
    assert results["get_profile"]["handle"] == "creator"
    not_found = json.loads(results["not_found"]["error"])
    assert not_found["message"] == "DumplingAI: TikTok profile not found for handle: missing_person"
    assert not_found["status"] == 404
    # Every upstream call carried Zapier's requestSource, which the app sends explicitly.
    sources = {r.body["requestSource"] for r in world.requests() if isinstance(r.body, dict)}
    assert sources == {"ZAPIER"}
    assert app.extensions["connector"].store.subscriptions() == []

"""The generated n8n community node package and workflow templates."""

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
PACKAGE = ROOT / "n8n"
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
BUILTIN_NODES = {
    "n8n-nodes-base.scheduleTrigger",
    "n8n-nodes-base.manualTrigger",
    "n8n-nodes-base.httpRequest",
}

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def test_the_package_declares_its_nodes_and_credentials() -> None:
    package = json.loads((PACKAGE / "package.json").read_text())
    assert "n8n-community-node-package" in package["keywords"]
    assert package["name"].startswith("n8n-nodes-")
    declared = package["n8n"]["credentials"] + package["n8n"]["nodes"]
    assert len(declared) == 3
    for file in declared:
        assert (PACKAGE / file).is_file(), file


@needs_node
def test_nodes_and_credentials_run_against_a_live_connector(make_app: t.Any, world: World) -> None:
    app = make_app()
    with BackgroundServer(app) as server:
        result = subprocess.run(
            ["node", str(pathlib.Path(__file__).parent / "n8n" / "harness.js"), str(PACKAGE)],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                **os.environ,
                "CONNECTOR_BASE_URL": server.url,
                "SANDBOX_URL": str(app.config["DUMPLINGAI_BASE_URL"]),
                "API_KEY": KEY,
            },
        )
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout.strip().splitlines()[-1])
    assert results["credential_test"]["status"] == 200
    assert len(results["manual"][0]) == 3, "a manual run shows a sample"
    assert results["first"] is None and results["other_first"] is None, "baselines"
    posted = results["posted"]["id"]
    assert [item["json"]["id"] for item in results["second"][0]] == [posted]
    assert results["third"] is None
    assert [item["json"]["id"] for item in results["other_second"][0]] == [posted], (
        "each workflow is its own feed"
    )
    assert results["get_video"]["status"] == 200
    assert results["get_video"]["body"]["id"] == posted
    assert results["get_profile"]["body"]["handle"] == "creator"
    assert results["get_video_bad"]["status"] == 400
    sources = {r.body["requestSource"] for r in world.requests() if isinstance(r.body, dict)}
    assert sources == {"N8N"}


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "workflows").glob("*.json")), ids=lambda p: p.name
)
def test_workflow_templates_are_importable(path: pathlib.Path) -> None:
    workflow = json.loads(path.read_text())
    assert 0 < len(workflow["id"]) <= 21, "n8n import:workflow needs an id of at most 21 chars"
    names = [node["name"] for node in workflow["nodes"]]
    assert len(set(names)) == len(names)
    package = json.loads((PACKAGE / "package.json").read_text())
    own = {f"{package['name']}.tikTokConnectorTrigger", f"{package['name']}.tikTokConnector"}
    for node in workflow["nodes"]:
        assert node["type"] in BUILTIN_NODES | own, node["type"]
        assert {"parameters", "id", "name", "type", "typeVersion", "position"} <= set(node)
        if node["type"] == "n8n-nodes-base.httpRequest":
            headers = {
                h["name"]: h["value"] for h in node["parameters"]["headerParameters"]["parameters"]
            }
            assert headers["X-Request-Source"] == "N8N"
            assert node["parameters"]["url"].startswith(MANIFEST["base_url"]["example"])
    for source, outputs in workflow["connections"].items():
        assert source in names
        for branch in outputs["main"]:
            assert all(link["node"] in names for link in branch)
    triggers = [n for n in workflow["nodes"] if "Trigger" in n["type"] or "trigger" in n["type"]]
    assert len(triggers) == 1


def test_the_polling_template_passes_the_workflow_id_as_consumer() -> None:
    workflow = json.loads((PACKAGE / "workflows" / "new-video-http.json").read_text())
    (request,) = [n for n in workflow["nodes"] if n["type"] == "n8n-nodes-base.httpRequest"]
    assert "consumer: $workflow.id" in request["parameters"]["jsonBody"]

"""The generated n8n community node package and workflow templates.

The nodes run in Node.js the way n8n calls them (tests/n8n/context.js), against a live
connector; n8n's own lint rules check the package. Both need n8n's npm packages:
``cd tests/n8n/npm && npm ci`` (the lint plugins, and n8n-workflow, which the nodes require
at run time as they do inside n8n).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import typing as t

import pytest

from connector import exports
from connector.hooks.poller import run_cycle
from connector.sandbox import World
from connector.serving import BackgroundServer

from .conftest import KEY

ROOT = pathlib.Path(__file__).parent.parent
PACKAGE = ROOT / "n8n"
HARNESS = pathlib.Path(__file__).parent / "n8n"
NPM = HARNESS / "npm"
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
BUILTIN_NODES = {
    "n8n-nodes-base.scheduleTrigger",
    "n8n-nodes-base.manualTrigger",
    "n8n-nodes-base.httpRequest",
}
HOOK_SETTINGS = {
    "ALLOW_PRIVATE_TARGETS": True,
    "SECRET_KEY": "n8n-test-secret-key-7b2e4c9d0f1a8e36",
    "POLL_MIN_GAP": 0,
}

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
needs_packages = pytest.mark.skipif(
    not (NPM / "node_modules" / "n8n-workflow").is_dir()
    or not (NPM / "node_modules" / "@n8n" / "eslint-plugin-community-nodes").is_dir(),
    reason="n8n's npm packages are not installed: run `npm ci` in tests/n8n/npm",
)


def _package() -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], json.loads((PACKAGE / "package.json").read_text()))


def _node_env(**extra: str) -> dict[str, str]:
    # n8n puts its own node_modules on NODE_PATH for custom nodes, so that they can require
    # n8n-workflow (packages/cli/src/load-nodes-and-credentials.ts, init()).
    return {**os.environ, "NODE_PATH": str(NPM / "node_modules"), **extra}


def _registered_names() -> dict[str, str]:
    """Each node file's ``description.name``, which n8n registers the node type under."""
    names = {}
    for file in _package()["n8n"]["nodes"]:
        text = (PACKAGE / file).read_text()
        match = re.search(r"description = \{\n(?:    .*\n)*?    name: \"(\w+)\",", text)
        assert match, file
        names[file] = match.group(1)
    return names


def test_the_package_declares_its_nodes_and_credentials() -> None:
    # n8n loads what package.json's "n8n" lists name, icons beside each file
    # (packages/core/src/nodes-loader/package-directory-loader.ts, directory-loader.ts).
    package = _package()
    assert "n8n-community-node-package" in package["keywords"]
    assert package["name"].startswith("n8n-nodes-")
    assert package["peerDependencies"] == {"n8n-workflow": "*"}
    assert "dependencies" not in package, "n8n Cloud takes no runtime dependencies"
    declared = package["n8n"]["credentials"] + package["n8n"]["nodes"]
    assert len(declared) == 4
    for file in declared:
        assert file.startswith("dist/") and (PACKAGE / file).is_file(), file
        folder = (PACKAGE / file).parent
        assert {"tiktok.svg", "tiktok.dark.svg"} <= {p.name for p in folder.iterdir()}
    assert sorted(_registered_names().values()) == [
        "tikTokConnector",
        "tikTokConnectorInstantTrigger",
        "tikTokConnectorTrigger",
    ]


def test_the_package_folder_holds_only_generated_files() -> None:
    generated = set(exports.render("n8n", ROOT / "manifest.json"))
    on_disk = {
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*")
        if p.is_file() and "node_modules" not in p.parts
    }
    assert on_disk == generated, "remove what `connector export n8n` no longer writes"


def test_the_action_node_does_not_call_itself_a_trigger() -> None:
    # Shown in the nodes panel and to AI agents when used as a tool (usableAsTool).
    text = (PACKAGE / _package()["n8n"]["nodes"][0]).read_text()
    description = re.search(r"\n    description: (\".*\"),\n", text)
    assert description and "trigger" not in json.loads(description.group(1)).lower()
    assert "usableAsTool: true," in text


@pytest.mark.node
@needs_node
@needs_packages
def test_polling_trigger_and_actions_run_against_a_live_connector(
    make_app: t.Any, world: World, sandbox_url: str
) -> None:
    app = make_app()
    with BackgroundServer(app) as server:
        result = subprocess.run(
            ["node", str(HARNESS / "harness.js"), str(PACKAGE)],
            capture_output=True,
            text=True,
            timeout=90,
            env=_node_env(
                CONNECTOR_BASE_URL=server.url,
                SANDBOX_URL=sandbox_url,
                API_KEY=KEY,
            ),
        )
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout.strip().splitlines()[-1])
    assert r["credential_test"]["status"] == 200
    # n8n runs poll() with mode "manual" for "Fetch test event" (packages/core/src/
    # execution-engine/workflow-execute.ts executePollNode): a sample, and no state kept.
    assert len(r["manual"]) == 3 and r["static_after_manual"] == {}
    assert r["first"] is None and r["other_first"] is None, "baselines"
    posted = r["posted"]["id"]
    assert r["second"] == [posted]
    # include_recent: the connector answers the video again, the node emits it once. n8n
    # starts an execution only for a non-null poll() answer (packages/core/src/execution-
    # engine/poll-trigger-executor.ts) and keeps getWorkflowStaticData('node') per workflow
    # node between polls, committed with that execution (packages/cli/src/workflows/
    # triggers/trigger-execution-context.factory.ts).
    assert r["answers"]["third"] == [posted]
    assert r["third"] is None
    assert r["other_second"] == [posted], "each workflow is its own feed"
    # An answer lost on its way back (the poll fails in n8n, nothing is emitted or kept):
    # the next answer brings the video again, and it is emitted then, once.
    lost = r["posted_lost"]["id"]
    assert r["answers"]["lost"] == [lost, posted] and r["lost"] == {"error": "socket hang up"}
    assert r["answers"]["recovered"] == [lost, posted]
    assert r["recovered"] == [lost]
    assert r["after_recovery"] is None and r["answers"]["after_recovery"] == [lost, posted]
    assert r["emitted_ids"] == [posted, lost]
    # The remembered ids are bounded: the oldest make way.
    assert r["full"] == [r["posted_full"]["id"]]
    assert len(r["full_emitted_ids"]) == 500
    assert r["full_emitted_ids"][-1] == r["posted_full"]["id"]
    assert r["full_emitted_ids"][0] == "7000000000000000001"

    assert r["get_video"]["status"] == 200
    assert r["get_video"]["body"]["id"] == posted
    assert r["get_profile"]["body"]["handle"] == "creator"
    assert r["get_video_bad"]["status"] == 400
    sources = {r.body["requestSource"] for r in world.requests() if isinstance(r.body, dict)}
    assert sources == {"N8N"}


@pytest.mark.node
@needs_node
@needs_packages
def test_instant_trigger_subscribes_verifies_deliveries_and_unsubscribes(
    make_app: t.Any, world: World, sandbox_url: str
) -> None:
    app = make_app(**HOOK_SETTINGS)
    cycles = []
    results = None
    with (
        BackgroundServer(app) as server,
        subprocess.Popen(
            ["node", str(HARNESS / "instant.js"), str(PACKAGE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_node_env(
                CONNECTOR_BASE_URL=server.url,
                SANDBOX_URL=sandbox_url,
                API_KEY=KEY,
            ),
        ) as process,
    ):
        assert process.stdin and process.stdout and process.stderr
        try:
            # The script asks for each poll cycle and waits for it (no timing involved).
            for line in process.stdout:
                message = json.loads(line)
                if message.get("need") == "cycle":
                    cycles.append(run_cycle(app.extensions["connector"].poll_context).as_dict())
                    process.stdin.write(json.dumps(cycles[-1]) + "\n")
                    process.stdin.flush()
                elif "results" in message:
                    results = message["results"]
                    process.stdin.close()
            assert process.wait(timeout=30) == 0, process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
    assert results is not None
    r = results
    # n8n calls checkExists, then create when it is false (packages/cli/src/webhooks/
    # webhook.service.ts createWebhookIfNotExists); the node keeps the subscription in
    # getWorkflowStaticData('node'), which n8n saves after activation (packages/cli/src/
    # active-workflow-manager.ts addWebhooks).
    assert r["exists_before"] is False and r["created"] is True and r["exists_after"] is True
    assert r["subscription_id"].startswith("sub_") and r["has_secret"]
    subscription = r["subscription"]
    assert subscription["consumer"] == "4fUcJ2vX0DyQm1Bp", "n8n's workflow id, a string"
    assert subscription["platform"] == "N8N" and subscription["handle"] == "creator"
    assert subscription["event"] == "new_video"
    assert subscription["target_url"].endswith(
        "/webhook/6b2a4c8e-1f3d-4e5a-9b7c-0d1e2f3a4b5c/webhook"
    )

    # The connector's real delivery, verified on the raw body and run once (n8n reads the
    # body into req.rawBody before parsing it: packages/cli/src/middlewares/body-parser.ts).
    assert cycles[0]["delivered"] == 1
    received = {d["label"]: d for d in r["received"] if d["label"] != "connector"}
    (real,) = [d for d in r["received"] if d["label"] == "connector"]
    assert real["status"] == 200 and real["answer"] == {"message": "Workflow was started"}
    executions = {e["label"]: e["items"] for e in r["executions"]}
    assert [item["id"] for item in executions["connector"]] == [r["posted"]["id"]]
    assert set(executions["connector"][0]) >= {"id", "url", "author_handle", "created_at"}

    # Forged, stale and tampered deliveries: 401 and nothing run, as n8n's own signed
    # triggers answer (packages/nodes-base/nodes/Linear/LinearTrigger.node.ts webhook();
    # a 5-minute window as packages/nodes-base/utils/webhook-signature-verification.ts).
    assert r["forgeries"] == {
        "other_secret": 401,
        "unsigned": 401,
        "stale": 401,
        "future": 401,
        "wrong_version": 401,
        "other_id": 401,
        "tampered": 401,
    }
    for label in r["forgeries"]:
        assert received[label]["status"] == 401 and label not in executions
    # A retry of the same delivery (same webhook-id) is answered and runs nothing.
    assert r["replayed"] == 200 and "replayed" not in executions
    assert received["replayed"]["answer"] == {"received": True, "duplicate": True}
    # One valid signature among several is enough.
    assert r["several_signatures"] == 200
    assert [i["id"] for i in executions["several_signatures"]] == ["7000000000000000001"]
    assert sorted(executions) == ["connector", "several_signatures"]

    # "Listen for test event": its own subscription on the test URL, removed afterwards,
    # the published one untouched (packages/cli/src/webhooks/test-webhooks.ts).
    assert r["test_exists"] is False and r["test_created"] is True
    assert r["test_subscription"]["target_url"].endswith(
        "/webhook-test/6b2a4c8e-1f3d-4e5a-9b7c-0d1e2f3a4b5c/webhook"
    )
    assert r["test_deleted"] is True and r["test_gone"] == 404 and r["production_kept"] == 200
    # A changed webhook URL: the old subscription is dropped and a new one made.
    assert r["moved_exists"] is False and r["moved_old"] == 404 and r["moved_created"] is True
    assert "/moved/" in r["moved_target"]
    # Unpublishing: the connector and the node both forget the subscription.
    assert r["deleted"] is True and r["gone"] == 404 and r["deleted_again"] is True
    assert r["static_after_delete"] == {}
    assert r["exists_removed"] is False
    assert r["static_after_removed"] == {}, "undefined: JSON leaves them out"
    assert r["deliveries_after_delete"] == 0
    assert not [c for c in r["calls"] if "warning" in c]
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
    # The templates are for the README's install, N8N_CUSTOM_EXTENSIONS, which registers
    # every node type as CUSTOM.<description.name> (packages/core/src/nodes-loader/
    # custom-directory-loader.ts, constants.ts CUSTOM_NODES_PACKAGE_NAME).
    own = {f"CUSTOM.{name}" for name in _registered_names().values()}
    for node in workflow["nodes"]:
        assert node["type"] in BUILTIN_NODES | own, node["type"]
        assert {"parameters", "id", "name", "type", "typeVersion", "position"} <= set(node)
        if node["type"] == "n8n-nodes-base.httpRequest":
            parameters = node["parameters"]
            headers = {h["name"]: h["value"] for h in parameters["headerParameters"]["parameters"]}
            assert headers == {"X-Request-Source": "N8N"}, "the key stays in a credential"
            assert parameters["authentication"] == "genericCredentialType"
            assert parameters["genericAuthType"] == "httpHeaderAuth"
            assert set(node["credentials"]) == {"httpHeaderAuth"}
            assert parameters["url"].startswith(MANIFEST["base_url"]["example"])
        if node["type"].startswith("CUSTOM."):
            assert set(node["credentials"]) == {"tikTokConnectorApi"}
    for source, outputs in workflow["connections"].items():
        assert source in names
        for branch in outputs["main"]:
            assert all(link["node"] in names for link in branch)
    triggers = [n for n in workflow["nodes"] if "Trigger" in n["type"] or "trigger" in n["type"]]
    assert len(triggers) == 1


@pytest.mark.node
@needs_node
@pytest.mark.parametrize("mode", ["test", "production"])
def test_the_polling_template_sends_the_workflow_id_and_a_sample_flag(mode: str) -> None:
    workflow = json.loads((PACKAGE / "workflows" / "new-video-http.json").read_text())
    (request,) = [n for n in workflow["nodes"] if n["type"] == "n8n-nodes-base.httpRequest"]
    expression = re.fullmatch(r"=\{\{(.*)\}\}", request["parameters"]["jsonBody"])
    assert expression
    # $execution.mode is "test" for a run from the editor and "production" otherwise
    # (packages/core/src/execution-engine/node-execution-context/utils/
    # get-additional-keys.ts); $workflow.id is the workflow's string id.
    body = json.dumps(expression.group(1))
    script = (
        f"const f = new Function('$workflow', '$execution', 'return (' + {body} + ')');"
        f"console.log(f({{ id: '4fUcJ2vX0DyQm1Bp' }}, {{ mode: {json.dumps(mode)} }}));"
    )
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "handle": "tiktok",
        "consumer": "4fUcJ2vX0DyQm1Bp",
        "sample": mode == "test",
    }


def _lint(package: pathlib.Path) -> dict[str, t.Any]:
    result = subprocess.run(
        ["node", str(NPM / "lint.mjs"), str(package)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return t.cast(dict[str, t.Any], json.loads(result.stdout))


@pytest.mark.node
@needs_node
@needs_packages
def test_the_package_passes_n8ns_lint() -> None:
    report = _lint(PACKAGE)
    for leg in ("shipped", "source"):
        assert report[leg]["messages"] == [], leg
    # The rules saw every class: they key on `implements INodeType` (see lint.mjs).
    assert sorted(c["class"] for c in report["typed"]) == [
        "TikTokConnector",
        "TikTokConnectorApi",
        "TikTokConnectorInstantTrigger",
        "TikTokConnectorTrigger",
    ]
    assert "package.json" in report["shipped"]["files"]
    assert len([f for f in report["source"]["files"] if f.endswith(".ts")]) == 4


@pytest.mark.node
@needs_node
@needs_packages
def test_n8ns_lint_finds_what_it_looks_for(tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "n8n"
    shutil.copytree(PACKAGE, broken)
    action = broken / "dist/nodes/TikTokConnector/TikTokConnector.node.js"
    action.write_text(action.read_text().replace("    usableAsTool: true,\n", ""))
    credential = broken / "dist/credentials/TikTokConnectorApi.credentials.js"
    text = credential.read_text()
    credential.write_text(re.sub(r"  documentationUrl = .*;\n", "", text))
    trigger = broken / "dist/nodes/TikTokConnectorTrigger/TikTokConnectorTrigger.node.js"
    trigger.write_text(
        trigger.read_text().replace("[\n      NodeConnectionTypes.Main,\n    ]", '["main"]')
    )
    package = json.loads((broken / "package.json").read_text())
    del package["author"]
    (broken / "package.json").write_text(json.dumps(package))
    report = _lint(broken)
    rules = {m["rule"] for m in report["source"]["messages"] if m["severity"] == "error"}
    assert {
        "@n8n/community-nodes/node-usable-as-tool",
        "n8n-nodes-base/cred-class-field-documentation-url-missing",
        "@n8n/community-nodes/node-connection-type-literal",
        "@n8n/community-nodes/valid-author",
    } <= rules, rules

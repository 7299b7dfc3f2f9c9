"""Ready-to-paste settings for each platform's generic HTTP module (``http_settings/``).

The path most users take first, since it needs no custom app: Zapier's "Webhooks by
Zapier" (Retrieve Poll for the new-video trigger, deduplicating on ``id``; Custom Request
for the actions; Catch Hook for the instant trigger), Make's HTTP "Make a request" (and an
importable scenario blueprint), and n8n's HTTP Request node.
"""

from __future__ import annotations

import json
import typing as t

from .manifest import Manifest, dumps

KEY_PLACEHOLDER = "YOUR_API_KEY"
HANDLE_EXAMPLE = "tiktok"
VIDEO_URL_EXAMPLE = "https://www.tiktok.com/@tiktok/video/7321234567890123456"


def _example_body(operation: dict[str, t.Any]) -> dict[str, t.Any]:
    examples = {"handle": HANDLE_EXAMPLE, "url": VIDEO_URL_EXAMPLE}
    return {f["key"]: examples[f["key"]] for f in operation["input_fields"] if f["key"] in examples}


def _headers(manifest: Manifest, platform: str, *, json_body: bool) -> list[dict[str, str]]:
    auth = manifest["authentication"]
    headers = [
        {"name": auth["header"], "value": f"{auth['scheme']} {KEY_PLACEHOLDER}"},
        {"name": "X-Request-Source", "value": manifest["request_sources"][platform]},
    ]
    if json_body:
        headers.append({"name": "Content-Type", "value": "application/json"})
    return headers


def settings(manifest: Manifest) -> dict[str, t.Any]:
    """Every operation's settings for every platform's generic HTTP module."""
    base = manifest["base_url"]["example"]
    out: dict[str, t.Any] = {"zapier": {}, "make": {}, "n8n": {}}
    for op in [*manifest["triggers"], *manifest["actions"]]:
        key = op["key"]
        if op.get("type") == "webhook":
            modules = {
                "zapier": "Webhooks by Zapier: Catch Hook",
                "make": "Webhooks: Custom webhook",
                "n8n": "Webhook node (POST)",
            }
            for platform, module in modules.items():
                out[platform][key] = {
                    "module": module,
                    "subscribe_once": {
                        "method": op["subscribe"]["method"],
                        "url": f"{base}{op['subscribe']['path']}",
                        "headers": _headers(manifest, platform, json_body=True),
                        "body": {
                            "target_url": "<the hook URL the platform gives you>",
                            **_example_body(op),
                            "event": "new_video",
                        },
                    },
                }
            continue
        body = _example_body(op)
        if op.get("type") == "polling":
            query = "&".join(f"{k}={v}" for k, v in body.items())
            out["zapier"][key] = {
                "module": "Webhooks by Zapier: Retrieve Poll",
                "url": f"{base}{op['path']}?{query}&consumer=<a name for this zap>",
                "key": "",
                "deduplication_key": op["dedup_key"],
                "headers": _headers(manifest, "zapier", json_body=False),
            }
            body = {**body, "consumer": "{{var.scenario.id}}"}
        else:
            out["zapier"][key] = {
                "module": "Webhooks by Zapier: Custom Request",
                "method": op["method"],
                "url": f"{base}{op['path']}",
                "data": json.dumps(body),
                "headers": _headers(manifest, "zapier", json_body=True),
            }
        out["make"][key] = {
            "module": "HTTP: Make a request",
            "url": f"{base}{op['path']}",
            "method": op["method"],
            "headers": _headers(manifest, "make", json_body=False),
            "body_type": "Raw",
            "content_type": "JSON (application/json)",
            "request_content": json.dumps(body),
            "parse_response": True,
        }
        n8n_body = {k: v for k, v in body.items() if k != "consumer"}
        consumer = ", consumer: $workflow.id" if op.get("type") == "polling" else ""
        out["n8n"][key] = {
            "module": "HTTP Request",
            "node": {
                "parameters": {
                    "method": op["method"],
                    "url": f"{base}{op['path']}",
                    "sendHeaders": True,
                    "headerParameters": {"parameters": _headers(manifest, "n8n", json_body=False)},
                    "sendBody": True,
                    "specifyBody": "json",
                    "jsonBody": "={{ JSON.stringify({ "
                    + ", ".join(f"{k}: {json.dumps(v)}" for k, v in n8n_body.items())
                    + consumer
                    + " }) }}",
                    "options": {},
                },
                "name": op["label"],
                "type": "n8n-nodes-base.httpRequest",
                "typeVersion": 4.2,
                "position": [0, 0],
            },
        }
    return out


def make_blueprint(manifest: Manifest) -> dict[str, t.Any]:
    """A Make scenario (HTTP request, then one bundle per new video) Make can import."""
    trigger = next(op for op in manifest["triggers"] if op["type"] == "polling")
    request = settings(manifest)["make"][trigger["key"]]
    return {
        "name": f"{manifest['label']}: {trigger['label']}",
        "flow": [
            {
                "id": 1,
                "module": "http:ActionSendData",
                "version": 3,
                "parameters": {"handleErrors": True},
                "mapper": {
                    "url": request["url"],
                    "method": request["method"].lower(),
                    "headers": request["headers"],
                    "qs": [],
                    "bodyType": "raw",
                    "contentType": "application/json",
                    "data": request["request_content"],
                    "parseResponse": True,
                    "serializeUrl": False,
                    "shareCookies": False,
                    "rejectUnauthorized": True,
                    "followRedirect": True,
                    "useQuerystring": False,
                    "gzip": True,
                    "useMtls": False,
                    "timeout": "",
                },
                "metadata": {"designer": {"x": 0, "y": 0}},
            },
            {
                "id": 2,
                "module": "builtin:BasicFeeder",
                "version": 1,
                "parameters": {},
                "mapper": {"array": "{{1.data}}"},
                "metadata": {"designer": {"x": 300, "y": 0}},
            },
        ],
        "metadata": {
            "instant": False,
            "version": 1,
            "scenario": {
                "roundtrips": 1,
                "maxErrors": 3,
                "autoCommit": True,
                "autoCommitTriggerLast": True,
                "sequential": True,
                "confidential": False,
                "dataloss": False,
                "dlq": False,
                "freshVariables": False,
            },
            "designer": {"orphans": []},
        },
    }


def markdown(manifest: Manifest) -> str:
    """The settings as a person reads them (also shown in the project README)."""
    all_settings = settings(manifest)
    labels = {op["key"]: op["label"] for op in [*manifest["triggers"], *manifest["actions"]]}

    def headers(items: list[dict[str, str]]) -> str:
        return "<br>".join(f"`{h['name']}: {h['value']}`" for h in items)

    lines = [
        f"Replace `{KEY_PLACEHOLDER}` with your key and `{manifest['base_url']['example']}` "
        "with your connector's URL.",
        "",
        "| Platform module | Operation | Request | Headers | Body and settings |",
        "| --- | --- | --- | --- | --- |",
    ]
    for platform in ("zapier", "make", "n8n"):
        for key, item in all_settings[platform].items():
            if "subscribe_once" in item:
                request = item["subscribe_once"]
                row = (
                    f"`{request['method']} {request['url']}` once, to subscribe",
                    headers(request["headers"]),
                    f"`{json.dumps(request['body'])}`",
                )
            elif platform == "n8n":
                params = item["node"]["parameters"]
                row = (
                    f"`{params['method']} {params['url']}`",
                    headers(params["headerParameters"]["parameters"]),
                    f"JSON `{params['jsonBody']}`",
                )
            elif "deduplication_key" in item:
                row = (
                    f"`GET {item['url']}`",
                    headers(item["headers"]),
                    f"Deduplication Key `{item['deduplication_key']}`; Key empty",
                )
            else:
                body = item.get("data") or item.get("request_content")
                row = (
                    f"`{item['method']} {item['url']}`",
                    headers(item["headers"]),
                    f"Raw JSON `{body}`" + ("; parse response" if platform == "make" else ""),
                )
            lines.append(f"| {item['module']} | {labels[key]} | " + " | ".join(row) + " |")
    lines += [
        "",
        "Make: `http_settings/make-scenario-blueprint.json` imports as a scenario (the request, "
        "then one bundle per new video); give it a schedule. n8n: each `node` object in "
        "`http_settings/settings.json` pastes onto the canvas.",
        "",
    ]
    return "\n".join(lines)


def render(manifest: Manifest) -> dict[str, str]:
    return {
        "settings.json": dumps(settings(manifest)),
        "make-scenario-blueprint.json": dumps(make_blueprint(manifest)),
        "README.md": "# Generic HTTP module settings\n\n" + markdown(manifest),
    }

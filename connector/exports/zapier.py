"""The Zapier CLI app: ``zapier_schema/`` (app.json, index.js, package.json).

app.json is the whole app definition as JSON; index.js adds the one piece JSON cannot
carry, a response middleware that turns the connector's ``{"error", "code"}`` answers into
Zapier errors with a readable message. ``zapier push`` from the folder deploys it.
"""

from __future__ import annotations

import typing as t

from .manifest import Manifest, dumps

PLATFORM_VERSION = "19.1.0"
BASE = "{{process.env.CONNECTOR_BASE_URL}}"

_INPUT_TYPES = {
    "password": "password",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "datetime": "datetime",
}


def _input_field(field: dict[str, t.Any]) -> dict[str, t.Any]:
    zapier_field: dict[str, t.Any] = {
        "key": field["key"],
        "label": field["label"],
        "required": field["required"],
        "type": _INPUT_TYPES.get(field["type"], "string"),
        "helpText": field["help_text"],
    }
    if field.get("choices"):
        zapier_field["choices"] = {c["value"]: c["label"] for c in field["choices"]}
    return zapier_field


def _output_field(field: dict[str, str]) -> dict[str, t.Any]:
    if field["type"] == "array":
        return {"key": field["key"], "label": field["label"], "list": True, "type": "string"}
    return {"key": field["key"], "label": field["label"], "type": field["type"]}


def _body(operation: dict[str, t.Any]) -> dict[str, str]:
    return {f["key"]: f"{{{{bundle.inputData.{f['key']}}}}}" for f in operation["input_fields"]}


def _display(operation: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"label": operation["label"], "description": operation["description"]}


def _common(operation: dict[str, t.Any]) -> dict[str, t.Any]:
    return {
        "inputFields": [_input_field(f) for f in operation["input_fields"]],
        "sample": operation["sample"],
        "outputFields": [_output_field(f) for f in operation["output_fields"]],
    }


def _polling_trigger(operation: dict[str, t.Any]) -> dict[str, t.Any]:
    return {
        "key": operation["key"],
        "noun": operation["noun"],
        "display": _display(operation),
        "operation": {
            "type": "polling",
            "perform": {
                "url": f"{BASE}{operation['path']}",
                "method": operation["method"],
                "body": {
                    **_body(operation),
                    # Each zap is its own feed; the test step asks for a sample.
                    "consumer": "{{bundle.meta.zap.id}}",
                    "sample": "{{bundle.meta.isLoadingSample}}",
                },
            },
            **_common(operation),
        },
    }


def _hook_trigger(operation: dict[str, t.Any]) -> dict[str, t.Any]:
    unsubscribe_path = operation["unsubscribe"]["path"].replace(
        "{id}", "{{bundle.subscribeData.id}}"
    )
    return {
        "key": operation["key"],
        "noun": operation["noun"],
        "display": _display(operation),
        "operation": {
            "type": "hook",
            "performSubscribe": {
                "url": f"{BASE}{operation['subscribe']['path']}",
                "method": operation["subscribe"]["method"],
                "body": {
                    **_body(operation),
                    "target_url": "{{bundle.targetUrl}}",
                    "event": "new_video",
                    "consumer": "{{bundle.meta.zap.id}}",
                },
            },
            "performUnsubscribe": {
                "url": f"{BASE}{unsubscribe_path}",
                "method": operation["unsubscribe"]["method"],
            },
            "perform": {"source": "return [bundle.cleanedRequest];"},
            "performList": {
                "url": f"{BASE}{operation['list']['path']}",
                "method": operation["list"]["method"],
                "body": _body(operation),
            },
            **_common(operation),
        },
    }


def _create(operation: dict[str, t.Any]) -> dict[str, t.Any]:
    return {
        "key": operation["key"],
        "noun": operation["noun"],
        "display": _display(operation),
        "operation": {
            "perform": {
                "url": f"{BASE}{operation['path']}",
                "method": operation["method"],
                "body": _body(operation),
            },
            **_common(operation),
        },
    }


def app_definition(manifest: Manifest) -> dict[str, t.Any]:
    auth = manifest["authentication"]
    source = manifest["request_sources"]["zapier"]
    return {
        "version": manifest["version"],
        "platformVersion": PLATFORM_VERSION,
        "authentication": {
            "type": "custom",
            "fields": [_input_field(f) for f in auth["fields"]],
            "test": {"url": f"{BASE}{auth['test']['path']}", "method": auth["test"]["method"]},
            "connectionLabel": auth["connection_label"].replace("{{", "{{bundle.inputData."),
        },
        "requestTemplate": {
            "headers": {
                auth["header"]: f"{auth['scheme']} {{{{bundle.authData.api_key}}}}",
                "X-Request-Source": source,
                "Accept": "application/json",
            }
        },
        "triggers": {
            op["key"]: _hook_trigger(op) if op["type"] == "webhook" else _polling_trigger(op)
            for op in manifest["triggers"]
        },
        "searches": {},
        "creates": {op["key"]: _create(op) for op in manifest["actions"]},
        "resources": {},
    }


INDEX_JS = """\
// Generated by `connector export zapier`; edit manifest.json instead.
'use strict';

const app = require('./app.json');

// The connector answers errors as {"error": "<message>", "code": "<code>"}: show the message.
const surfaceErrors = (response, z) => {
  if (response.status < 400) {
    return response;
  }
  let message = `The TikTok connector answered ${response.status}.`;
  let code = 'connector_error';
  try {
    const body = JSON.parse(response.content);
    message = body.error || message;
    code = body.code || code;
  } catch (e) {
    // not JSON: keep the generic message
  }
  if (response.status === 429) {
    throw new z.errors.ThrottledError(message, Number(response.getHeader('retry-after')) || 60);
  }
  throw new z.errors.Error(message, code, response.status);
};

// JSON cannot carry functions: app.json writes them as {"source": "..."}; compile them the
// way Zapier does, so that tools given this module (zapier test, createAppTester) get functions.
const compileSources = (node) => {
  if (Array.isArray(node)) {
    return node.map(compileSources);
  }
  if (node && typeof node === 'object') {
    if (typeof node.source === 'string' && Object.keys(node).length === 1) {
      return new Function('z', 'bundle', node.source); // eslint-disable-line no-new-func
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, compileSources(v)]));
  }
  return node;
};

module.exports = { ...compileSources(app), afterResponse: [surfaceErrors] };
"""


def package_json(manifest: Manifest) -> dict[str, t.Any]:
    return {
        "name": f"{manifest['name']}-zapier",
        "version": manifest["version"],
        "description": manifest["description"],
        "main": "index.js",
        "private": True,
        "engines": {"node": ">=18"},
        "dependencies": {"zapier-platform-core": PLATFORM_VERSION},
        "devDependencies": {"zapier-platform-schema": PLATFORM_VERSION},
    }


def render(manifest: Manifest) -> dict[str, str]:
    return {
        "app.json": dumps(app_definition(manifest)),
        "index.js": INDEX_JS,
        "package.json": dumps(package_json(manifest)),
    }

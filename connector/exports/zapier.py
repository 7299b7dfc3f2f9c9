"""The Zapier CLI app: ``zapier_schema/`` (app.json, index.js, package.json).

app.json is the whole app definition as JSON (functions as ``{"source": ...}``, which
zapier-platform-core compiles itself); index.js adds what JSON cannot carry: the connector's
URL taken from the connection or the environment, and a response middleware that turns the
connector's ``{"error", "code"}`` answers into Zapier errors with a readable message.
``zapier push`` from the folder deploys it.

The actions are Zapier searches ("Find Video", "Find Profile"): lookups that answer an
array, empty when nothing is found, so that a missing video does not stop a zap. The
``creates`` stay, hidden, so that zaps built on them keep running.
"""

from __future__ import annotations

import json
import typing as t

from .manifest import Manifest, dumps

PLATFORM_VERSION = "19.1.0"
# The connection's Connector URL; index.js falls back on process.env.CONNECTOR_BASE_URL.
BASE = "{{bundle.authData.base_url}}"

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


def _request(method: str, path: str, body: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    """A call to the connector at ``path`` (on the connection's Connector URL)."""
    return {"url": f"{BASE}{path}", "method": method, **({} if body is None else {"body": body})}


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
            "perform": _request(
                operation["method"],
                operation["path"],
                {
                    **_body(operation),
                    # Each zap is its own feed (its id arrives as a number, "" in the
                    # editor); the test step asks for a sample (a boolean). Zapier drops
                    # ids a zap has seen, so recent videos come again: an answer lost to
                    # Zapier's 30 s limit is recovered by the next poll.
                    "consumer": "{{bundle.meta.zap.id}}",
                    "sample": "{{bundle.meta.isLoadingSample}}",
                    "include_recent": True,
                },
            ),
            **_common(operation),
        },
    }


def _hook_trigger(operation: dict[str, t.Any]) -> dict[str, t.Any]:
    unsubscribe = operation["unsubscribe"]
    return {
        "key": operation["key"],
        "noun": operation["noun"],
        "display": _display(operation),
        "operation": {
            "type": "hook",
            "performSubscribe": _request(
                **operation["subscribe"],
                body={
                    **_body(operation),
                    "target_url": "{{bundle.targetUrl}}",
                    "event": "new_video",
                    "consumer": "{{bundle.meta.zap.id}}",
                },
            ),
            "performUnsubscribe": _request(
                unsubscribe["method"],
                unsubscribe["path"].replace("{id}", "{{bundle.subscribeData.id}}"),
            ),
            "perform": {"source": "return [bundle.cleanedRequest];"},
            "performList": _request(**operation["list"], body=_body(operation)),
            **_common(operation),
        },
    }


def _create(operation: dict[str, t.Any]) -> dict[str, t.Any]:
    """The action as a create, hidden: kept for zaps made before the searches existed."""
    return {
        "key": operation["key"],
        "noun": operation["noun"],
        "display": {**_display(operation), "hidden": True},
        "operation": {
            "perform": _request(operation["method"], operation["path"], _body(operation)),
            **_common(operation),
        },
    }


_SEARCH_SOURCE = """\
const response = await z.request({
  url: %(url)s,
  method: %(method)s,
  body: %(body)s,
  skipThrowForStatus: true,
});
if (response.status === 404) {
  return [];
}
response.throwForStatus();
return [response.data];"""


def search_key(operation: dict[str, t.Any]) -> str:
    """get_video -> find_video: Zapier calls lookups searches, named find_*."""
    return "find_" + operation["key"].removeprefix("get_")


def _search(operation: dict[str, t.Any]) -> dict[str, t.Any]:
    """A lookup as a Zapier search: an array of one, or empty when upstream has none."""
    key = search_key(operation)
    label = "Find " + operation["noun"]
    inputs = ", ".join(
        f"{f['key']}: bundle.inputData.{f['key']}" for f in operation["input_fields"]
    )
    source = _SEARCH_SOURCE % {
        # Code may not use {{curlies}}: the same URL as a template literal.
        "url": f"`${{bundle.authData.base_url || ''}}{operation['path']}`",
        "method": json.dumps(operation["method"]),
        "body": f"{{ {inputs} }}",
    }
    return {
        "key": key,
        "noun": operation["noun"],
        "display": {
            "label": label,
            "description": operation["description"].replace("Gets", "Finds", 1),
        },
        "operation": {"perform": {"source": source}, **_common(operation)},
    }


def _authentication(manifest: Manifest) -> dict[str, t.Any]:
    """The connection: the Connector URL (optional, see index.js) and the key."""
    auth = manifest["authentication"]
    base_url = manifest["base_url"]
    return {
        "type": "custom",
        "fields": [
            {
                "key": base_url["key"],
                "label": base_url["label"],
                "required": False,
                "type": "string",
                "helpText": f"{base_url['help_text']} Leave it empty to use this app's "
                f"{base_url['env']} environment variable.",
            },
            *(_input_field(f) for f in auth["fields"]),
        ],
        "test": _request(**auth["test"]),
        "connectionLabel": auth["connection_label"].replace("{{", "{{bundle.inputData."),
    }


def app_definition(manifest: Manifest) -> dict[str, t.Any]:
    auth = manifest["authentication"]
    source = manifest["request_sources"]["zapier"]
    return {
        "version": manifest["version"],
        "platformVersion": PLATFORM_VERSION,
        "flags": {
            # The connector's 429 carries its own message and Retry-After: let the app's
            # middleware turn it into a ThrottledError that says when Zapier retries.
            "throwForThrottlingEarly": False
        },
        "authentication": _authentication(manifest),
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
        "searches": {search_key(op): _search(op) for op in manifest["actions"]},
        "creates": {op["key"]: _create(op) for op in manifest["actions"]},
        "resources": {},
    }


INDEX_JS = """\
// Generated by `connector export zapier`; edit manifest.json instead.
'use strict';

const app = require('./app.json');

// Requests name the connection's Connector URL; an empty one falls back on the environment.
const connectorUrl = (request, z) => {
  if (request.url.startsWith('/')) {
    const base = (process.env.CONNECTOR_BASE_URL || '').replace(/\\/+$/, '');
    if (!base) {
      throw new z.errors.Error(
        'Set the Connector URL in this connection (or CONNECTOR_BASE_URL in the app).',
        'missing_connector_url',
        400,
      );
    }
    request.url = base + request.url;
  }
  request.url = request.url.replace(/([^:/])\\/{2,}/g, '$1/'); // a base URL's trailing '/'
  return request;
};

// The connector answers errors as {"error": "<message>", "code": "<code>"}: show the message.
const surfaceErrors = (response, z) => {
  if (response.status < 400 || response.skipThrowForStatus) {
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
    // Reached because app.json sets flags.throwForThrottlingEarly to false.
    const delay = Number(response.getHeader('retry-after')) || 60;
    throw new z.errors.ThrottledError(`${message} Zapier retries in ${delay} seconds.`, delay);
  }
  throw new z.errors.Error(message, code, response.status);
};

// JSON cannot carry functions: app.json writes them as {"source": "..."}. Compile them the
// way zapier-platform-core does (async functions of z and bundle), so that tools handed
// this module's operations directly get functions too.
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const compileSources = (node) => {
  if (Array.isArray(node)) {
    return node.map(compileSources);
  }
  if (node && typeof node === 'object') {
    if (typeof node.source === 'string' && Object.keys(node).length === 1) {
      return new AsyncFunction('z', 'bundle', node.source);
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, compileSources(v)]));
  }
  return node;
};

module.exports = {
  ...compileSources(app),
  beforeRequest: [connectorUrl],
  afterResponse: [surfaceErrors],
};
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

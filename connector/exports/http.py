"""Ready-to-paste settings for each platform's generic HTTP module (``http_settings/``).

The path most users take first, since it needs no custom app: Zapier's "Webhooks by
Zapier" (Retrieve Poll for the new-video trigger, Custom Request for the actions, Catch
Hook for the instant trigger), Make's HTTP "Make a request" (and an importable scenario
blueprint), and n8n's HTTP Request node.

Where each platform keeps the key: Make's keychain (the HTTP module's "API key"
authentication) and n8n's Header Auth credential; Webhooks by Zapier has no credential store,
so there the key is a header of the step. Where repeats are dropped: Zapier's Retrieve Poll
drops ids it has seen (Deduplication Key), so its URL asks for ``include_recent``; Make's
HTTP module and n8n's HTTP Request node drop nothing, so they must not.
"""

from __future__ import annotations

import json
import typing as t

from .manifest import Manifest, dumps, find_trigger, operations

KEY_PLACEHOLDER = "YOUR_API_KEY"
N8N_CREDENTIAL = "httpHeaderAuth"

Settings = dict[str, t.Any]


def settings(manifest: Manifest) -> dict[str, dict[str, Settings]]:
    """Every operation's settings for every platform's generic HTTP module."""
    builders = {
        "polling": {"zapier": _zapier_poll, "make": _make_poll, "n8n": _n8n_request},
        "webhook": {p: _subscribe_once for p in ("zapier", "make", "n8n")},
        "action": {"zapier": _zapier_request, "make": _make_request, "n8n": _n8n_request},
    }
    out: dict[str, dict[str, Settings]] = {"zapier": {}, "make": {}, "n8n": {}}
    for op in operations(manifest):
        for platform, build in builders[op.get("type", "action")].items():
            out[platform][op["key"]] = build(manifest, op, platform)
    return out


# --- shared pieces ---------------------------------------------------------------------------


def _url(manifest: Manifest, op: dict[str, t.Any], path: str | None = None) -> str:
    return f"{manifest['base_url']['example']}{path or op['path']}"


def example_body(op: dict[str, t.Any]) -> dict[str, t.Any]:
    """The inputs that have an example, filled in with it (the schemas give the examples)."""
    return {f["key"]: f["example"] for f in op["input_fields"] if "example" in f}


def _key_header(manifest: Manifest) -> dict[str, str]:
    auth = manifest["authentication"]
    return {"name": auth["header"], "value": f"{auth['scheme']} {KEY_PLACEHOLDER}"}


def _headers(
    manifest: Manifest, platform: str, *, key: bool, json_body: bool
) -> list[dict[str, str]]:
    """The headers typed into the module: the key only where no credential store holds it."""
    headers = [_key_header(manifest)] if key else []
    headers.append({"name": "X-Request-Source", "value": manifest["request_sources"][platform]})
    if json_body:
        headers.append({"name": "Content-Type", "value": "application/json"})
    return headers


def _subscribe_once(manifest: Manifest, op: dict[str, t.Any], platform: str) -> Settings:
    """The instant trigger: the platform's own webhook, subscribed once with one request."""
    modules = {
        "zapier": "Webhooks by Zapier: Catch Hook",
        "make": "Webhooks: Custom webhook",
        "n8n": "Webhook node (POST)",
    }
    return {
        "module": modules[platform],
        "subscribe_once": {
            "method": op["subscribe"]["method"],
            "url": _url(manifest, op, op["subscribe"]["path"]),
            "headers": _headers(manifest, platform, key=True, json_body=True),
            "body": {
                "target_url": "<the hook URL the platform gives you>",
                **example_body(op),
                "event": "new_video",
            },
        },
    }


# --- Zapier: Webhooks by Zapier ----------------------------------------------------------------

_ZAPIER_KEY = (
    "Webhooks by Zapier has no credential store: the key is a header of this step (anyone who "
    "can edit the zap can read it)."
)


def _zapier_poll(manifest: Manifest, op: dict[str, t.Any], platform: str) -> Settings:
    """Retrieve Poll. Zapier drops ids it has seen (the Deduplication Key), so the URL asks
    for ``include_recent``: an answer lost on its way to Zapier comes again, the rest is
    dropped by Zapier."""
    query = "&".join(f"{k}={v}" for k, v in example_body(op).items())
    return {
        "module": "Webhooks by Zapier: Retrieve Poll",
        "url": f"{_url(manifest, op)}?{query}&consumer=<a name for this zap>&include_recent=true",
        "setup_test_url": f"{_url(manifest, op)}?{query}&sample=true",
        "key": "",
        "deduplication_key": op["dedup_key"],
        "headers": _headers(manifest, platform, key=True, json_body=False),
        "credentials": _ZAPIER_KEY,
    }


def _zapier_request(manifest: Manifest, op: dict[str, t.Any], platform: str) -> Settings:
    return {
        "module": "Webhooks by Zapier: Custom Request",
        "method": op["method"],
        "url": _url(manifest, op),
        "data": json.dumps(example_body(op)),
        "headers": _headers(manifest, platform, key=True, json_body=True),
        "credentials": _ZAPIER_KEY,
    }


# --- Make: HTTP "Make a request" ----------------------------------------------------------------


def _make_keychain(manifest: Manifest) -> Settings:
    """Make's HTTP module keeps the key in Make's keychain: authentication type "API key"."""
    key = _key_header(manifest)
    return {
        "authentication_type": "API key",
        "key": key["value"],
        "api_key_placement": "In the header",
        "api_key_parameter_name": key["name"],
    }


def _make_request(manifest: Manifest, op: dict[str, t.Any], platform: str) -> Settings:
    return {
        "module": "HTTP: Make a request",
        "credentials": _make_keychain(manifest),
        "url": _url(manifest, op),
        "method": op["method"],
        "headers": _headers(manifest, platform, key=False, json_body=False),
        "body_content_type": "JSON (application/json)",
        "body_input_method": "JSON string",
        "body": json.dumps(example_body(op)),
        "parse_response": True,
    }


def _make_poll(manifest: Manifest, op: dict[str, t.Any], platform: str) -> Settings:
    """The new-video poll for Make's HTTP module: nothing drops repeats after it, so no
    ``include_recent`` (each video comes once). ``{{var.scenario.id}}`` names the feed."""
    setup = {**example_body(op), "sample": True}
    return {
        **_make_request(manifest, op, platform),
        "body": json.dumps({**example_body(op), "consumer": "{{var.scenario.id}}"}),
        "setup_test_body": json.dumps(setup),
    }


def make_blueprint(manifest: Manifest) -> dict[str, t.Any]:
    """A Make scenario (HTTP request, then one bundle per new video) Make can import. Its
    request names no key: Make asks for the keychain entry when the scenario is opened."""
    trigger = find_trigger(manifest, "polling")
    request = settings(manifest)["make"][trigger["key"]]
    return {
        "name": f"{manifest['label']}: {trigger['label']}",
        "flow": [
            {
                "id": 1,
                "module": "http:MakeRequest",
                "version": 4,
                "parameters": {"authenticationType": "apiKey", "tlsType": ""},
                "mapper": {
                    "url": request["url"],
                    "method": request["method"].lower(),
                    "headers": request["headers"],
                    "queryParameters": [],
                    "contentType": "json",
                    "inputMethod": "jsonString",
                    "jsonStringBodyContent": request["body"],
                    "parseResponse": True,
                    "stopOnHttpError": True,
                    "allowRedirects": True,
                    "shareCookies": False,
                    "requestCompressedContent": True,
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


# --- n8n: HTTP Request node ---------------------------------------------------------------------


def _n8n_credential(manifest: Manifest) -> Settings:
    """n8n keeps the key in a Header Auth credential, which the node selects."""
    key = _key_header(manifest)
    return {"type": "Header Auth", "name": key["name"], "value": key["value"]}


def n8n_request_node(manifest: Manifest, op: dict[str, t.Any]) -> Settings:
    """n8n's HTTP Request node calling the connector; the key is in the Header Auth credential
    it selects, never in the node itself.

    For the new-video poll, the workflow id names the feed, and a manual run ("Test step",
    ``$execution.mode`` is "test") asks for a sample, so setting up gives fields to map and
    changes nothing. The node drops no repeats: no ``include_recent``."""
    fields = _js_fields(example_body(op))
    if op.get("type") == "polling":
        fields += ["consumer: $workflow.id", "sample: $execution.mode === 'test'"]
    return {
        "parameters": {
            "method": op["method"],
            "url": _url(manifest, op),
            "authentication": "genericCredentialType",
            "genericAuthType": N8N_CREDENTIAL,
            "sendHeaders": True,
            "headerParameters": {
                "parameters": _headers(manifest, "n8n", key=False, json_body=False)
            },
            "sendBody": True,
            "specifyBody": "json",
            "jsonBody": f"={{{{ JSON.stringify({{ {', '.join(fields)} }}) }}}}",
            "options": {},
        },
        "name": op["label"],
        "type": "n8n-nodes-base.httpRequest",
        "typeVersion": 4.2,
        "position": [0, 0],
    }


def _js_fields(values: dict[str, t.Any]) -> list[str]:
    return [f"{k}: {json.dumps(v)}" for k, v in values.items()]


def _n8n_request(manifest: Manifest, op: dict[str, t.Any], platform: str) -> Settings:
    return {
        "module": "HTTP Request",
        "credentials": _n8n_credential(manifest),
        "node": n8n_request_node(manifest, op),
    }


# --- the README ---------------------------------------------------------------------------------


def _code(text: str) -> str:
    return f"`{text}`"


def _header_cell(items: list[dict[str, str]]) -> str:
    return "<br>".join(_code(f"{h['name']}: {h['value']}") for h in items)


Row = tuple[str, str, str, str]


def _row(platform: str, item: Settings) -> Row:
    """(request, where the key is, headers, body and settings) of one table row."""
    if "subscribe_once" in item:
        return _subscribe_row(item["subscribe_once"])
    rows = {"zapier": _zapier_row, "make": _make_row, "n8n": _n8n_row}
    return rows[platform](item)


def _subscribe_row(request: Settings) -> Row:
    return (
        f"{_code(request['method'] + ' ' + request['url'])} once, to subscribe",
        "header",
        _header_cell(request["headers"]),
        _code(json.dumps(request["body"])),
    )


def _zapier_row(item: Settings) -> Row:
    if "deduplication_key" in item:
        return (
            _code(f"GET {item['url']}"),
            "header",
            _header_cell(item["headers"]),
            f"Deduplication Key {_code(item['deduplication_key'])}; Key empty; "
            f"test with {_code(item['setup_test_url'])}",
        )
    return (
        _code(f"{item['method']} {item['url']}"),
        "header",
        _header_cell(item["headers"]),
        f"Raw JSON {_code(item['data'])}",
    )


def _make_row(item: Settings) -> Row:
    keychain = item["credentials"]
    api_key = _code(f"{keychain['api_key_parameter_name']}: {keychain['key']}")
    setup = item.get("setup_test_body")
    return (
        _code(f"{item['method']} {item['url']}"),
        f"keychain, API key {api_key} in the header",
        _header_cell(item["headers"]),
        f"JSON string {_code(item['body'])}; parse response"
        + (f"; first Run once with {_code(setup)}" if setup else ""),
    )


def _n8n_row(item: Settings) -> Row:
    params, credential = item["node"]["parameters"], item["credentials"]
    return (
        _code(f"{params['method']} {params['url']}"),
        f"Header Auth credential {_code(credential['name'] + ': ' + credential['value'])}",
        _header_cell(params["headerParameters"]["parameters"]),
        f"JSON {_code(params['jsonBody'])}",
    )


_NOTES = """\
**The key.** Make: choose authentication type *API key* and add a keychain entry (key
`{key}`, placement *In the header*, parameter name `{header}`); the key then lives in Make's
keychain, not in the scenario. n8n: the node uses a *Header Auth* credential (name `{header}`,
value `{key}`). Webhooks by Zapier has no credential store: the key is a header of the step.

**The first test gives fields to map.** A feed's first poll only records what is there and
answers `[]`, which leaves nothing to map. So the first test asks for a sample instead (the
latest few videos; nothing recorded): Zapier, test the trigger with the *test* URL above, then
put the real URL in before you turn the zap on; Make, do the first *Run once* with the body
`{make_setup}`, map the fields, then put the real body back (with `sample` left in, every run
would hand on the same videos again); n8n does it by itself: a manual run
(`$execution.mode` is `test`) asks for a sample, the workflow's scheduled runs poll.

**What drops repeats.** Each poll returns only videos never returned to that feed (zap,
scenario or workflow) before. An answer lost on its way can be asked for again with
`include_recent=true`, which also repeats the videos of the last hour: only for a caller that
drops ids it has already seen. Zapier's Retrieve Poll does (Deduplication Key `id`), so its URL
asks for them. Make's HTTP module and n8n's HTTP Request node drop nothing, so they do not ask
(each video then comes once; a lost answer is not sent again). In n8n, followed by *Remove
Duplicates* (items seen in previous executions, on `id`), the node may ask too.

Make: `http_settings/make-scenario-blueprint.json` imports as a scenario (the request, then one
bundle per new video); pick the keychain entry in the HTTP module, then give it a schedule.
n8n: each `node` object in `http_settings/settings.json` pastes onto the canvas; select the
Header Auth credential in it.
"""


def markdown(manifest: Manifest) -> str:
    """The settings as a person reads them (also shown in the project README)."""
    all_settings = settings(manifest)
    labels = {op["key"]: op["label"] for op in operations(manifest)}
    key = _key_header(manifest)
    polling = find_trigger(manifest, "polling")["key"]
    lines = [
        f"Replace `{KEY_PLACEHOLDER}` with your key and `{manifest['base_url']['example']}` "
        "with your connector's URL.",
        "",
        "| Platform module | Operation | Request | Key | Headers | Body and settings |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for platform in ("zapier", "make", "n8n"):
        for op_key, item in all_settings[platform].items():
            cells = " | ".join(_row(platform, item))
            lines.append(f"| {item['module']} | {labels[op_key]} | {cells} |")
    notes = _NOTES.format(
        key=key["value"],
        header=key["name"],
        make_setup=all_settings["make"][polling]["setup_test_body"],
    )
    return "\n".join([*lines, "", notes])


def render(manifest: Manifest) -> dict[str, str]:
    return {
        "settings.json": dumps(settings(manifest)),
        "make-scenario-blueprint.json": dumps(make_blueprint(manifest)),
        "README.md": "# Generic HTTP module settings\n\n" + markdown(manifest),
    }

"""The Make custom app, in the layout of Make's Apps SDK (``make_app/``).

``makecomapp.json`` lists the components; each component's code lives in
``<kind>s/<id>/<id>.<code>.iml.json``. One function renders each component: the base (key,
``X-Request-Source: MAKE_DOT_COM``, Make error types), the connection, the polling trigger
(with its epoch), the instant trigger and its webhook, and the actions.

Labels and descriptions follow Make's naming conventions
(https://docs.make.com/apps/best-practices/names-labels-and-descriptions): "Watch New
Videos", "Get a Video"; descriptions start with what the module achieves.
"""

from __future__ import annotations

import typing as t

from .manifest import Manifest, dumps

CONNECTION = "tiktok"

#: The polling trigger's "Limit": videos one scenario run processes at most. The connector
#: gets the same limit, so Make never receives more than it processes (what it received but
#: skipped would be recorded as delivered). Ten leaves room for recovered answers.
DEFAULT_LIMIT = 10
MAX_LIMIT = 100

#: Videos the epoch panel ("Choose where to start") may list.
EPOCH_LIMIT = 100

_PARAM_TYPES = {
    "string": "text",
    "password": "password",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "datetime": "date",
}
_INTERFACE_TYPES = {
    "string": "text",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "datetime": "date",
}

#: The connector's error statuses, as Make error types (enum ``error-type`` of the Apps SDK's
#: schemas; what each does: https://help.make.com/types-of-errors). A refused key is
#: InvalidAccessTokenError (Make asks for a working connection); 402 is RuntimeError, since
#: the key works and only the upstream account needs credits; 429 is RateLimitError and
#: 5xx ConnectionError, which Make may retry as incomplete executions.
_ERROR_TYPES = {
    400: "DataError",
    401: "InvalidAccessTokenError",
    402: "RuntimeError",
    404: "DataError",
    429: "RateLimitError",
    502: "ConnectionError",
    503: "ConnectionError",
    504: "ConnectionError",
}


class Component(t.NamedTuple):
    """One entry of makecomapp.json: its kind and id, the fields Make lists besides the code
    files (label, moduleType, ...), and the content of each code file."""

    kind: str
    key: str
    metadata: dict[str, t.Any]
    codes: dict[str, t.Any]


def render(manifest: Manifest) -> dict[str, str]:
    components = [
        _connection(manifest),
        *_triggers(manifest),
        *(_action(action) for action in manifest["actions"]),
    ]
    files = {
        "general/base.iml.json": dumps(_base(manifest)),
        "general/groups.json": dumps(_groups(manifest)),
        "README.md": _readme(manifest),
    }
    listed: dict[str, dict[str, t.Any]] = {
        kind: {} for kind in ("connection", "webhook", "module", "rpc", "function", "endpoint")
    }
    for component in components:
        paths = _code_paths(component)
        files.update({paths[code]: dumps(content) for code, content in component.codes.items()})
        listed[component.kind][component.key] = {**component.metadata, "codeFiles": paths}
    files["makecomapp.json"] = dumps(_makecomapp(manifest, listed))
    return files


def _code_paths(component: Component) -> dict[str, str]:
    names = {"staticParams": "static-params", "mappableParams": "mappable-params"}
    folder = f"{component.kind}s/{component.key}/{component.key}"
    return {code: f"{folder}.{names.get(code, code)}.iml.json" for code in component.codes}


# --- general files -------------------------------------------------------------------------


def _base(manifest: Manifest) -> dict[str, t.Any]:
    """Inherited by modules (not by the connection or webhooks, which repeat what they need)."""
    return {
        "baseUrl": "{{connection.baseUrl}}",
        "headers": _headers(manifest, "connection"),
        "response": {"error": _errors()},
        "log": {"sanitize": ["request.headers.authorization"]},
    }


def _headers(manifest: Manifest, holder: str) -> dict[str, str]:
    """The key (from the connection, which Make keeps in its keychain) and the platform."""
    auth = manifest["authentication"]
    return {
        auth["header"]: f"{auth['scheme']} {{{{{holder}.apiKey}}}}",
        "X-Request-Source": manifest["request_sources"]["make"],
    }


def _errors() -> dict[str, t.Any]:
    """The connector's own message (it says what failed and what to do) with Make's type."""
    message = "[{{statusCode}}] {{ifempty(body.error, 'The TikTok connector gave no reason.')}}"
    # Make's schema wants a message in each status entry, not only the type.
    by_status = {str(s): {"message": message, "type": kind} for s, kind in _ERROR_TYPES.items()}
    return {"message": message, "type": "RuntimeError", **by_status}


def _groups(manifest: Manifest) -> list[dict[str, t.Any]]:
    return [
        {"label": "Triggers", "modules": [op["key"] for op in manifest["triggers"]]},
        {"label": "Actions", "modules": [op["key"] for op in manifest["actions"]]},
    ]


def _readme(manifest: Manifest) -> str:
    return (
        f"# {manifest['label']} for Make\n\n{manifest['description']}\n\n"
        "Generated by `connector export make` from the connector's manifest.json; "
        "deploy it with Make's Apps SDK (VS Code extension).\n"
    )


def _makecomapp(manifest: Manifest, listed: dict[str, dict[str, t.Any]]) -> dict[str, t.Any]:
    return {
        "fileVersion": 1,
        "generalCodeFiles": {
            "base": "general/base.iml.json",
            "common": None,
            "groups": "general/groups.json",
            "readme": "README.md",
        },
        "components": listed,
        "origins": [
            {
                "label": "Make (eu1)",
                "baseUrl": "https://eu1.make.com/api",
                "appId": manifest["name"],
                "appVersion": 1,
                "apikeyFile": ".secrets/apikey",
            }
        ],
    }


# --- connection ----------------------------------------------------------------------------


def _connection(manifest: Manifest) -> Component:
    auth = manifest["authentication"]
    base_url = manifest["base_url"]
    key_field = auth["fields"][0]
    communication = {
        "url": f"{{{{parameters.baseUrl}}}}{auth['test']['path']}",
        "method": auth["test"]["method"],
        "headers": _headers(manifest, "parameters"),
        "response": {
            "metadata": {"type": "text", "value": "{{body.provider}} key {{body.tenant}}"},
            "error": _errors(),
        },
        "log": {"sanitize": ["request.headers.authorization"]},
    }
    params = [
        {
            "name": "baseUrl",
            "type": "url",
            "label": base_url["label"],
            "required": True,
            "help": base_url["help_text"],
        },
        {
            "name": "apiKey",
            "type": "password",
            "label": key_field["label"],
            "required": True,
            "help": key_field["help_text"],
        },
    ]
    return Component(
        "connection",
        CONNECTION,
        {"label": manifest["label"], "connectionType": "basic"},
        {"communication": communication, "params": params},
    )


# --- modules -------------------------------------------------------------------------------


def _triggers(manifest: Manifest) -> list[Component]:
    components: list[Component] = []
    for trigger in manifest["triggers"]:
        if trigger["type"] == "polling":
            components.append(_polling_trigger(trigger))
        else:
            components += [_webhook(manifest, trigger), _instant_trigger(trigger)]
    return components


def _watch_label(operation: dict[str, t.Any]) -> str:
    return f"Watch New {operation['noun']}s"


def _polling_trigger(trigger: dict[str, t.Any]) -> Component:
    """The watch module: Make keeps the date (and same-second ids) of the last video it
    processed and drops anything not newer; the connector keeps its own feed per scenario."""
    description = (
        f"{trigger['description']} Checks on the scenario's schedule and returns each new "
        "video once, oldest first; Limit caps the videos per run."
    )
    return _module(
        trigger,
        {
            "communication": _watch_request(trigger),
            "epoch": _epoch(trigger),
            "staticParams": [*(_param(f) for f in trigger["input_fields"]), _limit_param()],
            "mappableParams": [],
        },
        label=_watch_label(trigger),
        description=description,
        moduleType="trigger",
        connection=CONNECTION,
    )


def _watch_request(trigger: dict[str, t.Any]) -> dict[str, t.Any]:
    """The poll, as Make's runtime sends it on each scheduled run.

    - ``consumer`` is ``{{scenario.id}}``: a number at run time (IML keeps a whole-string
      expression's type), which the connector takes as the feed's name.
    - ``include_recent``: the answer also repeats what this feed received lately, so an answer
      lost on its way to Make comes again; Make's own date/id state hides what it processed.
    - ``limit``: the module's Limit, given to the connector too, so Make is never sent more
      than it processes; the rest comes, oldest first, on the next runs.
    - ``since``: where "Choose where to start" put Make's state (``data.lastDate``). It only
      matters on the feed's first poll: "From now on" and "Since specific date" start there,
      "Choose manually" at the chosen video (itself included; Make decides whether it counts),
      and "All" has no date, so ``0`` (everything the connector can read).
    """
    body = {
        **_body(trigger),
        "consumer": "{{scenario.id}}",
        "limit": "{{parameters.limit}}",
        "include_recent": True,
        "since": "{{ifempty(data.lastDate, 0)}}",
    }
    return {
        "url": trigger["path"],
        "method": trigger["method"],
        "body": body,
        "response": {
            "iterate": "{{body}}",
            "output": "{{item}}",
            "limit": "{{parameters.limit}}",
            "trigger": {
                "type": "date",
                "order": "desc",
                "id": "{{item.id}}",
                "date": "{{item.created_at}}",
            },
        },
    }


def _epoch(trigger: dict[str, t.Any]) -> dict[str, t.Any]:
    """The "Choose where to start" list: the latest videos, as a sample, which changes no state.
    Make merges these overrides into the poll request."""
    return {
        "body": {**_body(trigger), "sample": True, "limit": EPOCH_LIMIT},
        "response": {
            "limit": EPOCH_LIMIT,
            "iterate": "{{body}}",
            "output": {
                "label": "{{ifempty(item.description, item.url)}}",
                "date": "{{item.created_at}}",
            },
        },
    }


def _limit_param() -> dict[str, t.Any]:
    """Limit, as Make's own watch modules word it."""
    return {
        "name": "limit",
        "type": "uinteger",
        "label": "Limit",
        "required": True,
        "default": DEFAULT_LIMIT,
        "validate": {"min": 1, "max": MAX_LIMIT},
        "help": "The maximum number of videos to be worked with during one execution cycle.",
    }


def _webhook(manifest: Manifest, trigger: dict[str, t.Any]) -> Component:
    """The dedicated webhook behind the instant trigger: attach subscribes ``{{webhook.url}}``
    with ``{{webhook.id}}`` (a number) as consumer; detach unsubscribes. Webhooks do not
    inherit the base, so both name the connector URL and send the connection's key."""
    subscribe, unsubscribe = trigger["subscribe"], trigger["unsubscribe"]
    request = {
        "headers": _headers(manifest, "connection"),
        "log": {"sanitize": ["request.headers.authorization"]},
    }
    attach = {
        "url": f"{{{{connection.baseUrl}}}}{subscribe['path']}",
        "method": subscribe["method"],
        **request,
        "body": {
            **_body(trigger),
            "target_url": "{{webhook.url}}",
            "event": "new_video",
            "consumer": "{{webhook.id}}",
        },
        "response": {"data": {"externalHookId": "{{body.id}}"}, "error": _errors()},
    }
    detach_path = unsubscribe["path"].replace("{id}", "{{webhook.externalHookId}}")
    detach = {
        "url": f"{{{{connection.baseUrl}}}}{detach_path}",
        "method": unsubscribe["method"],
        **request,
        "response": {"error": _errors()},
    }
    return Component(
        "webhook",
        trigger["key"],
        {
            "label": f"{manifest['label']} new videos",
            "webhookType": "web",
            "connection": CONNECTION,
        },
        {
            "communication": {"output": "{{body}}"},
            "params": [_param(f) for f in trigger["input_fields"]],
            "attach": attach,
            "detach": detach,
        },
    )


def _instant_trigger(trigger: dict[str, t.Any]) -> Component:
    description = (
        f"{trigger['description']} The connector checks the account about every minute and "
        "sends each new video to Make at once; it must be run with CONNECTOR_SECRET_KEY set."
    )
    return _module(
        trigger,
        {"staticParams": [], "mappableParams": []},
        label=f"{_watch_label(trigger)} (Instant)",
        description=description,
        moduleType="instant_trigger",
        webhook=trigger["key"],
    )


def _action(action: dict[str, t.Any]) -> Component:
    verb, rest = action["label"].split(" ", 1)
    description = action["description"].replace("Gets ", "Retrieves ", 1)
    return _module(
        action,
        {
            "communication": {
                "url": action["path"],
                "method": action["method"],
                "body": _body(action),
                "response": {"output": "{{body}}"},
            },
            "staticParams": [],
            "mappableParams": [_param(f) for f in action["input_fields"]],
        },
        label=f"{verb} a {rest}",
        description=description,
        moduleType="action",
        actionCrud="read",
        connection=CONNECTION,
    )


def _module(
    operation: dict[str, t.Any],
    codes: dict[str, t.Any],
    *,
    label: str,
    description: str,
    **metadata: t.Any,
) -> Component:
    """A module with its output interface and sample, listed with ``metadata``
    (moduleType, connection, ...)."""
    return Component(
        "module",
        operation["key"],
        {"label": label, "description": description, **metadata},
        {
            **codes,
            "interface": _interface(operation["output_fields"]),
            "samples": operation["sample"],
        },
    )


def _param(field: dict[str, t.Any]) -> dict[str, t.Any]:
    param: dict[str, t.Any] = {
        "name": field["key"],
        "type": _PARAM_TYPES.get(field["type"], "text"),
        "label": field["label"],
        "required": field["required"],
        "help": field["help_text"],
    }
    if field.get("choices"):
        param["type"] = "select"
        param["options"] = [{"value": c["value"], "label": c["label"]} for c in field["choices"]]
    return param


def _interface(fields: list[dict[str, str]]) -> list[dict[str, t.Any]]:
    described = []
    for field in fields:
        item: dict[str, t.Any] = {"name": field["key"], "label": field["label"]}
        if field["type"] == "array":
            item.update(type="array", spec={"type": "text"})
        else:
            item["type"] = _INTERFACE_TYPES[field["type"]]
        described.append(item)
    return described


def _body(operation: dict[str, t.Any]) -> dict[str, str]:
    return {f["key"]: f"{{{{parameters.{f['key']}}}}}" for f in operation["input_fields"]}

"""The HTTP API: blueprints, the one error payload, request logging."""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import typing as t
import uuid

from flask import Flask, current_app, g, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from .. import __version__, logs
from ..errors import ConnectorError, RequestTooLarge
from ..schemas import ErrorSchema
from ..schemas.fields import Count
from .caller import current_caller, runtime
from .docs import SECURITY, PlatformHeadersPlugin

if t.TYPE_CHECKING:
    from flask import Response

    from ..runtime import Runtime

log = logging.getLogger("connector.api")

# An X-Request-Id taken from the caller: what request-id schemes use (UUIDs, AWS trace ids,
# base64), short enough for a log line; anything else is replaced by one of ours.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=/+@-]{1,128}")


class ConnectorApi(Api):
    """flask-smorest's Api, answering every error as ``{"error", "code", "details"?}``."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> tuple[dict[str, t.Any], int, t.Any]:
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        payload: dict[str, t.Any] = {"error": error.description or error.name, "code": _code(error)}
        messages = data.get("messages")
        if messages is not None:
            # webargs nests field errors under the location ("json", "query", ...).
            details = _unnest(messages)
            payload = {
                "error": "Invalid input: " + _summarize(details),
                "code": "invalid_input",
                "details": details,
            }
        if status == 413:
            # Read in chunks (no Content-Length) past MAX_CONTENT_LENGTH.
            payload = {"error": _too_large(None), "code": RequestTooLarge.code}
        if status >= 500:
            payload = {"error": "Internal error; it has been logged.", "code": "internal_error"}
        # Keep what the exception says beyond the body, e.g. Allow on a 405.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return payload, status, headers


class SubscriptionIdConverter(BaseConverter):
    """Subscription ids as the connector makes them, so /v1/hooks/<id> never shadows a
    sibling route such as /v1/hooks/dead-letters."""

    regex = r"sub_[0-9a-f]{24}"


def handle_connector_error(error: ConnectorError) -> Response:
    payload: dict[str, t.Any] = {"error": error.message, "code": error.code}
    if error.details is not None:
        payload["details"] = error.details
    response = jsonify(payload)
    response.status_code = error.status_code
    response.headers.update(error.headers())
    return response


def register_api(app: Flask) -> None:
    """Register the blueprints, the error handlers and the OpenAPI document."""
    from . import actions, hooks, meta, triggers

    app.url_map.converters["subscription_id"] = SubscriptionIdConverter

    app.config.setdefault("API_TITLE", "TikTok connector")
    app.config.setdefault("API_VERSION", __version__)
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = ConnectorApi(
        app,
        spec_kwargs={
            "extra_plugins": [PlatformHeadersPlugin()],
            "components": {
                "securitySchemes": {
                    "upstreamKey": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "Your own key for the upstream TikTok data API.",
                    }
                }
            },
        },
    )
    # Its two forms (a number, or blank for "not given") are in its own metadata.
    api.register_field(Count, None, None)
    for module in (meta, actions, triggers, hooks):
        api.register_blueprint(module.blp)
    _document_schema_rules(api)
    app.register_error_handler(ConnectorError, handle_connector_error)
    app.register_error_handler(Exception, _handle_unexpected)
    app.before_request(_begin)
    app.before_request(_refuse_large_bodies)
    app.before_request(_check_key_first)
    app.after_request(_finish)
    app.teardown_request(_end)


def _document_schema_rules(api: Api) -> None:
    """Add to the OpenAPI components what marshmallow fields cannot express (a schema's
    ``openapi_extra``, e.g. exactly one of two properties)."""
    from .. import schemas

    for name in schemas.__all__:
        schema = getattr(schemas, name)
        extra = getattr(schema, "openapi_extra", None)
        component = api.spec.components.schemas.get(name.removesuffix("Schema"))
        if extra and component is not None:
            component.update(extra)


def _handle_unexpected(error: Exception) -> Response:
    # HTTPExceptions never get here: the Api's handler for them is more specific. Exception
    # text can quote anything, a key included: the log handler redacts every secret in play.
    trace = "".join(traceback.format_exception(error))
    log.error("unhandled error on %s %s\n%s", request.method, request.path, trace)
    response = jsonify({"error": "Internal error; it has been logged.", "code": "internal_error"})
    response.status_code = 500
    return response


def _check_key_first() -> None:
    """A route the OpenAPI document marks as needing a key answers 401 without one, before its
    input is read: what the document says is what the server enforces."""
    view = current_app.view_functions.get(request.endpoint or "")
    documented = getattr(view, "_apidoc", {}).get("manual_doc", {})  # flask-smorest's record
    if any(SECURITY in requirement for requirement in documented.get("security", [])):
        current_caller()


def _begin() -> None:
    g.started = time.perf_counter()
    g.arrived = time.monotonic()  # time budgets count from here
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    logs.begin_request(g.request_id)


def _refuse_large_bodies() -> None:
    """A body declared larger than MAX_CONTENT_LENGTH is refused before a byte of it is read,
    key or no key (a body sent in chunks is cut off where it passes the limit)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None:
        return
    if (request.content_length or 0) > limit:
        raise RequestTooLarge(_too_large(limit))
    if request.content_length is None and request.headers.get("Transfer-Encoding"):
        # Werkzeug stops reading such a stream at the limit but quietly hands on what it
        # read, which could even parse: read it now (cached for the route), and refuse it
        # when it reaches the limit.
        if len(request.get_data(cache=True)) >= limit:
            raise RequestTooLarge(_too_large(limit))


def _too_large(limit: int | None) -> str:
    limit = limit or current_app.config.get("MAX_CONTENT_LENGTH")
    return (
        f"The request body is larger than this server accepts ({limit} bytes); the "
        "connector's inputs are a few short fields."
    )


def _finish(response: Response) -> Response:
    _redact(response)
    response.headers["X-Request-Id"] = g.get("request_id") or "-"
    _log_request(response)
    return response


def _end(error: BaseException | None) -> None:
    logs.end_request()


def operator_secrets(rt: Runtime) -> set[str]:
    """The server's own secrets: provider keys, access tokens, the secret key."""
    found = {*rt.server_keys.values(), *rt.access_tokens, rt.settings.secret_key or ""}
    return found - {""}


def _redact(response: Response) -> None:
    """The one place answers are redacted: the operator's secrets leave in no answer, and the
    caller's own keys in no error (upstream's messages may quote whatever key it received)."""
    if response.direct_passthrough or response.is_streamed:
        return  # files and streams: nothing of ours, and reading them here would be costly
    secrets = operator_secrets(runtime())
    if response.status_code >= 400:
        secrets |= logs.secrets_in_play()
    if not secrets:
        return
    data = response.get_data()
    # As each secret appears in JSON text (escaped) or in plain text.
    present = {s for s in secrets if _json_text(s) in data or s.encode() in data}
    if not present:
        return
    if response.is_json:
        clean = _scrub(json.loads(data), present)
        response.set_data(current_app.json.dumps(clean, separators=(",", ":")) + "\n")
    else:
        response.set_data(logs.redact(data.decode("utf-8", "replace"), present))


def _json_text(secret: str) -> bytes:
    return json.dumps(secret)[1:-1].encode()


def _scrub(value: t.Any, secrets: set[str]) -> t.Any:
    if isinstance(value, str):
        return logs.redact(value, secrets)
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    if isinstance(value, dict):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    return value


def _log_request(response: Response) -> None:
    """The access log: one line per request."""
    elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    caller = g.get("caller")
    source = caller.request_source if caller else "-"
    tenant = caller.tenant[:8] if caller else "-"
    log.info(
        "%s %s %s %.0fms source=%s tenant=%s",
        request.method,
        request.path,
        response.status_code,
        elapsed,
        source,
        tenant,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(elapsed, 1),
            "source": source,
            "tenant": tenant,
        },
    )


def _code(error: HTTPException) -> str:
    if error.code == 400:
        return "invalid_input"
    return (error.name or "error").lower().replace(" ", "_").replace("'", "")


def _unnest(messages: t.Any) -> t.Any:
    if isinstance(messages, dict) and len(messages) == 1:
        (location,) = messages
        if location in ("json", "query", "form", "headers", "json_or_form"):
            return messages[location]
    return messages


def _summarize(details: t.Any) -> str:
    if isinstance(details, list):
        return " ".join(map(str, details))
    if not isinstance(details, dict):
        return str(details)
    parts = []
    for field, problems in details.items():
        text = "; ".join(map(str, problems)) if isinstance(problems, list) else str(problems)
        parts.append(text if field == "_schema" else f"{field}: {text}")
    return " ".join(parts)

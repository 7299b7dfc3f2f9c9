"""The HTTP API: blueprints, the one error payload, request logging."""

from __future__ import annotations

import logging
import time
import traceback
import typing as t

from flask import Flask, current_app, g, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from .. import __version__
from ..errors import ConnectorError
from ..schemas import ErrorSchema
from .caller import current_caller
from .docs import SECURITY, PlatformHeadersPlugin

if t.TYPE_CHECKING:
    from flask import Response

log = logging.getLogger("connector.api")


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
    for module in (meta, actions, triggers, hooks):
        api.register_blueprint(module.blp)
    _document_schema_rules(api)
    app.register_error_handler(ConnectorError, handle_connector_error)
    app.register_error_handler(Exception, _handle_unexpected)
    app.before_request(_start_timer)
    app.before_request(_check_key_first)
    app.after_request(_log_request)


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
    # HTTPExceptions never get here: the Api's handler for them is more specific.
    trace = "".join(traceback.format_exception(error))
    caller = g.get("caller")
    if caller is not None:
        # Exception text can quote anything, including a key.
        for secret in caller.secrets:
            trace = trace.replace(secret, "[redacted]")
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


def _start_timer() -> None:
    g.started = time.perf_counter()
    g.arrived = time.monotonic()  # time budgets count from here


def _log_request(response: Response) -> Response:
    elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    caller = g.get("caller")
    log.info(
        "%s %s %s %.0fms source=%s tenant=%s",
        request.method,
        request.path,
        response.status_code,
        elapsed,
        caller.request_source if caller else "-",
        caller.tenant[:8] if caller else "-",
    )
    return response


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

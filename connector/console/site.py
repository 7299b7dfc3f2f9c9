"""The landing page, the API reference (Swagger UI from the swagger-ui-bundle package) and
``GET /metrics``."""

from __future__ import annotations

import hashlib
import hmac

import swagger_ui_bundle
from flask import Blueprint, Response, abort, render_template, request, send_from_directory

from .. import __version__
from ..metrics import CONTENT_TYPE
from .state import runtime

blp = Blueprint(
    "site", __name__, template_folder="templates", static_folder="static", static_url_path="/assets"
)

# The files of the bundle the reference page uses; nothing else of the package is served.
SWAGGER_FILES = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"}
)
LANDING_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'"
# Swagger UI sets inline styles and fetches the document from here; it calls nothing else.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


@blp.get("/")
def landing() -> Response:
    """What a browser opening the server's address sees: where to go next."""
    settings = runtime().settings
    response = Response(
        render_template(
            "site/landing.html",
            version=__version__,
            sandbox=settings.sandbox,
            console_open=settings.admin_token is not None,
        )
    )
    response.headers["Content-Security-Policy"] = LANDING_CSP
    return response


@blp.get("/docs")
def docs() -> Response:
    response = Response(render_template("site/docs.html", version=__version__))
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


@blp.get("/docs/assets/<name>")
def docs_asset(name: str) -> Response:
    if name not in SWAGGER_FILES:
        abort(404)
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, name, max_age=3600)


@blp.get("/metrics")
def metrics() -> Response:
    """Prometheus' text format; with ``CONNECTOR_METRICS_TOKEN``, for its bearer only."""
    rt = runtime()
    token = rt.settings.metrics_token
    if token is not None and not _bearer_is(token):
        return Response(
            "Send the metrics token as 'Authorization: Bearer <token>'.\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    return Response(rt.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


def _bearer_is(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(
        hashlib.sha256(given.strip().encode()).digest(), hashlib.sha256(token.encode()).digest()
    )

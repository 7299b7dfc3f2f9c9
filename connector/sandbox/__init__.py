"""The built-in sandbox upstream: a real HTTP app answering as the providers' public
API documentation says.

``connector serve --sandbox`` runs it beside the connector so that every endpoint works
with no key and no network; tests run it as a real server on 127.0.0.1.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from .world import Fault, World


def create_sandbox_app(world: World | None = None) -> Flask:
    """A Flask app serving the three providers' endpoints and the ``/_sandbox`` control API.

    DumplingAI answers at the root (``/api/v1/...``), API Direct at ``/v1/tiktok/video`` and
    the By-Handle API under ``/dev/tiktok``: see :func:`base_urls`.
    """
    from . import apidirect, byhandle, control, dumplingai

    app = Flask("connector.sandbox")
    app.extensions["sandbox_world"] = world or World()
    app.register_blueprint(dumplingai.blp)
    app.register_blueprint(apidirect.blp)
    app.register_blueprint(byhandle.blp)
    app.register_blueprint(control.blp)

    @app.errorhandler(HTTPException)
    def as_json(error: HTTPException) -> Response:
        response = jsonify({"error": error.description})
        response.status_code = error.code or 500
        return response

    return app


def base_urls(root: str) -> dict[str, str]:
    """Settings pointing every provider at a sandbox served at ``root``."""
    return {
        "DUMPLINGAI_BASE_URL": root,
        "APIDIRECT_BASE_URL": root,
        "BYHANDLE_BASE_URL": f"{root}/dev/tiktok",
    }


__all__ = ["Fault", "World", "base_urls", "create_sandbox_app"]

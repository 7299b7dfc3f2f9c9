"""The built-in sandbox upstream: a real HTTP app answering as the seed documents say.

``connector serve --sandbox`` runs it beside the connector so that every endpoint works
with no key and no network; tests run it as a real server on 127.0.0.1.
"""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from .world import Fault, World


def create_sandbox_app(world: World | None = None) -> Flask:
    """A Flask app serving the DumplingAI endpoints and the ``/_sandbox`` control API."""
    from . import control, dumplingai

    app = Flask("connector.sandbox")
    app.extensions["sandbox_world"] = world or World()
    app.register_blueprint(dumplingai.blp)
    app.register_blueprint(control.blp)

    @app.errorhandler(HTTPException)
    def as_json(error: HTTPException) -> tuple[object, int]:
        return jsonify({"error": error.description}), error.code or 500

    return app


__all__ = ["Fault", "World", "create_sandbox_app"]

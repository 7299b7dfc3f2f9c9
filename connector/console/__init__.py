"""Pages for people and for Prometheus: the landing page, the API reference, the operator
console and ``GET /metrics``.

Server-rendered with Jinja and one stylesheet; the console runs no JavaScript, and the API
reference runs Swagger UI from the ``swagger-ui-bundle`` package. Nothing is loaded from
the internet.
"""

from __future__ import annotations

import typing as t

from . import filters, instrument, sandbox, site, views
from .state import ConsoleState

if t.TYPE_CHECKING:
    from flask import Flask


def register_console(app: Flask) -> None:
    """Register the pages, /metrics and the request counters on ``app``."""
    app.extensions["console"] = ConsoleState()
    app.jinja_env.filters.update(filters.FILTERS)
    app.register_blueprint(site.blp)
    app.register_blueprint(views.blp)
    app.register_blueprint(sandbox.blp)
    instrument.init_app(app)


__all__ = ["register_console"]

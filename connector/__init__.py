"""TikTok triggers and actions for Zapier, Make and n8n."""

from __future__ import annotations

import sys
import typing as t

from flask import Flask

# httpx imports its command-line client whenever rich and pygments are installed (a test or
# tooling environment): ~70 modules and 6 MB in every worker, for a command the connector
# never runs. A None entry makes that import fail, and httpx then goes without it.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

__version__ = "0.1.0"


def create_app(test_config: t.Mapping[str, t.Any] | None = None) -> Flask:
    """Build the connector app.

    Settings: :class:`connector.config.Settings` defaults, then ``CONNECTOR_*`` environment
    variables, then ``test_config`` (names without the prefix).

    :raises ConfigError: when the settings cannot work.
    """
    from . import logs
    from .api import operator_secrets, register_api
    from .config import Settings
    from .console import register_console
    from .runtime import Runtime

    app = Flask(__name__)
    # Keep fields in schema order (id first), as people read them in a zap's field picker.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    settings = Settings.load(test_config)
    # Werkzeug refuses to read a body past this (413); granian streams bodies to the app.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_size
    runtime = Runtime(settings)
    logs.configure(settings.log_level, settings.log_format, operator_secrets(runtime))
    app.extensions["connector"] = runtime
    register_api(app)
    register_console(app)
    return app


__all__ = ["__version__", "create_app"]

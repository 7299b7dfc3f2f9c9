"""TikTok triggers and actions for Zapier, Make and n8n."""

from __future__ import annotations

import logging
import typing as t

from flask import Flask

__version__ = "0.1.0"


def create_app(test_config: t.Mapping[str, t.Any] | None = None) -> Flask:
    """Build the connector app.

    Settings: :data:`connector.config.DEFAULTS`, then ``CONNECTOR_*`` environment variables,
    then ``test_config``.

    :raises ConfigError: when the settings cannot work.
    """
    from . import config
    from .api import register_api
    from .runtime import Runtime

    app = Flask(__name__)
    # Keep fields in schema order (id first), as people read them in a zap's field picker.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_prefixed_env("CONNECTOR")
    if test_config is not None:
        app.config.from_mapping(test_config)
    config.validate(app.config)
    app.logger.setLevel(getattr(logging, str(app.config["LOG_LEVEL"]).upper(), logging.INFO))
    app.extensions["connector"] = Runtime(app.config)
    register_api(app)
    return app


__all__ = ["__version__", "create_app"]

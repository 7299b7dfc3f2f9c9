"""A WSGI app that answers with the text values of the environ it was called with, for
tests to see what a server hands an app (as granian targets: factories)."""

from __future__ import annotations

import json
import typing as t

from connector.serving import without_process_environment


def probe(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    seen = {name: value for name, value in environ.items() if isinstance(value, str)}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


def as_served() -> t.Any:
    """The probe as ``connector serve`` wraps the connector's app."""
    return without_process_environment(probe)


def bare() -> t.Any:
    return probe

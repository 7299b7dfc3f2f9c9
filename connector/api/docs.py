"""OpenAPI documentation shared by the authenticated endpoints."""

from __future__ import annotations

import typing as t

from ..platforms import REQUEST_SOURCES
from ..providers import PROVIDERS

AUTHENTICATED: dict[str, t.Any] = {
    "security": [{"upstreamKey": []}],
    "parameters": [
        {
            "in": "header",
            "name": "X-Request-Source",
            "required": False,
            "description": "The calling platform, forwarded upstream as requestSource "
            "(default: recognised from the User-Agent, else API).",
            "schema": {"type": "string", "enum": list(REQUEST_SOURCES)},
        },
        {
            "in": "header",
            "name": "X-Provider",
            "required": False,
            "description": "Which upstream provider the key is for (default: the server's).",
            "schema": {"type": "string", "enum": list(PROVIDERS)},
        },
    ],
}
